/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_graph.h"
#include "bitnet_names.h"
#include "bitnet_plan.h"
#include "unit.h"

/* A config of hidden 8, 2 layers, 2 heads / 1 kv of 4, ffn 12, vocab 5,
 * and a manifest any part of its model can be picked from. */
#define N_MAX (2 * BITNET_LAYER_TENSORS + 4)

struct model {
	Tstream__ModelConfig cfg;
	Tstream__StreamHeader h;
	Tstream__TensorInfo infos[N_MAX], *manifest[N_MAX];
	uint64_t shapes[N_MAX][2];
	char names[N_MAX][BITNET_NAME_MAX];
};

static void
model_init(struct model *m)
{
	memset(m, 0, sizeof *m);
	tstream__model_config__init(&m->cfg);
	m->cfg.hidden_size = 8;
	m->cfg.num_hidden_layers = 2;
	m->cfg.num_attention_heads = 2;
	m->cfg.num_key_value_heads = 1;
	m->cfg.head_dim = 4;
	m->cfg.intermediate_size = 12;
	m->cfg.vocab_size = 5;
	m->cfg.tie_word_embeddings = 1;
	tstream__stream_header__init(&m->h);
	m->h.config = &m->cfg;
	m->h.manifest = m->manifest;
}

/* Add an f32 tensor of the given shape (cols 0: a vector). */
static Tstream__TensorInfo *
add(struct model *m, const char *name, uint64_t rows, uint64_t cols)
{
	size_t i = m->h.n_manifest++;
	Tstream__TensorInfo *t = &m->infos[i];

	ck_assert_uint_lt(i, N_MAX);
	tstream__tensor_info__init(t);
	snprintf(m->names[i], sizeof m->names[i], "%s", name);
	t->name = m->names[i];
	t->dtype = TSTREAM__DTYPE__F32;
	t->encoding = TSTREAM__ENCODING__PLAIN;
	m->shapes[i][0] = rows;
	m->shapes[i][1] = cols;
	t->shape = m->shapes[i];
	t->n_shape = cols ? 2 : 1;
	t->payload_length = rows * (cols ? cols : 1) * 4;
	m->manifest[i] = t;
	return t;
}

static void
add_layer(struct model *m, unsigned l)
{
	static const uint64_t dims[BITNET_LAYER_TENSORS][2] = {
		{ 8, 0 }, { 8, 8 }, { 4, 8 }, { 4, 8 }, { 8, 0 }, { 8, 8 },
		{ 8, 0 }, { 12, 8 }, { 12, 8 }, { 12, 0 }, { 8, 12 },
	};
	char name[BITNET_NAME_MAX];

	for (int p = 0; p < BITNET_LAYER_TENSORS; p++)
		add(m, bitnet_layer_name(BITNET_FAMILY_BITNET, l,
		    (enum bitnet_layer_part)p, name,
		    sizeof name), dims[p][0], dims[p][1]);
}

static int
plan(struct model *m, struct bitnet_part *p, struct diag *d)
{
	memset(d, 0, sizeof *d);
	return bitnet_plan(&m->h, p, d);
}

START_TEST(each_part)
{
	struct bitnet_part p;
	struct diag d;
	struct model m;
	char buf[128];

	model_init(&m);
	add(&m, BITNET_EMBED_NAME, 5, 8);
	ck_assert_int_eq(plan(&m, &p, &d), 0);
	ck_assert_int_eq(p.kind, BITNET_EMBED);
	add(&m, BITNET_NORM_NAME, 8, 0);	/* tied: embed + norm = head */
	ck_assert_int_eq(plan(&m, &p, &d), 0);
	ck_assert_int_eq(p.kind, BITNET_HEAD);
	add_layer(&m, 0);
	add_layer(&m, 1);
	ck_assert_int_eq(plan(&m, &p, &d), 0);
	ck_assert_int_eq(p.kind, BITNET_WHOLE);
	ck_assert_str_eq(bitnet_part_describe(&p, buf, sizeof buf),
	    "whole model, 2 layers: input_ids -> logits");

	model_init(&m);
	add_layer(&m, 1);
	ck_assert_int_eq(plan(&m, &p, &d), 0);
	ck_assert_int_eq(p.kind, BITNET_BLOCKS);
	ck_assert_uint_eq(p.first, 1);
	ck_assert_uint_eq(p.last, 1);
	ck_assert_str_eq(bitnet_part_describe(&p, buf, sizeof buf),
	    "decoder block 1: hidden_states -> hidden_states_out");
}
END_TEST

START_TEST(refusals)
{
	/* onnx-emit's options, as bitnet_graph_refuse_opts takes them */
	const struct bitnet_graph_opts dflt = { .act_quant = 1,
	    .accuracy_level = -1 }, noq = { .act_quant = 0,
	    .accuracy_level = -1 }, lvl = { .act_quant = 1,
	    .accuracy_level = 4 }, gqa = { .act_quant = 1,
	    .accuracy_level = -1, .gqa = 1 };
	struct bitnet_part p;
	struct diag d;
	struct model m;
	Tstream__TensorInfo *t;

	model_init(&m);	/* a layer short of a tensor */
	add_layer(&m, 0);
	m.h.n_manifest--;
	ck_assert_int_eq(plan(&m, &p, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "layer 0 has 10 of its 11"));

	model_init(&m);	/* a wrong shape */
	add(&m, BITNET_NORM_NAME, 9, 0);
	ck_assert_int_eq(plan(&m, &p, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "has shape [9]; the config "
	    "implies [8]"));

	model_init(&m);	/* a layer past the config's */
	add_layer(&m, 2);
	ck_assert_int_eq(plan(&m, &p, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "is not part of a BitNet"));

	model_init(&m);	/* an int8 projection without its scales */
	add_layer(&m, 0);
	t = m.manifest[1];
	t->dtype = TSTREAM__DTYPE__I8;
	t->encoding = TSTREAM__ENCODING__TERNARY_INT8;
	ck_assert_int_eq(plan(&m, &p, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "comes without its scales"));
	add(&m, "model.layers.0.self_attn.q_proj.weight.scales", 1, 0);
	ck_assert_int_eq(plan(&m, &p, &d), 0);
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &noq, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "is ternary-int8, whose integer"));
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &lvl, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "is ternary-int8, and no "
	    "projection is ternary-q2,"));
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &dflt, &d), 0);
	t->encoding = TSTREAM__ENCODING__TERNARY_Q2_SLOT;
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &noq, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "is ternary-q2-slot"));
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &lvl, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "(ternary-q2-slot always runs at "
	    "level 4)"));
	t->encoding = TSTREAM__ENCODING__TERNARY_Q2;
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &lvl, &d), 0);
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &noq, &d), 0);
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &gqa, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "head_dim 4: "));
	m.cfg.head_dim = 8;
	ck_assert_int_eq(bitnet_graph_refuse_opts(&m.h, &gqa, &d), 0);
	m.cfg.head_dim = 4;
	t->encoding = TSTREAM__ENCODING__TERNARY_INT8;
	m.shapes[m.h.n_manifest - 1][0] = 2;	/* scales of a wrong shape */
	ck_assert_int_eq(plan(&m, &p, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "is not the plain f32 [1]"));
}
END_TEST

Suite *
suite_plan(void)
{
	return UNIT_SUITE("plan", each_part, refusals);
}
