/* SPDX-License-Identifier: ISC */
#include "bitnet_family.h"

#include <stddef.h>
#include <string.h>

static const struct bitnet_family_row families[BITNET_N_FAMILIES] = {
	[BITNET_FAMILY_BITNET] = {
		.id = BITNET_FAMILY_BITNET, .name = "BitNet b1.58",
		.model_type = "bitnet", .architecture = "BitNetForCausalLM",
		.hidden_act = "relu2", .act = BITNET_ACT_RELU2,
		.act_why = "the BitNet graph computes relu2 (relu(x) squared) "
		    "only",
		.sub_norms = 1, .rope_scaling = 1,
		.rope_theta = 500000.0, .rms_norm_eps = 1e-5,
		.bos_token_id = 128000, .kv_heads = 5,
		.config_keys = "{\"quantization_config\": {\"quant_method\": "
		    "\"bitnet\", \"linear_class\": \"autobitlinear\", "
		    "\"quantization_mode\": \"offline\"}}",
	},
	[BITNET_FAMILY_LLAMA] = {
		.id = BITNET_FAMILY_LLAMA, .name = "Llama",
		.model_type = "llama", .architecture = "LlamaForCausalLM",
		.needs_quant_method = 1,
		.hidden_act = "silu", .act = BITNET_ACT_SILU,
		.act_why = "the Llama BitNet graph computes silu only",
		.rope_scaling = 1, .free_head_dim = 1, .mlp_bias_key = 1,
		.rope_theta = 10000.0, .rms_norm_eps = 1e-6,
		.bos_token_id = 1,
		.config_keys = "{\"quantization_config\": {\"quant_method\": "
		    "\"bitnet\"}}",
	},
	[BITNET_FAMILY_1BITLLM] = {
		.id = BITNET_FAMILY_1BITLLM, .name = "1bitLLM",
		.model_type = "llama", .architecture = "BitnetForCausalLM",
		.known_by_architecture = 1,
		.hidden_act = "silu", .act = BITNET_ACT_SILU,
		.act_why = "the Llama BitNet graph computes silu only",
		.sub_norms = 1, .alt_names = 1, .saved_rotary = 1,
		.free_head_dim = 1, .mlp_bias_key = 1,
		.rope_theta = 10000.0, .rms_norm_eps = 1e-6,
		.bos_token_id = 1,
		.config_keys = "{\"weight_bits\": 1, \"input_bits\": 8}",
	},
};

const struct bitnet_family_row *
bitnet_family_of(enum bitnet_family f)
{
	return &families[(unsigned)f < BITNET_N_FAMILIES ? f : 0];
}

const struct bitnet_family_row *
bitnet_family_recognize(const char *model_type, const char *architecture)
{
	const struct bitnet_family_row *by_type = NULL;

	for (size_t i = 0; model_type != NULL && i < BITNET_N_FAMILIES; i++) {
		const struct bitnet_family_row *f = &families[i];

		if (strcmp(f->model_type, model_type) != 0)
			continue;
		if (!f->known_by_architecture && by_type == NULL)
			by_type = f;
		else if (f->known_by_architecture && architecture != NULL &&
		    strcmp(f->architecture, architecture) == 0)
			return f;
	}
	return by_type;
}
