/* SPDX-License-Identifier: ISC */
/*
 * bitnet_names.h - the Hugging Face tensor names of a BitNet model and
 * their model order: embedding, layers 0..N (each in the order the
 * forward pass uses them), final norm, head, then anything else.
 */
#ifndef BN_BITNET_NAMES_H
#define BN_BITNET_NAMES_H

enum bitnet_group {
	BITNET_GROUP_EMBED,
	BITNET_GROUP_LAYER,
	BITNET_GROUP_NORM,
	BITNET_GROUP_HEAD,
	BITNET_GROUP_OTHER
};

/* The tensors a layer holds (weights; projections also have a scale). */
#define BITNET_LAYER_TENSORS 11

/* Which config size a dimension of a layer tensor is: 'h' hidden_size,
 * 'q' heads * head_dim, 'k' kv_heads * head_dim, 'f' intermediate_size;
 * 0 for no dimension. */
struct bitnet_name {
	enum bitnet_group group;
	long layer;	/* -1 outside the layers */
	int rank;	/* place within the layer; unknown names sort last */
	int is_projection;	/* a BitLinear weight */
	int is_scale;		/* a BitLinear weight_scale */
	int is_compact_scales;	/* the scales of an int8 or q2 projection */
	char rows, cols;	/* of a known layer weight (rows alone for
				 * nbits scales; none for a weight_scale) */
};

void bitnet_name_parse(const char *name, struct bitnet_name *out);

/* strcmp-like comparison in model order (ties broken by name). */
int bitnet_name_cmp(const char *a, const char *b);

/* Suffix of a weight_scale companion: "weight" + "_scale". */
#define BITNET_SCALE_SUFFIX "_scale"
/* Suffix of the scales tensor of an int8 or q2 weight (compact.h). */
#define BITNET_SCALES_SUFFIX ".scales"

#endif
