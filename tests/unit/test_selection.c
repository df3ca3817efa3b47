/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "bitnet_names.h"
#include "selection.h"
#include "unit.h"

START_TEST(layer_lists)
{
	struct selection s = { 0 };
	struct diag d = { 0 };

	ck_assert_int_eq(selection_add_layers(&s, "0-3,29", &d), 0);
	ck_assert(selection_match(&s, "model.layers.0.mlp.up_proj.weight"));
	ck_assert(selection_match(&s, "model.layers.3.input_layernorm.weight"));
	ck_assert(!selection_match(&s, "model.layers.4.input_layernorm.weight"));
	ck_assert(selection_match(&s, "model.layers.29.mlp.down_proj.weight"));
	ck_assert(!selection_match(&s, "model.layers.2x.mlp.weight"));
	ck_assert(!selection_match(&s, "model.embed_tokens.weight"));
	ck_assert(!selection_match(&s, "model.norm.weight"));
	ck_assert_int_eq(selection_check_layers(&s, 30, &d), 0);
	ck_assert_int_eq(selection_check_layers(&s, 29, &d), -1);
	ck_assert_msg(strstr(d.msg, "layer 29") != NULL, "%s", d.msg);
	selection_free(&s);
}
END_TEST

START_TEST(bad_layer_lists)
{
	const char *bad[] = { "", "a", "3-", "-3", "1,,2", "3-1", "1 2", "2,",
	    "99999999999999999999" };
	struct selection s = { 0 };
	struct diag d = { 0 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(selection_add_layers(&s, bad[i], &d) == -1,
		    "'%s' accepted", bad[i]);
		ck_assert_int_eq(d.code, BN_EXIT_USAGE);
	}
	selection_free(&s);
}
END_TEST

START_TEST(globs_and_intersection)
{
	struct selection s = { 0 };
	struct diag d = { 0 };

	ck_assert(selection_is_empty(&s));
	ck_assert(selection_match(&s, "anything"));
	ck_assert_int_eq(selection_add_glob(&s, "*.q_proj.*", &d), 0);
	ck_assert_int_eq(selection_add_glob(&s, "model.embed_tokens.*", &d), 0);
	ck_assert(selection_match(&s, "model.layers.5.self_attn.q_proj.weight"));
	ck_assert(selection_match(&s, "model.embed_tokens.weight"));
	ck_assert(!selection_match(&s, "model.layers.5.self_attn.k_proj.weight"));
	ck_assert_int_eq(selection_add_layers(&s, "5", &d), 0);
	ck_assert(selection_match(&s, "model.layers.5.self_attn.q_proj.weight"));
	ck_assert(!selection_match(&s, "model.layers.6.self_attn.q_proj.weight"));
	ck_assert(!selection_match(&s, "model.embed_tokens.weight"));
	selection_free(&s);
}
END_TEST

START_TEST(model_order)
{
	const char *order[] = {
		"model.embed_tokens.weight",
		"model.layers.0.input_layernorm.weight",
		"model.layers.0.self_attn.q_proj.weight_scale",
		"model.layers.0.self_attn.q_proj.weight",
		"model.layers.0.self_attn.k_proj.weight",
		"model.layers.0.self_attn.v_proj.weight",
		"model.layers.0.self_attn.attn_sub_norm.weight",
		"model.layers.0.self_attn.o_proj.weight",
		"model.layers.0.post_attention_layernorm.weight",
		"model.layers.0.mlp.gate_proj.weight",
		"model.layers.0.mlp.up_proj.weight",
		"model.layers.0.mlp.ffn_sub_norm.weight",
		"model.layers.0.mlp.down_proj.weight",
		"model.layers.0.zz_unknown",
		"model.layers.2.input_layernorm.weight",
		"model.layers.10.input_layernorm.weight",
		"model.norm.weight",
		"lm_head.weight",
		"other.tensor",
	};
	size_t n = sizeof order / sizeof order[0];
	struct bitnet_name bn;

	for (size_t i = 0; i + 1 < n; i++)
		ck_assert_msg(bitnet_name_cmp(order[i], order[i + 1]) < 0,
		    "%s !< %s", order[i], order[i + 1]);
	bitnet_name_parse("model.layers.7.mlp.down_proj.weight", &bn);
	ck_assert(bn.is_projection && !bn.is_scale && bn.layer == 7);
	bitnet_name_parse("model.layers.7.mlp.down_proj.weight_scale", &bn);
	ck_assert(!bn.is_projection && bn.is_scale);
	bitnet_name_parse("model.layers.7.mlp.ffn_sub_norm.weight", &bn);
	ck_assert(!bn.is_projection);
}
END_TEST

Suite *
suite_selection(void)
{
	return UNIT_SUITE("selection", layer_lists, bad_layer_lists,
	    globs_and_intersection, model_order);
}
