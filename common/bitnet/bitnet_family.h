/* SPDX-License-Identifier: ISC */
/*
 * bitnet_family.h - the model families, one descriptor row each: how a
 * config names it, the defaults of its transformers config class, which
 * layer parts it has and how it spells them, and the one place its maths
 * differs (the MLP's activation).  The config parser, the tensor names,
 * onnx-emit's plan and graph and gguf-read's config.json all read these
 * rows; a family with no new maths is one more row.
 */
#ifndef BN_BITNET_FAMILY_H
#define BN_BITNET_FAMILY_H

#include <stdint.h>

/* Microsoft's BitNet b1.58 (model_type bitnet: relu2 MLP, sub-norms
 * before o_proj and down_proj); the Llama architecture with BitLinear
 * projections (model_type llama with quantization_config.quant_method
 * bitnet, as Llama3-8B-1.58 and Falcon3-1.58bit: no sub-norms); 1bitLLM's
 * bitnet_b1_58 (BitnetForCausalLM of model_type llama: float masters
 * quantized per tensor as it runs, sub-norms named inner_attn_ln and
 * ffn_layernorm, RoPE frequencies saved per layer). */
enum bitnet_family {
	BITNET_FAMILY_BITNET,
	BITNET_FAMILY_LLAMA,
	BITNET_FAMILY_1BITLLM,
	BITNET_N_FAMILIES
};

/* The MLP's gate: relu(gate)^2 * up, or silu(gate) * up. */
enum bitnet_activation { BITNET_ACT_RELU2, BITNET_ACT_SILU };

struct bitnet_family_row {
	enum bitnet_family id;
	const char *name;		/* for messages */
	const char *model_type;		/* config.json's */
	const char *architecture;	/* architectures[0] unless it says */
	int known_by_architecture;	/* only that architecture is it */
	int needs_quant_method;		/* without quantization_config's
					 * quant_method bitnet it is a plain
					 * model, not a BitNet one */
	const char *hidden_act;		/* the one activation it computes */
	const char *act_why;		/* why another is refused */
	enum bitnet_activation act;
	int sub_norms;			/* attn_sub_norm and ffn_sub_norm */
	int alt_names;			/* sub-norms spelt as 1bitLLM does */
	int saved_rotary;		/* a layer's RoPE inv_freq tensor */
	int rope_scaling;		/* llama3 rope_scaling applies */
	int free_head_dim;		/* heads * head_dim need not be
					 * hidden_size */
	int mlp_bias_key;		/* its config class has mlp_bias */
	/* the defaults of its config class */
	double rope_theta, rms_norm_eps;
	int64_t bos_token_id;
	uint32_t kv_heads;		/* num_key_value_heads; 0: the heads */
	/* a config.json written for it (gguf-read) says this beside its
	 * identity and sizes: a JSON object */
	const char *config_keys;
};

/* The row of f. */
const struct bitnet_family_row *bitnet_family_of(enum bitnet_family f);

/* The family a config of model_type and architecture (NULL: none) is;
 * NULL if none. */
const struct bitnet_family_row *bitnet_family_recognize(
    const char *model_type, const char *architecture);

#endif
