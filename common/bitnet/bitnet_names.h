/* SPDX-License-Identifier: ISC */
/*
 * bitnet_names.h - the Hugging Face tensor names of a BitNet model and
 * their model order: embedding, layers 0..N (each in the order the
 * forward pass uses them), final norm, head, then anything else.
 */
#ifndef BN_BITNET_NAMES_H
#define BN_BITNET_NAMES_H

#include <stddef.h>

#include "bitnet_family.h"

enum bitnet_group {
	BITNET_GROUP_EMBED,
	BITNET_GROUP_LAYER,
	BITNET_GROUP_NORM,
	BITNET_GROUP_HEAD,
	BITNET_GROUP_OTHER
};

/* The tensors a layer holds, in forward order (projections are
 * BitLinear weights and also have a weight_scale). */
enum bitnet_layer_part {
	BITNET_INPUT_NORM,	/* input_layernorm */
	BITNET_Q_PROJ,		/* self_attn.q_proj */
	BITNET_K_PROJ,		/* self_attn.k_proj */
	BITNET_V_PROJ,		/* self_attn.v_proj */
	BITNET_ATTN_SUB_NORM,	/* self_attn.attn_sub_norm */
	BITNET_O_PROJ,		/* self_attn.o_proj */
	BITNET_POST_NORM,	/* post_attention_layernorm */
	BITNET_GATE_PROJ,	/* mlp.gate_proj */
	BITNET_UP_PROJ,		/* mlp.up_proj */
	BITNET_FFN_SUB_NORM,	/* mlp.ffn_sub_norm */
	BITNET_DOWN_PROJ,	/* mlp.down_proj */
	BITNET_LAYER_TENSORS
};

/* A layer's saved RoPE frequencies (1bitLLM), after its tensors. */
#define BITNET_ROTARY_SUFFIX	"self_attn.rotary_emb.inv_freq"

/* The names outside the layers. */
#define BITNET_EMBED_NAME	"model.embed_tokens.weight"
#define BITNET_NORM_NAME	"model.norm.weight"
#define BITNET_HEAD_NAME	"lm_head.weight"
/* Longest name bitnet_layer_name writes, with its NUL. */
#define BITNET_NAME_MAX		64

/* "model.layers.L.PART.weight" as family f spells it into buf[len]
 * (len >= BITNET_NAME_MAX); buf is returned. */
const char *bitnet_layer_name(enum bitnet_family f, unsigned layer,
    enum bitnet_layer_part part, char *buf, size_t len);

/* Does family f have layer part p?  (Only those with sub_norms have the
 * sub-norms.) */
int bitnet_family_has_part(enum bitnet_family f, enum bitnet_layer_part p);

/* Which config size a dimension of a layer tensor is: 'h' hidden_size,
 * 'q' heads * head_dim, 'k' kv_heads * head_dim, 'f' intermediate_size;
 * 0 for no dimension. */
struct bitnet_name {
	enum bitnet_group group;
	long layer;	/* -1 outside the layers */
	int rank;	/* place within the layer; unknown names sort last */
	int part;	/* enum bitnet_layer_part of a layer tensor, or -1 */
	int is_projection;	/* a BitLinear weight */
	int is_scale;		/* a BitLinear weight_scale */
	int is_compact_scales;	/* the scales of an int8 or q2 projection,
				 * or of a block-q8 embedding or head */
	int is_rotary;		/* a layer's saved RoPE frequencies */
	char rows, cols;	/* of a known layer weight (rows alone for
				 * nbits scales; none for a weight_scale) */
};

void bitnet_name_parse(const char *name, struct bitnet_name *out);

/* strcmp-like comparison in model order (ties broken by name). */
int bitnet_name_cmp(const char *a, const char *b);

/* Suffix of the checkpoint's weight_scale companion of a BitLinear
 * weight: "...weight" + "_scale" (BitLinear's own tensor). */
#define BITNET_CKPT_SCALE_SUFFIX "_scale"
/* Suffix of the scales tensor that follows an int8 or q2 weight in our
 * stream (compact.h): "...weight" + ".scales". */
#define BITNET_FORM_SCALES_SUFFIX ".scales"

#endif
