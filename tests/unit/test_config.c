/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_family.h"
#include "bitnet_names.h"
#include "unit.h"

static const char *full =
    "{\"architectures\": [\"BitNetForCausalLM\"], \"model_type\": \"bitnet\","
    " \"hidden_size\": 2560, \"num_hidden_layers\": 30,"
    " \"num_attention_heads\": 20, \"num_key_value_heads\": 5,"
    " \"intermediate_size\": 6912, \"vocab_size\": 128256,"
    " \"hidden_act\": \"relu2\", \"rope_theta\": 500000.0,"
    " \"rms_norm_eps\": 1e-05, \"max_position_embeddings\": 4096,"
    " \"tie_word_embeddings\": true, \"bos_token_id\": 128000,"
    " \"eos_token_id\": [128001, 128009],"
    " \"quantization_config\": {\"quant_method\": \"bitnet\","
    " \"linear_class\": \"autobitlinear\","
    " \"quantization_mode\": \"offline\"}}";

static void
expect_error(const char *json, const char *needle)
{
	Tstream__ModelConfig *c = NULL;
	struct diag d = { 0 };

	ck_assert_int_eq(bitnet_config_parse(json, strlen(json), "cfg.json",
	    &c, &d), -1);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(d.msg, needle) && strstr(d.msg, "cfg.json"),
	    "'%s' lacks '%s'", d.msg, needle);
}

/* The config json parses; the caller frees it. */
static Tstream__ModelConfig *
parse_ok(const char *json)
{
	Tstream__ModelConfig *c = NULL;
	struct diag d = { 0 };

	ck_assert_msg(bitnet_config_parse(json, strlen(json), "cfg.json", &c,
	    &d) == 0, "%s", d.msg);
	return c;
}

START_TEST(the_2b4t_config)
{
	Tstream__ModelConfig *c = parse_ok(full);

	ck_assert_uint_eq(c->hidden_size, 2560);
	ck_assert_uint_eq(c->head_dim, 128);
	ck_assert_uint_eq(c->num_key_value_heads, 5);
	ck_assert(c->tie_word_embeddings);
	ck_assert_double_eq(c->rope_theta, 500000.0);
	ck_assert_uint_eq(c->n_eos_token_id, 2);
	ck_assert_int_eq(c->eos_token_id[1], 128009);
	ck_assert_str_eq(c->linear_class, "autobitlinear");
	ck_assert(!bitnet_config_scale_divides(c));
	bitnet_config_free(c);
}
END_TEST

START_TEST(defaults)
{
	const char *j = "{\"model_type\": \"bitnet\", \"hidden_size\": 64,"
	    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
	    " \"num_key_value_heads\": 2, \"intermediate_size\": 96,"
	    " \"vocab_size\": 100, \"quantization_config\":"
	    " {\"quant_method\": \"bitnet\"}}";
	Tstream__ModelConfig *c = parse_ok(j);

	ck_assert_str_eq(c->hidden_act, "relu2");
	ck_assert_double_eq(c->rope_theta, 500000.0);
	ck_assert_double_eq_tol(c->rms_norm_eps, 1e-5, 1e-12);
	ck_assert(!c->tie_word_embeddings);
	ck_assert_uint_eq(c->head_dim, 16);
	/* BitNetQuantConfig's default class is BitLinear: scale divides */
	ck_assert_str_eq(c->linear_class, "bitlinear");
	ck_assert_str_eq(c->quantization_mode, "offline");
	ck_assert(bitnet_config_scale_divides(c));
	bitnet_config_free(c);
}
END_TEST

START_TEST(bad_configs)
{
	expect_error("{\"model_type\": \"bitnet\"", "invalid JSON");
	expect_error("[]", "expected a JSON object");
	expect_error("{\"model_type\": \"llama\"}", "'llama'");
	expect_error("{\"model_type\": \"bitnet\", \"num_hidden_layers\": 2,"
	    " \"num_attention_heads\": 4, \"intermediate_size\": 8,"
	    " \"vocab_size\": 10}", "'hidden_size' is missing");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": \"64\"}",
	    "found a string");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": -4}",
	    "'hidden_size'");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": 64,"
	    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
	    " \"num_key_value_heads\": 3, \"intermediate_size\": 8,"
	    " \"vocab_size\": 10}", "not a multiple");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": 64,"
	    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
	    " \"num_key_value_heads\": 2, \"intermediate_size\": 8,"
	    " \"vocab_size\": 10, \"quantization_config\": {\"quant_method\":"
	    " \"bitnet\", \"linear_class\": \"fancy\"}}", "'fancy'");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": 64,"
	    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
	    " \"num_key_value_heads\": 2, \"intermediate_size\": 8,"
	    " \"vocab_size\": 10, \"quantization_config\": {\"quant_method\":"
	    " \"gptq\"}}", "'gptq'");
	expect_error("{\"model_type\": \"bitnet\", \"model_type\": \"bitnet\"}",
	    "invalid JSON");
}
END_TEST

/* A valid base config with one more key/value spliced in. */
static void
expect_key_error(const char *kv, const char *needle)
{
	char json[1024];

	snprintf(json, sizeof json, "{\"model_type\": \"bitnet\", "
	    "\"hidden_size\": 64, \"num_hidden_layers\": 2, "
	    "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
	    "\"intermediate_size\": 96, \"vocab_size\": 100, %s}", kv);
	expect_error(json, needle);
}

START_TEST(bad_key_types)
{
	expect_key_error("\"rope_theta\": \"big\"", "'rope_theta'");
	expect_key_error("\"rms_norm_eps\": -1", "'rms_norm_eps'");
	expect_key_error("\"tie_word_embeddings\": 1",
	    "'tie_word_embeddings': expected a boolean");
	expect_key_error("\"bos_token_id\": \"<s>\"", "'bos_token_id'");
	expect_key_error("\"eos_token_id\": {}", "'eos_token_id'");
	expect_key_error("\"eos_token_id\": [1, \"x\"]", "element 1");
	expect_key_error("\"hidden_act\": 3", "'hidden_act': expected a string");
	expect_key_error("\"head_dim\": 0", "'head_dim'");
	expect_key_error("\"max_position_embeddings\": 1.5",
	    "'max_position_embeddings'");
	expect_key_error("\"quantization_config\": []",
	    "'quantization_config': expected an object");
	expect_key_error("\"quantization_config\": {}",
	    "'quant_method' is missing");
	expect_key_error("\"quantization_config\": {\"quant_method\": "
	    "\"bitnet\", \"quantization_mode\": \"lazy\"}", "'lazy'");
	expect_key_error("\"quantization_config\": {\"quant_method\": 7}",
	    "expected a string");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": 60, "
	    "\"num_hidden_layers\": 2, \"num_attention_heads\": 7, "
	    "\"num_key_value_heads\": 7, \"intermediate_size\": 96, "
	    "\"vocab_size\": 100}", "not a multiple of num_attention_heads");
}
END_TEST

START_TEST(computation_keys_refused)
{
	expect_key_error("\"hidden_act\": \"silu\"", "hidden_act is \"silu\"");
	expect_key_error("\"rope_scaling\": {\"type\": \"linear\", "
	    "\"factor\": 2}", "rope_scaling is");
	expect_key_error("\"rope_parameters\": {\"rope_type\": \"llama3\"}",
	    "rope_parameters is");
	expect_key_error("\"rope_theta\": 10, \"rope_parameters\": "
	    "{\"rope_theta\": 20}", "disagrees");
	expect_key_error("\"attention_bias\": true", "attention_bias");
	expect_key_error("\"head_dim\": 8", "is not hidden_size 64");
	expect_key_error("\"rms_norm_eps\": 1e-50", "float32");
	expect_key_error("\"rope_theta\": 1e40", "float32");
	expect_key_error("\"quantization_config\": {\"quant_method\": "
	    "\"bitnet\", \"use_rms_norm\": true}", "use_rms_norm");
	expect_key_error("\"quantization_config\": {\"quant_method\": "
	    "\"bitnet\", \"modules_to_not_convert\": [\"lm_head\", \"x\"]}",
	    "modules_to_not_convert");
	expect_error("{\"model_type\": \"bitnet\", \"hidden_size\": 60, "
	    "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
	    "\"num_key_value_heads\": 4, \"intermediate_size\": 96, "
	    "\"vocab_size\": 100}", "head_dim 15 is odd");
}
END_TEST

START_TEST(computation_keys_implemented)
{
	const char *j = "{\"model_type\": \"bitnet\", \"hidden_size\": 64,"
	    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
	    " \"num_key_value_heads\": null, \"intermediate_size\": 96,"
	    " \"vocab_size\": 100, \"rope_scaling\": null, \"rope_parameters\":"
	    " {\"rope_type\": \"default\", \"rope_theta\": 10000.0},"
	    " \"attention_bias\": false, \"quantization_config\":"
	    " {\"quant_method\": \"bitnet\", \"use_rms_norm\": false,"
	    " \"modules_to_not_convert\": [\"lm_head\"]}}";
	Tstream__ModelConfig *c = parse_ok(j);

	ck_assert_double_eq(c->rope_theta, 10000.0);
	ck_assert_uint_eq(c->num_key_value_heads, 4);
	bitnet_config_free(c);
}
END_TEST

/* A family is known by its model_type, 1bitLLM's also by its
 * architecture; its row decides its parts and spellings. */
START_TEST(family_rows)
{
	const struct bitnet_family_row *f;
	char name[BITNET_NAME_MAX];

	f = bitnet_family_recognize("llama", "BitnetForCausalLM");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->id, BITNET_FAMILY_1BITLLM);
	ck_assert_int_eq(bitnet_family_recognize("llama",
	    "LlamaForCausalLM")->id, BITNET_FAMILY_LLAMA);
	ck_assert_int_eq(bitnet_family_recognize("llama", NULL)->id,
	    BITNET_FAMILY_LLAMA);
	ck_assert_int_eq(bitnet_family_recognize("bitnet",
	    "BitnetForCausalLM")->id, BITNET_FAMILY_BITNET);
	ck_assert_ptr_null(bitnet_family_recognize("gpt2", NULL));
	ck_assert_ptr_null(bitnet_family_recognize(NULL, NULL));
	for (int i = 0; i < BITNET_N_FAMILIES; i++)
		ck_assert_int_eq(bitnet_family_of((enum bitnet_family)i)->id,
		    i);
	ck_assert(!bitnet_family_has_part(BITNET_FAMILY_LLAMA,
	    BITNET_FFN_SUB_NORM));
	ck_assert(bitnet_family_has_part(BITNET_FAMILY_LLAMA,
	    BITNET_DOWN_PROJ));
	ck_assert(bitnet_family_has_part(BITNET_FAMILY_1BITLLM,
	    BITNET_ATTN_SUB_NORM));
	ck_assert_str_eq(bitnet_layer_name(BITNET_FAMILY_1BITLLM, 3,
	    BITNET_ATTN_SUB_NORM, name, sizeof name),
	    "model.layers.3.self_attn.inner_attn_ln.weight");
	ck_assert_str_eq(bitnet_layer_name(BITNET_FAMILY_BITNET, 3,
	    BITNET_ATTN_SUB_NORM, name, sizeof name),
	    "model.layers.3.self_attn.attn_sub_norm.weight");
	ck_assert_int_eq(bitnet_family_of(BITNET_FAMILY_BITNET)->act,
	    BITNET_ACT_RELU2);
}
END_TEST

Suite *
suite_config(void)
{
	return UNIT_SUITE("config", the_2b4t_config, defaults, bad_configs,
	    bad_key_types, computation_keys_refused,
	    computation_keys_implemented, family_rows);
}
