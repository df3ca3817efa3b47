/* SPDX-License-Identifier: ISC */
#include "bitnet_graph.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "blockq8.h"
#include "dtype.h"
#include "onnx_types.h"
#include "version.h"

#define NAME_MAX_LEN 128
#define FLOAT32_LOWEST (-3.4028234663852886e38f)
#define ROUND_MAGIC 12582912.0f		/* 1.5 * 2^23 */
/* q2-slot weights run at accuracy level 4, whose int8 requantization
 * per block their 127 slot makes exact (act_slotted). */
#define Q2_SLOT_LEVEL 4

/* --- the graph -------------------------------------------------------- */

struct ctx {
	struct onnx_graph *g;
	const Tstream__ModelConfig *c;
	const Tstream__StreamHeader *h;
	const struct bitnet_part *part;
	int act_quant;
	int accuracy_level;		/* of MatMulNBits */
	int gqa;			/* com.microsoft.GroupQueryAttention */
	int last_logits;		/* of the last position only */
	uint64_t table_piece;		/* bitnet_graph_opts */
	enum bitnet_family family;	/* bitnet_config_family */
	const char *cos_bs, *sin_bs;	/* [batch, seq, 1, head_dim] */
	const char *pos_col;		/* position_ids [batch, seq, 1] */
	const char *seqlens_k, *total_len;	/* int32, for GQA */
	const char *u8_shift, *u8_zero;	/* 128.0f and 128 as uint8, made
					 * for the first int8 projection */
	const char *bs;		/* [batch, seq] of the graph's first input */
	const char *shape_q, *shape_kv, *shape_logits;	/* Reshape targets */
	const char *flat_q;			/* [-1, heads * head_dim] */
	const char *cos, *sin, *mask;
	const char *mask_groups;	/* the mask for each query of a kv
					 * head's group: [batch, 1, g * seq,
					 * total] */
	const char *eps, *two, *q127, *absmax_min, *qmin, *qmax, *attn_scale;
	const char *round_magic;	/* made for the first rounding */
	const char *half_split, *gqa_shape, *kv_groups, *group_tile;
	const char *hidden;	/* after the last block */
};

/* The input of BitLinear projections: in, and when quantized per token,
 * xq = clip(round(in * s)) with s [N, 1]; xu8 = xq + 128 as uint8 for
 * integer matmuls, made once when first needed. */
struct act {
	const char *in, *xq, *s, *xu8;
	const char *slotted;		/* xq for q2-slot weights, */
	uint64_t slot_k;		/* of this many values */
	uint32_t slot_block;		/* in blocks of this size */
};

static const char *
ints_attr_node(struct ctx *x, const char *op, const char *hint,
    const char *in, const char *attr, const int64_t *v, size_t n)
{
	Onnx__AttributeProto *a = og_attr_ints(x->g, attr, v, n);

	return og_node(x->g, op, hint, (const char *const[]){ in }, 1, &a, 1);
}

static const char *
int_attr_node(struct ctx *x, const char *op, const char *hint,
    const char *const *in, size_t n_in, const char *attr, int64_t v)
{
	Onnx__AttributeProto *a = og_attr_int(x->g, attr, v);

	return og_node(x->g, op, hint, in, n_in, &a, 1);
}

static const char *
unsqueeze(struct ctx *x, const char *hint, const char *in, const int64_t *axes,
    size_t n)
{
	return og_op2(x->g, "Unsqueeze", hint, in,
	    og_vec_i64(x->g, "axes", axes, n));
}

static const char *
transpose(struct ctx *x, const char *hint, const char *in, int64_t a,
    int64_t b, int64_t c, int64_t d)
{
	return ints_attr_node(x, "Transpose", hint, in, "perm",
	    (const int64_t[]){ a, b, c, d }, 4);
}

static const char *const bs_dims[] = { "batch_size", "sequence_length" };

static void
add_kv_values(struct ctx *x, int outputs)
{
	const Tstream__ModelConfig *c = x->c;
	char kv[16], hd[16], name[64];

	snprintf(kv, sizeof kv, "%u", c->num_key_value_heads);
	snprintf(hd, sizeof hd, "%u", c->head_dim);
	for (unsigned l = x->part->first; l <= x->part->last; l++)
		for (int v = 0; v < 2; v++) {
			snprintf(name, sizeof name, "%s.%u.%s", outputs ?
			    "present" : "past_key_values", l, v ? "value" :
			    "key");
			(outputs ? og_output : og_input)(x->g, name, OG_FLOAT,
			    (const char *const[]){ "batch_size", kv, outputs ?
			    "total_sequence_length" : "past_sequence_length",
			    hd }, 4);
		}
}

/* The graph's inputs and outputs for the part it computes. */
static void
add_interface(struct ctx *x)
{
	enum bitnet_part_kind k = x->part->kind;
	char hidden[16], vocab[16];
	const char *const hdims[] = { bs_dims[0], bs_dims[1], hidden };
	const char *const ldims[] = { bs_dims[0], x->last_logits ? "1" :
	    bs_dims[1], vocab };

	snprintf(hidden, sizeof hidden, "%u", x->c->hidden_size);
	snprintf(vocab, sizeof vocab, "%u", x->c->vocab_size);
	if (k == BITNET_WHOLE || k == BITNET_EMBED)
		og_input(x->g, "input_ids", OG_INT64, bs_dims, 2);
	else
		og_input(x->g, "hidden_states", OG_FLOAT, hdims, 3);
	if (k == BITNET_WHOLE || k == BITNET_BLOCKS) {
		og_input(x->g, "attention_mask", OG_INT64, (const char *const[]){
		    "batch_size", "total_sequence_length" }, 2);
		og_input(x->g, "position_ids", OG_INT64, bs_dims, 2);
		add_kv_values(x, 0);
	}
	if (k == BITNET_WHOLE || k == BITNET_HEAD)
		og_output(x->g, "logits", OG_FLOAT, ldims, 3);
	else if (k == BITNET_EMBED)
		og_output(x->g, "hidden_states", OG_FLOAT, hdims, 3);
	else
		og_output(x->g, "hidden_states_out", OG_FLOAT, hdims, 3);
	if (k == BITNET_WHOLE || k == BITNET_BLOCKS)
		add_kv_values(x, 1);
}

/* The constants of the activation quantization, made once. */
static void
add_act_constants(struct ctx *x)
{
	if (x->q127 != NULL)
		return;
	x->q127 = og_scalar_f32(x->g, "q127", 127.0f);
	x->absmax_min = og_scalar_f32(x->g, "absmax_min", 1e-5f);
	x->qmin = og_scalar_f32(x->g, "qmin", -128.0f);
	x->qmax = og_scalar_f32(x->g, "qmax", 127.0f);
}

static void
add_constants(struct ctx *x)
{
	const Tstream__ModelConfig *c = x->c;
	int64_t hd = c->head_dim, heads = c->num_attention_heads;
	int64_t group = heads / c->num_key_value_heads;

	x->eps = og_scalar_f32(x->g, "rms_norm_eps", (float)c->rms_norm_eps);
	x->two = og_scalar_f32(x->g, "two", 2.0f);
	x->half_split = og_vec_i64(x->g, "half", (const int64_t[]){ hd / 2,
	    hd / 2 }, 2);
	x->flat_q = og_vec_i64(x->g, "flat_q", (const int64_t[]){ -1,
	    heads * hd }, 2);
	if (x->gqa)	/* the operator scales and repeats the heads itself */
		return;
	x->attn_scale = og_scalar_f32(x->g, "attn_scale",
	    (float)(1.0 / sqrt((double)hd)));
	if (group == 1)		/* no grouped queries: kv_grouped is a no-op */
		return;
	x->kv_groups = og_vec_i64(x->g, "kv_groups", (const int64_t[]){ 0,
	    c->num_key_value_heads, -1, hd }, 4);
	x->gqa_shape = og_vec_i64(x->g, "gqa_shape", (const int64_t[]){ 0,
	    heads, -1, hd }, 4);
	x->group_tile = og_vec_i64(x->g, "group_tile", (const int64_t[]){ 1,
	    1, group, 1 }, 4);
}

/* Reshape targets that depend on [batch, seq] = Shape(input_ids). */
static void
add_shapes(struct ctx *x)
{
	const Tstream__ModelConfig *c = x->c;
	const char *bs = x->bs;
	const char *q = og_vec_i64(x->g, "heads_hd", (const int64_t[]){
	    c->num_attention_heads, c->head_dim }, 2);
	const char *kv = og_vec_i64(x->g, "kv_hd", (const int64_t[]){
	    c->num_key_value_heads, c->head_dim }, 2);
	const char *v = og_vec_i64(x->g, "vocab", (const int64_t[]){
	    c->vocab_size }, 1);

	x->shape_q = int_attr_node(x, "Concat", "shape_q",
	    (const char *const[]){ bs, q }, 2, "axis", 0);
	x->shape_kv = int_attr_node(x, "Concat", "shape_kv",
	    (const char *const[]){ bs, kv }, 2, "axis", 0);
	x->shape_logits = int_attr_node(x, "Concat", "shape_logits",
	    (const char *const[]){ bs, v }, 2, "axis", 0);
}

/* cos and sin [batch, 1, seq, head_dim] of rotate-half RoPE, with
 * inv_freq computed in float32 as transformers does. */
/* Llama 3's RoPE bands (transformers' llama3 rope_type), in float32:
 * wavelengths above original / low_freq_factor are slowed by factor,
 * those below original / high_freq_factor kept, and those between
 * blended. */
static void
rope_llama3(const Tstream__RopeLlama3 *r, float *inv, unsigned n)
{
	float old = (float)r->original_max_position_embeddings;
	float low = (float)r->low_freq_factor, high = (float)r->high_freq_factor;
	float factor = (float)r->factor;
	float low_wl = (float)(r->original_max_position_embeddings /
	    r->low_freq_factor);
	float high_wl = (float)(r->original_max_position_embeddings /
	    r->high_freq_factor);
	float two_pi = (float)(2 * M_PI);

	for (unsigned i = 0; i < n; i++) {
		float wl = two_pi / inv[i];
		float f = wl > low_wl ? inv[i] / factor : inv[i];

		if (!(wl < high_wl) && !(wl > low_wl)) {
			float smooth = (old / wl - low) / (high - low);
			f = (1.0f - smooth) * f / factor + smooth * f;
		}
		inv[i] = f;
	}
}

/* cos and sin of the positions times inv_freq [head_dim / 2], for
 * [batch, heads, seq, head_dim] (and [batch, seq, heads, head_dim] for
 * GroupQueryAttention). */
static void
rope_tables(struct ctx *x, const char *inv_freq)
{
	const char *freqs = og_op2(x->g, "Mul", "freqs", x->pos_col, inv_freq);
	const char *emb = int_attr_node(x, "Concat", "rope_emb",
	    (const char *const[]){ freqs, freqs }, 2, "axis", -1);

	emb = unsqueeze(x, "rope_emb4", emb, (const int64_t[]){ 1 }, 1);
	x->cos = og_op1(x->g, "Cos", "cos", emb);
	x->sin = og_op1(x->g, "Sin", "sin", emb);
	if (x->gqa) {
		x->cos_bs = transpose(x, "cos_bs", x->cos, 0, 2, 1, 3);
		x->sin_bs = transpose(x, "sin_bs", x->sin, 0, 2, 1, 3);
	}
}

static void
add_rope(struct ctx *x)
{
	unsigned hd = x->c->head_dim;
	float *inv = calloc(hd / 2 ? hd / 2 : 1, sizeof *inv);
	const char *pos;

	if (inv == NULL) {
		x->g->arena.failed = 1;
		return;
	}
	for (unsigned i = 0; i < hd / 2; i++)
		inv[i] = 1.0f / powf((float)x->c->rope_theta,
		    (float)(2 * i) / (float)hd);
	if (x->c->rope_llama3 != NULL)
		rope_llama3(x->c->rope_llama3, inv, hd / 2);
	pos = int_attr_node(x, "Cast", "pos_f", (const char *const[]){
	    "position_ids" }, 1, "to", OG_FLOAT);
	x->pos_col = unsqueeze(x, "pos_col", pos, (const int64_t[]){ 2 }, 1);
	rope_tables(x, og_const_f32(x->g, "inv_freq", inv,
	    (const int64_t[]){ hd / 2 }, 1));
	free(inv);
}

/* What GroupQueryAttention takes instead of a mask: per row the index of
 * its last key (mask sum - 1) and the total length, as int32; and RoPE's
 * cos and sin for [batch, seq, heads, head_dim]. */
static void
add_gqa_inputs(struct ctx *x)
{
	struct onnx_graph *g = x->g;
	Onnx__AttributeProto *keep = og_attr_int(g, "keepdims", 0);
	const char *sum = og_node(g, "ReduceSum", "mask_sum",
	    (const char *const[]){ "attention_mask", og_vec_i64(g, "axis1",
	    (const int64_t[]){ 1 }, 1) }, 2, &keep, 1);

	x->seqlens_k = int_attr_node(x, "Cast", "seqlens_k",
	    (const char *const[]){ og_op2(g, "Sub", "last_key", sum,
	    og_const_i64(g, "one", (const int64_t[]){ 1 }, NULL, 0)) }, 1,
	    "to", OG_INT32);
	x->total_len = int_attr_node(x, "Cast", "total_len32",
	    (const char *const[]){ og_op2(g, "Gather", "total_len",
	    og_op1(g, "Shape", "mask_shape", "attention_mask"),
	    og_const_i64(g, "idx1", (const int64_t[]){ 1 }, NULL, 0)) }, 1,
	    "to", OG_INT32);
}

/* Additive mask [batch, 1, seq, total]: 0 where query i (at absolute
 * position past + i) may see key j (j <= past + i and attention_mask
 * set), the lowest float32 elsewhere, as transformers builds it; and
 * the same repeated for each query head of a kv head's group. */
static void
add_mask(struct ctx *x)
{
	struct onnx_graph *g = x->g;
	const char *zero = og_const_i64(g, "zero", (const int64_t[]){ 0 },
	    NULL, 0);
	const char *step = og_const_i64(g, "step", (const int64_t[]){ 1 },
	    NULL, 0);
	const char *s = og_op2(g, "Gather", "seq_len", x->bs, og_const_i64(g,
	    "idx1", (const int64_t[]){ 1 }, NULL, 0));
	const char *t = og_op2(g, "Gather", "total_len", og_op1(g, "Shape",
	    "mask_shape", "attention_mask"), og_const_i64(g, "idx1b",
	    (const int64_t[]){ 1 }, NULL, 0));
	const char *qpos = og_op2(g, "Add", "q_pos", og_op3(g, "Range",
	    "q_range", zero, s, step), og_op2(g, "Sub", "past_len", t, s));
	const char *kpos = og_op3(g, "Range", "k_pos", zero, t, step);
	const char *causal = og_op2(g, "LessOrEqual", "causal",
	    unsqueeze(x, "k_row", kpos, (const int64_t[]){ 0 }, 1),
	    unsqueeze(x, "q_col", qpos, (const int64_t[]){ 1 }, 1));
	const char *pad = int_attr_node(x, "Cast", "pad", (const char *const[]){
	    "attention_mask" }, 1, "to", OG_BOOL);

	pad = unsqueeze(x, "pad4", pad, (const int64_t[]){ 1, 2 }, 2);
	x->mask = og_op3(g, "Where", "mask", og_op2(g, "And", "allowed",
	    causal, pad), og_scalar_f32(g, "mask_open", 0.0f),
	    og_scalar_f32(g, "mask_shut", FLOAT32_LOWEST));
	x->mask_groups = x->c->num_attention_heads ==
	    x->c->num_key_value_heads ? x->mask : og_op2(g, "Tile",
	    "mask_groups", x->mask, x->group_tile);
}

/* weight * x / sqrt(mean(x^2) + eps) over the last axis. */
static const char *
rms_norm(struct ctx *x, const char *in, const char *weight)
{
	struct onnx_graph *g = x->g;
	const char *ms = ints_attr_node(x, "ReduceMean", "ms", og_op2(g, "Pow",
	    "sq", in, x->two), "axes", (const int64_t[]){ -1 }, 1);
	const char *rms = og_op1(g, "Sqrt", "rms", og_op2(g, "Add", "ms_eps",
	    ms, x->eps));

	return og_op2(g, "Mul", "normed", og_op2(g, "Div", "scaled", in, rms),
	    weight);
}

/* round(v), half to even, for |v| <= 2^22: v + 1.5 * 2^23 lands where
 * float32 has no fraction bits, so the addition itself rounds (to
 * nearest, ties to even, as IEEE 754 adds), and the subtraction is
 * exact.  Two Adds where one Round would do, because every onnxruntime
 * provider has Add and Sub, and onnxruntime-web's WebGPU one has no
 * Round (each would be a round trip through the CPU). */
static const char *
round_half_even(struct ctx *x, const char *v)
{
	struct onnx_graph *g = x->g;

	if (x->round_magic == NULL)
		x->round_magic = og_scalar_f32(g, "round_magic", ROUND_MAGIC);
	return og_op2(g, "Sub", "act_round", og_op2(g, "Add", "act_shift", v,
	    x->round_magic), x->round_magic);
}

/* The per-token scale s = level / max(max|x|, 1e-5) of in, and in *xs
 * round(in * s), its values in [-level, level]. */
static const char *
token_scale(struct ctx *x, const char *in, const char *level,
    const char **xs)
{
	struct onnx_graph *g = x->g;
	const char *amax = ints_attr_node(x, "ReduceMax", "absmax", og_op1(g,
	    "Abs", "abs", in), "axes", (const int64_t[]){ -1 }, 1);
	const char *s = og_op2(g, "Div", "act_scale", level, og_op2(g, "Max",
	    "absmax_clamped", amax, x->absmax_min));

	*xs = round_half_even(x, og_op2(g, "Mul", "act_scaled", in, s));
	return s;
}

/* Per-token int8 quantization: s = 127 / max(max|x|, 1e-5),
 * xq = clip(round(x * s), -128, 127); |x * s| <= 127, well inside
 * round_half_even's range. */
static void
act_quant(struct ctx *x, const char *in, struct act *a)
{
	const char *xs;

	memset(a, 0, sizeof *a);
	a->in = in;
	if (!x->act_quant)
		return;
	add_act_constants(x);
	a->s = token_scale(x, in, x->q127, &xs);
	a->xq = og_op3(x->g, "Clip", "act_q", xs, x->qmin, x->qmax);
}

static const char *
scales_of(struct ctx *x, const char *weight)
{
	char name[NAME_MAX_LEN + 16];

	snprintf(name, sizeof name, "%s%s", weight, BITNET_FORM_SCALES_SUFFIX);
	return og_name_copy(x->g, name);
}

/* The quantized activations as MatMulInteger's uint8 input: xq + 128,
 * zero point x->u8_zero (128); made once per act. */
static const char *
act_u8(struct ctx *x, struct act *a)
{
	struct onnx_graph *g = x->g;

	if (x->u8_zero == NULL) {
		x->u8_shift = og_scalar_f32(g, "u8_shift", 128.0f);
		x->u8_zero = og_const_u8(g, "u8_zero", (const uint8_t[]){ 128 },
		    NULL, 0);
	}
	if (a->xu8 == NULL)
		a->xu8 = int_attr_node(x, "Cast", "act_u8", (const char *const[]){
		    og_op2(g, "Add", "act_shifted", a->xq, x->u8_shift) }, 1,
		    "to", OG_UINT8);
	return a->xu8;
}

/* int8: MatMulInteger(xq + 128 as uint8, W^T int8, zero point 128) is
 * BitNet's integer dot product; one rescale by weight scale / s. */
static const char *
linear_int8(struct ctx *x, struct act *a, const Tstream__TensorInfo *t)
{
	struct onnx_graph *g = x->g;
	const char *acc, *rescale, *xu8 = act_u8(x, a);	/* and u8_zero */
	const char *weight = t->name;

	acc = og_op3(g, "MatMulInteger", "acc", xu8, weight, x->u8_zero);
	rescale = og_op2(g, "Div", "rescale", scales_of(x, weight), a->s);
	return og_op2(g, "Mul", "proj_deq", int_attr_node(x, "Cast",
	    "acc_f", (const char *const[]){ acc }, 1, "to", OG_FLOAT),
	    rescale);
}

/* com.microsoft.MatMulNBits: in [M, K] times `rows` rows of weight t
 * ([N, K] stored in blocks of bits-wide codes, its scales beside it),
 * transposed; w and ws name the codes and scales (t's own, or a piece's).
 */
static const char *
matmul_nbits(struct ctx *x, const char *hint, const char *in,
    const Tstream__TensorInfo *t, const char *w, const char *ws,
    uint64_t rows, int bits, int64_t accuracy_level)
{
	struct onnx_graph *g = x->g;
	uint32_t per = tstream_block_values(t->encoding, t->block_size);
	uint64_t k = per == t->block_size ? t->shape[1] :	/* q2-slot: */
	    tstream_blocks(t->shape[1], per) * t->block_size;	/* slotted */
	Onnx__AttributeProto *attrs[5] = {
		og_attr_int(g, "K", (int64_t)k),
		og_attr_int(g, "N", (int64_t)rows),
		og_attr_int(g, "bits", bits),
		og_attr_int(g, "block_size", (int64_t)t->block_size),
		og_attr_int(g, "accuracy_level", accuracy_level),
	};
	const char *y = og_node(g, "MatMulNBits", hint, (const char *const[]){
	    in, w, ws }, 3, attrs, 5);

	og_set_domain(g, ONNX_MS_DOMAIN);
	return y;
}

/* q2: MatMulNBits bits=2 on the quantized activations (or the plain
 * ones), its block scales carrying the weight scale. */
static const char *
linear_q2(struct ctx *x, struct act *a, const Tstream__TensorInfo *t)
{
	const char *y = matmul_nbits(x, "proj", x->act_quant ? a->xq : a->in,
	    t, t->name, scales_of(x, t->name), t->shape[0], 2,
	    x->accuracy_level);

	return x->act_quant ? og_op2(x->g, "Div", "proj_deq", y, a->s) : y;
}

/* The quantized activations [M, k] for q2-slot weights of t's block b:
 * after every b - 1 values a 127, in the slot whose weight is zero, so
 * that [M, blocks * b] has 127 as every block's largest magnitude and
 * MatMulNBits' int8 quantization per block (accuracy level 4) has scale
 * 1: it keeps BitNet's values, and its integer dot products are
 * BitNet's.  Made once per act and shape. */
static const char *
act_slotted(struct ctx *x, struct act *a, const Tstream__TensorInfo *t)
{
	struct onnx_graph *g = x->g;
	uint64_t k = t->shape[1];
	int64_t b = t->block_size;
	int64_t per = tstream_block_values(t->encoding, t->block_size);
	int64_t n = (int64_t)tstream_blocks(k, (uint32_t)per);
	const char *p = a->xq;

	if (a->slotted != NULL && a->slot_k == k && a->slot_block == b)
		return a->slotted;
	if ((uint64_t)(n * per) != k)
		p = og_op2(g, "Pad", "act_padded", p, og_vec_i64(g,
		    "slot_tail", (const int64_t[]){ 0, 0, 0,
		    n * per - (int64_t)k }, 4));
	p = og_op2(g, "Reshape", "act_blocks", p, og_vec_i64(g, "slot_blocks",
	    (const int64_t[]){ 0, n, per }, 3));
	p = og_op3(g, "Pad", "act_slotted", p, og_vec_i64(g, "slot_one",
	    (const int64_t[]){ 0, 0, 0, 0, 0, 1 }, 6), x->q127);
	a->slotted = og_op2(g, "Reshape", "act_slot_rows", p, og_vec_i64(g,
	    "slot_rows", (const int64_t[]){ 0, n * b }, 2));
	a->slot_k = k;
	a->slot_block = (uint32_t)b;
	return a->slotted;
}

/* q2-slot: the same at accuracy level 4 on the slotted activations,
 * exact: (xq @ W^T) / s as BitNet's integers give it. */
static const char *
linear_q2_slot(struct ctx *x, struct act *a, const Tstream__TensorInfo *t)
{
	const char *y = matmul_nbits(x, "proj", act_slotted(x, a, t), t,
	    t->name, scales_of(x, t->name), t->shape[0], 2, Q2_SLOT_LEVEL);

	return og_op2(x->g, "Div", "proj_deq", y, a->s);
}

/* One row per compact encoding of a projection (the float ones take
 * Gemm): the graph it takes, whether that graph needs the quantized
 * activations, and the MatMulNBits accuracy level it runs at
 * (LEVEL_OPTION: the one the options give; LEVEL_NONE: it has no
 * MatMulNBits). */
enum { LEVEL_NONE = -1, LEVEL_OPTION = -2 };

typedef const char *linear_fn(struct ctx *, struct act *,
    const Tstream__TensorInfo *);

struct projection_form {
	Tstream__Encoding enc;
	linear_fn *linear;
	int needs_act_quant;
	int level;
};

static const struct projection_form projection_forms[] = {
	{ TSTREAM__ENCODING__TERNARY_INT8, linear_int8, 1, LEVEL_NONE },
	{ TSTREAM__ENCODING__TERNARY_Q2, linear_q2, 0, LEVEL_OPTION },
	{ TSTREAM__ENCODING__TERNARY_Q2_SLOT, linear_q2_slot, 1,
	    Q2_SLOT_LEVEL },
};
#define N_PROJECTION_FORMS \
	(sizeof projection_forms / sizeof *projection_forms)

/* The row of encoding e; NULL for a float projection. */
static const struct projection_form *
projection_form_of(Tstream__Encoding e)
{
	for (size_t i = 0; i < N_PROJECTION_FORMS; i++)
		if (projection_forms[i].enc == e)
			return &projection_forms[i];
	return NULL;
}

/* y = (xq @ W^T) / s with W [out, in] as stored; or x @ W^T unquantized;
 * compact weights take their row's graph. */
static const char *
bitlinear(struct ctx *x, struct act *a, const char *weight)
{
	const Tstream__TensorInfo *t = tstream_manifest_entry(x->h, weight);
	const struct projection_form *f = t != NULL ?
	    projection_form_of(t->encoding) : NULL;
	const char *y;

	if (f != NULL)
		return f->linear(x, a, t);
	y = int_attr_node(x, "Gemm", "proj", (const char *const[]){
	    x->act_quant ? a->xq : a->in, weight }, 2, "transB", 1);
	return x->act_quant ? og_op2(x->g, "Div", "proj_deq", y, a->s) : y;
}

static const char *
weight(const struct ctx *x, char *buf, size_t len, unsigned layer,
    enum bitnet_layer_part part)
{
	return bitnet_layer_name(x->family, layer, part, buf, len);
}

/* A sublayer's way out: its sub-norm where the family has one, then the
 * output projection proj of those activations quantized. */
static const char *
out_proj(struct ctx *x, unsigned l, const char *v,
    enum bitnet_layer_part norm, enum bitnet_layer_part proj)
{
	char w[NAME_MAX_LEN];
	struct act a;

	if (bitnet_family_has_part(x->family, norm))
		v = rms_norm(x, v, weight(x, w, sizeof w, l, norm));
	act_quant(x, v, &a);
	return bitlinear(x, &a, weight(x, w, sizeof w, l, proj));
}

/* Rotate-half RoPE of t [batch, heads, seq, head_dim] (cos and sin
 * [batch, 1, seq, head_dim]), or of t [batch, seq, heads, head_dim] with
 * cos and sin [batch, seq, 1, head_dim]. */
static const char *
rope_with(struct ctx *x, const char *t, const char *cos, const char *sin)
{
	struct onnx_graph *g = x->g;
	const char *half[2] = { og_name(g, "rope_lo"), og_name(g, "rope_hi") };
	Onnx__AttributeProto *axis = og_attr_int(g, "axis", -1);
	const char *rot;

	og_node_named(g, "Split", (const char *const[]){ t, x->half_split },
	    2, half, 2, &axis, 1);
	rot = int_attr_node(x, "Concat", "rotated", (const char *const[]){
	    og_op1(g, "Neg", "neg_hi", half[1]), half[0] }, 2, "axis", -1);
	return og_op2(g, "Add", "roped", og_op2(g, "Mul", "t_cos", t, cos),
	    og_op2(g, "Mul", "rot_sin", rot, sin));
}

static const char *
rope(struct ctx *x, const char *t)
{
	return rope_with(x, t, x->cos, x->sin);
}

/* [batch * seq, heads * head_dim] -> [batch, heads, seq, head_dim] */
static const char *
heads_first(struct ctx *x, const char *flat, const char *shape)
{
	return transpose(x, "by_head", og_op2(x->g, "Reshape", "split_heads",
	    flat, shape), 0, 2, 1, 3);
}

/* Grouped-query attention without repeating the cache: kv head j serves
 * query heads j*g .. j*g+g-1, so q [batch, heads, seq, head_dim] is
 * viewed as [batch, kv_heads, g * seq, head_dim], each group's queries
 * one after another against its own kv head (as_groups 1), and the
 * context back as [batch, heads, seq, head_dim] (as_groups 0). */
static const char *
kv_grouped(struct ctx *x, const char *t, int as_groups)
{
	if (x->c->num_attention_heads == x->c->num_key_value_heads)
		return t;
	return og_op2(x->g, "Reshape", as_groups ? "q_grouped" : "ctx_heads",
	    t, as_groups ? x->kv_groups : x->gqa_shape);
}

/* The interface's cache names of layer l: past_key_values.l.key|value
 * and present.l.key|value. */
static void
kv_names(unsigned l, char past[2][64], char present[2][64])
{
	for (int i = 0; i < 2; i++) {
		snprintf(past[i], 64, "past_key_values.%u.%s", l,
		    i ? "value" : "key");
		snprintf(present[i], 64, "present.%u.%s", l,
		    i ? "value" : "key");
	}
}

static void
kv_cache(struct ctx *x, unsigned l, const char *k, const char *v,
    const char **pk, const char **pv)
{
	char past[2][64], present[2][64];
	Onnx__AttributeProto *axis = og_attr_int(x->g, "axis", 2);

	kv_names(l, past, present);
	og_node_named(x->g, "Concat", (const char *const[]){ past[0], k }, 2,
	    (const char *const[]){ present[0] }, 1, &axis, 1);
	og_node_named(x->g, "Concat", (const char *const[]){ past[1], v }, 2,
	    (const char *const[]){ present[1] }, 1, &axis, 1);
	*pk = og_name_copy(x->g, present[0]);
	*pv = og_name_copy(x->g, present[1]);
}

static const char *
attention(struct ctx *x, unsigned l, const char *h)
{
	struct onnx_graph *g = x->g;
	const char *q, *k, *v, *pk, *pv, *p, *o;
	char w[NAME_MAX_LEN];
	struct act a;

	act_quant(x, h, &a);
	q = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_Q_PROJ));
	q = rope(x, heads_first(x, q, x->shape_q));
	k = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_K_PROJ));
	k = rope(x, heads_first(x, k, x->shape_kv));
	v = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_V_PROJ));
	v = heads_first(x, v, x->shape_kv);
	kv_cache(x, l, k, v, &pk, &pv);
	p = og_op2(g, "MatMul", "scores", kv_grouped(x, q, 1),
	    transpose(x, "k_t", pk, 0, 1, 3, 2));
	p = og_op2(g, "Add", "masked", og_op2(g, "Mul", "scores_scaled", p,
	    x->attn_scale), x->mask_groups);
	p = int_attr_node(x, "Softmax", "probs", (const char *const[]){ p },
	    1, "axis", -1);
	o = transpose(x, "ctx_t", kv_grouped(x, og_op2(g, "MatMul", "ctx", p,
	    pv), 0), 0, 2, 1, 3);
	o = og_op2(g, "Reshape", "ctx_flat", o, x->flat_q);
	return out_proj(x, l, o, BITNET_ATTN_SUB_NORM, BITNET_O_PROJ);
}

/* [N, heads * head_dim] -> [batch, seq, heads * head_dim], roped first
 * when asked. */
static const char *
bsh(struct ctx *x, const char *flat, const char *shape4, int roped)
{
	struct onnx_graph *g = x->g;
	const char *t = og_op2(g, "Reshape", "bs_heads", flat, shape4);

	if (roped)
		t = rope_with(x, t, x->cos_bs, x->sin_bs);
	return og_op2(g, "Reshape", "bsh", t, og_vec_i64(g, "bsh_shape",
	    (const int64_t[]){ 0, 0, -1 }, 3));
}

/* The same attention as one com.microsoft.GroupQueryAttention: RoPE
 * stays ours (do_rotary 0), the cache is BNSH as in the interface, and
 * the mask becomes seqlens_k / total_sequence_length (rows without left
 * padding). */
static const char *
attention_gqa(struct ctx *x, unsigned l, const char *h)
{
	struct onnx_graph *g = x->g;
	const char *q, *k, *v, *o, *in[7];
	char w[NAME_MAX_LEN], past[2][64], present[2][64];
	const char *out[3] = { og_name(g, "gqa"), present[0], present[1] };
	Onnx__AttributeProto *attrs[2] = {
		og_attr_int(g, "num_heads", x->c->num_attention_heads),
		og_attr_int(g, "kv_num_heads", x->c->num_key_value_heads),
	};
	struct act a;

	act_quant(x, h, &a);
	q = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_Q_PROJ));
	k = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_K_PROJ));
	v = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_V_PROJ));
	kv_names(l, past, present);
	in[0] = bsh(x, q, x->shape_q, 1);
	in[1] = bsh(x, k, x->shape_kv, 1);
	in[2] = bsh(x, v, x->shape_kv, 0);
	in[3] = past[0];
	in[4] = past[1];
	in[5] = x->seqlens_k;
	in[6] = x->total_len;
	og_node_named(g, "GroupQueryAttention", in, 7, out, 3, attrs, 2);
	og_set_domain(g, ONNX_MS_DOMAIN);
	o = og_op2(g, "Reshape", "ctx_flat", out[0], x->flat_q);
	return out_proj(x, l, o, BITNET_ATTN_SUB_NORM, BITNET_O_PROJ);
}

/* down(ffn_sub_norm(act(gate(h), up(h)))), the sub-norm where the family
 * has one and act its activation: relu(gate)^2 * up or silu(gate) * up */
static const char *
mlp(struct ctx *x, unsigned l, const char *h)
{
	struct onnx_graph *g = x->g;
	const char *gate, *up, *r, *m;
	char w[NAME_MAX_LEN];
	struct act a;

	act_quant(x, h, &a);
	gate = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_GATE_PROJ));
	up = bitlinear(x, &a, weight(x, w, sizeof w, l, BITNET_UP_PROJ));
	if (bitnet_family_of(x->family)->act == BITNET_ACT_SILU) {
		m = og_op2(g, "Mul", "silu", gate, og_op1(g, "Sigmoid",
		    "sigmoid", gate));
		m = og_op2(g, "Mul", "act", m, up);
	} else {
		r = og_op1(g, "Relu", "relu", gate);
		m = og_op2(g, "Mul", "act", og_op2(g, "Mul", "relu2", r, r),
		    up);
	}
	return out_proj(x, l, m, BITNET_FFN_SUB_NORM, BITNET_DOWN_PROJ);
}

static const char *
block(struct ctx *x, unsigned l, const char *h)
{
	char w[NAME_MAX_LEN];
	const char *n;

	/* a layer's saved RoPE frequencies (1bitLLM) are the ones it uses */
	snprintf(w, sizeof w, "model.layers.%u." BITNET_ROTARY_SUFFIX, l);
	if (tstream_manifest_entry(x->h, w) != NULL)
		rope_tables(x, og_name_copy(x->g, w));
	n = rms_norm(x, h, weight(x, w, sizeof w, l, BITNET_INPUT_NORM));
	h = og_op2(x->g, "Add", "resid_attn", h, x->gqa ?
	    attention_gqa(x, l, n) : attention(x, l, n));
	n = rms_norm(x, h, weight(x, w, sizeof w, l, BITNET_POST_NORM));
	return og_op2(x->g, "Add", "resid_mlp", h, mlp(x, l, n));
}

/* The shape [batch, seq, width]. */
static const char *
bs_shape(struct ctx *x, unsigned width)
{
	return int_attr_node(x, "Concat", "shape_bs", (const char *const[]){
	    x->bs, og_vec_i64(x->g, "width", (const int64_t[]){ width }, 1) },
	    2, "axis", 0);
}

/* [N, width] -> [batch, seq, width], named out. */
static void
unflatten(struct ctx *x, const char *h, unsigned width, const char *out)
{
	og_node_named(x->g, "Reshape", (const char *const[]){ h,
	    bs_shape(x, width) }, 2, (const char *const[]){ out }, 1, NULL,
	    0);
}

static void
add_blocks(struct ctx *x, const char *h)
{
	add_constants(x);
	add_shapes(x);
	add_rope(x);
	if (x->gqa)
		add_gqa_inputs(x);
	else
		add_mask(x);
	for (unsigned l = x->part->first; l <= x->part->last; l++)
		h = block(x, l, h);
	if (x->part->kind == BITNET_BLOCKS)
		unflatten(x, h, x->c->hidden_size, "hidden_states_out");
	else
		x->hidden = h;
}

/* One piece of a table: rows [first, first + rows) of weight t, stored
 * as w (t's own name when whole, NAME.partK otherwise), its scales ws
 * (NULL when t has none). */
struct piece {
	const Tstream__TensorInfo *t;
	const char *w, *ws;
	uint64_t first, rows;
};

/* Piece k of table t: whole (k 0) when the table is not split. */
static void
table_piece(struct ctx *x, const Tstream__TensorInfo *t, unsigned k,
    struct piece *p)
{
	uint64_t rows = bitnet_table_piece_rows(x->h, t, x->table_piece);
	const struct tstream_encoding *e = tstream_encoding_of(t->encoding);
	int scaled = e != NULL && e->scales_shape != NULL;
	char name[TSTREAM_MAX_NAME + 48];

	p->t = t;
	p->first = rows ? k * rows : 0;
	p->rows = rows ? (t->shape[0] - p->first < rows ? t->shape[0] -
	    p->first : rows) : t->shape[0];
	p->w = rows ? og_name_copy(x->g, onnx_piece_name(t->name, k, name,
	    sizeof name)) : t->name;
	p->ws = scaled ? scales_of(x, t->name) : NULL;
	if (rows && scaled)
		p->ws = og_name_copy(x->g, onnx_piece_name(p->ws, k, name,
		    sizeof name));
}

static unsigned piece_count(const Tstream__StreamHeader *h,
    const Tstream__TensorInfo *t, uint64_t table_piece, uint64_t *rows);

static unsigned
table_pieces(const struct ctx *x, const Tstream__TensorInfo *t)
{
	uint64_t rows;

	return piece_count(x->h, t, x->table_piece, &rows);
}

static int
is_half(const Tstream__TensorInfo *t)
{
	return t->encoding == TSTREAM__ENCODING__PLAIN &&
	    (t->dtype == TSTREAM__DTYPE__BF16 ||
	    t->dtype == TSTREAM__DTYPE__F16);
}

/* The last node of a value: named out when out is given. */
static const char *
final_node(struct ctx *x, const char *op, const char *hint,
    const char *const *in, size_t n_in, Onnx__AttributeProto *attr,
    const char *out)
{
	if (out == NULL)
		return og_node(x->g, op, hint, in, n_in, attr ? &attr : NULL,
		    attr != NULL);
	og_node_named(x->g, op, in, n_in, &out, 1, attr ? &attr : NULL,
	    attr != NULL);
	return out;
}

/* The codes c of a block-q4 table's gathered rows, as float32 [batch,
 * seq, blocks, block / 2] (two a byte), unpacked to [batch, seq, blocks,
 * block]: hi = floor(c / 16), lo = c - 16 hi, each pair (lo, hi) side by
 * side; float operators (exact on integers below 256), since BitShift
 * and BitwiseAnd are not in every provider. */
static const char *
unpack_nibbles(struct ctx *x, const char *c, uint32_t block)
{
	struct onnx_graph *g = x->g;
	const char *sixteen = og_scalar_f32(g, "sixteen", 16.0f);
	const char *hi = og_op1(g, "Floor", "nibble_hi", og_op2(g, "Div",
	    "codes_16ths", c, sixteen));
	const char *lo = og_op2(g, "Sub", "nibble_lo", c, og_op2(g, "Mul",
	    "hi_16", hi, sixteen));
	const char *last = og_vec_i64(g, "axis_last", (const int64_t[]){ -1 },
	    1);
	const char *pairs = int_attr_node(x, "Concat", "nibble_pairs",
	    (const char *const[]){ og_op2(g, "Unsqueeze", "lo_1", lo, last),
	    og_op2(g, "Unsqueeze", "hi_1", hi, last) }, 2, "axis", -1);

	return og_op2(g, "Reshape", "embedded_codes4", pairs, og_vec_i64(g,
	    "q4_unpacked", (const int64_t[]){ 0, 0, 0, (int64_t)block }, 4));
}

/* The rows of piece p at ids, as float32 [batch, seq, hidden], named out
 * when given: a plain table gathered (a half one cast after the Gather);
 * a block-q8 one's codes [batch, seq, blocks, block] as float less the
 * zero point 128 times their blocks' scales, reshaped (exact: an 8-bit
 * code times a float32 scale is one rounding, as the contrib operator
 * computes; standard operators, since onnxruntime-web has no
 * GatherBlockQuantized); a row-i8 one's codes times their rows' scales. */
static const char *
gather_rows(struct ctx *x, const struct piece *p, const char *ids,
    const char *out)
{
	struct onnx_graph *g = x->g;
	const char *in[2] = { p->w, ids }, *rows;
	uint64_t width;
	int q4;

	if (p->t->encoding == TSTREAM__ENCODING__PLAIN && !is_half(p->t))
		return final_node(x, "Gather", "embedded", in, 2, NULL, out);
	rows = og_op2(g, "Gather", "embedded_rows", p->w, ids);
	if (p->t->encoding == TSTREAM__ENCODING__PLAIN)
		return final_node(x, "Cast", "embedded", &rows, 1,
		    og_attr_int(g, "to", OG_FLOAT), out);
	rows = int_attr_node(x, "Cast", "embedded_codes", &rows, 1, "to",
	    OG_FLOAT);
	in[1] = og_op2(g, "Gather", "embedded_d", p->ws, ids);
	if (p->t->encoding == TSTREAM__ENCODING__ROW_I8) {
		in[0] = rows;
		return final_node(x, "Mul", "embedded", in, 2, NULL, out);
	}
	q4 = p->t->encoding == TSTREAM__ENCODING__BLOCK_Q4;
	if (q4)
		rows = unpack_nibbles(x, rows, p->t->block_size);
	in[0] = og_op2(g, "Mul", "embedded_blocks", og_op2(g, "Sub",
	    "embedded_centred", rows, q4 ? og_scalar_f32(g, "q4_zero",
	    (float)BLOCKQ4_ZERO) : og_scalar_f32(g, "q8_zero",
	    (float)BLOCKQ8_ZERO)), og_op2(g, "Unsqueeze", "embedded_scales",
	    in[1], og_vec_i64(g, "axis_3", (const int64_t[]){ 3 }, 1)));
	width = tstream_blocks(x->c->hidden_size, p->t->block_size) *
	    p->t->block_size;
	in[1] = og_vec_i64(g, "embed_shape", (const int64_t[]){ 0, 0,
	    (int64_t)width }, 3);
	if (width == x->c->hidden_size)
		return final_node(x, "Reshape", "embedded", in, 2, NULL, out);
	/* the last block's padding goes */
	return final_node(x, "Slice", "embedded", (const char *const[]){
	    og_node(g, "Reshape", "embedded_padded", in, 2, NULL, 0),
	    og_vec_i64(g, "zero_start", (const int64_t[]){ 0 }, 1),
	    og_vec_i64(g, "hidden_end", (const int64_t[]){
	    (int64_t)x->c->hidden_size }, 1), og_vec_i64(g, "axis_2",
	    (const int64_t[]){ 2 }, 1) }, 4, NULL, out);
}

/* The rows of a table in pieces: each piece gathers the ids that fall in
 * it (others read its row 0) and zeroes the rows of the others; the sum
 * of the pieces is the table's rows (each row one piece's, the rest
 * exact zeros). */
static const char *
gather_pieces(struct ctx *x, const Tstream__TensorInfo *t, const char *out)
{
	struct onnx_graph *g = x->g;
	unsigned n = table_pieces(x, t);
	const char *sum = NULL, *zero = og_const_i64(g, "zero_id",
	    (const int64_t[]){ 0 }, NULL, 0);

	for (unsigned k = 0; k < n; k++) {
		struct piece p;
		const char *local, *inside, *rows;

		table_piece(x, t, k, &p);
		local = og_op2(g, "Sub", "piece_ids", "input_ids",
		    og_const_i64(g, "piece_first", (const int64_t[]){
		    (int64_t)p.first }, NULL, 0));
		inside = og_op2(g, "And", "piece_inside", og_op2(g,
		    "GreaterOrEqual", "piece_from", local, zero), og_op2(g,
		    "Less", "piece_to", local, og_const_i64(g, "piece_rows",
		    (const int64_t[]){ (int64_t)p.rows }, NULL, 0)));
		rows = gather_rows(x, &p, og_op3(g, "Where", "piece_index",
		    inside, local, zero), NULL);
		rows = og_op3(g, "Where", "piece_part", unsqueeze(x,
		    "piece_inside3", inside, (const int64_t[]){ -1 }, 1), rows,
		    og_scalar_f32(g, "zero_f", 0.0f));
		if (sum == NULL)
			sum = rows;
		else if (k + 1 < n || out == NULL)
			sum = og_op2(g, "Add", "embedded_sum", sum, rows);
		else
			sum = final_node(x, "Add", "embedded", (const char *
			    const[]){ sum, rows }, 2, NULL, out);
	}
	return sum;
}

/* The embedding of input_ids, as float32; named out when out is given. */
static const char *
embed(struct ctx *x, const char *out)
{
	const Tstream__TensorInfo *t = tstream_manifest_entry(x->h,
	    BITNET_EMBED_NAME);
	struct piece p;

	if (table_pieces(x, t) > 1)
		return gather_pieces(x, t, out);
	table_piece(x, t, 0, &p);
	return gather_rows(x, &p, "input_ids", out);
}

/* The rows of h [batch * seq, hidden] at the last position of each
 * sequence: [batch, hidden]. */
static const char *
last_position(struct ctx *x, const char *h)
{
	struct onnx_graph *g = x->g;
	const char *last = og_node(g, "Slice", "last_position",
	    (const char *const[]){ og_op2(g, "Reshape", "hidden_bsh", h,
	    bs_shape(x, x->c->hidden_size)),
	    og_vec_i64(g, "minus_one", (const int64_t[]){ -1 }, 1),
	    og_vec_i64(g, "int64_max", (const int64_t[]){ INT64_MAX }, 1),
	    og_vec_i64(g, "axis_1", (const int64_t[]){ 1 }, 1) }, 4, NULL, 0);

	return og_op2(g, "Reshape", "hidden_last", last, og_vec_i64(g,
	    "flat_last", (const int64_t[]){ -1, x->c->hidden_size }, 2));
}

/* h quantized per token to 7 bits for a row-i8 head: xq = round(h * s),
 * s = 63 / max(max|h|, 1e-5), as uint8 xq + 64.  Seven bits, not eight:
 * onnxruntime's x86 kernels for uint8 times int8 without VNNI add pairs
 * of products in int16, which 255 * 127 * 2 overflows and 127 * 127 * 2
 * does not (the ternary projections, |w| <= 1, never come near it). */
static const char *
head_act_u7(struct ctx *x, const char *h, const char **s)
{
	struct onnx_graph *g = x->g;
	const char *xq;

	add_act_constants(x);
	*s = token_scale(x, h, og_scalar_f32(g, "q63", 63.0f), &xq);
	return int_attr_node(x, "Cast", "head_u8", (const char *const[]){
	    og_op2(g, "Add", "head_shifted", xq, og_scalar_f32(g, "u7_shift",
	    64.0f)) }, 1, "to", OG_UINT8);
}

/* The logits of piece p of the head: h @ W^T.  A block-q8 piece through
 * MatMulNBits bits=8, which onnxruntime's CPU computes fast only at
 * accuracy level 4 (the activations in int8 per block); a row-i8 one by
 * MatMulInteger of the 7-bit h (xu7, scale s) and W^T (a Transpose of
 * the initializer, which onnxruntime folds once at load), the sums times
 * each row's scale over s; a float one by Gemm, a half one cast first
 * (folded by onnxruntime when it loads the model). */
static const char *
head_rows(struct ctx *x, const struct piece *p, const char *h,
    const char *xu7, const char *s)
{
	struct onnx_graph *g = x->g;
	const char *acc, *w;

	if (p->t->encoding == TSTREAM__ENCODING__BLOCK_Q8 ||
	    p->t->encoding == TSTREAM__ENCODING__BLOCK_Q4)
		return matmul_nbits(x, "head", h, p->t, p->w, p->ws, p->rows,
		    p->t->encoding == TSTREAM__ENCODING__BLOCK_Q8 ? 8 : 4, 4);
	if (p->t->encoding == TSTREAM__ENCODING__ROW_I8) {
		acc = int_attr_node(x, "Cast", "head_acc_f", (const char *
		    const[]){ og_op3(g, "MatMulInteger", "head_acc", xu7,
		    ints_attr_node(x, "Transpose", "head_t", p->w, "perm",
		    (const int64_t[]){ 1, 0 }, 2), og_const_u8(g, "u7_zero",
		    (const uint8_t[]){ 64 }, NULL, 0)) }, 1, "to", OG_FLOAT);
		return og_op2(g, "Div", "head_deq", og_op2(g, "Mul",
		    "head_scaled_acc", acc, og_op2(g, "Reshape", "head_d",
		    p->ws, og_vec_i64(g, "head_d_shape", (const int64_t[]){
		    -1 }, 1))), s);
	}
	w = is_half(p->t) ? int_attr_node(x, "Cast", "head_f32", &p->w, 1,
	    "to", OG_FLOAT) : p->w;
	return int_attr_node(x, "Gemm", "head", (const char *const[]){ h, w },
	    2, "transB", 1);
}

/* logits = h @ W^T, W the head (the embedding when tied), piece by
 * piece along the vocabulary and concatenated. */
static const char *
head_logits(struct ctx *x, const char *h)
{
	const char *w = x->c->tie_word_embeddings ? BITNET_EMBED_NAME :
	    BITNET_HEAD_NAME;
	const Tstream__TensorInfo *t = tstream_manifest_entry(x->h, w);
	unsigned n = table_pieces(x, t);
	const char **parts = arena_alloc(&x->g->arena, n * sizeof *parts);
	const char *xu7 = NULL, *s = NULL;
	struct piece p;

	if (parts == NULL) {
		x->g->arena.failed = 1;
		return NULL;
	}
	if (t->encoding == TSTREAM__ENCODING__ROW_I8)
		xu7 = head_act_u7(x, h, &s);
	for (unsigned k = 0; k < n; k++) {
		table_piece(x, t, k, &p);
		parts[k] = head_rows(x, &p, h, xu7, s);
	}
	return n == 1 ? parts[0] : int_attr_node(x, "Concat", "logits_pieces",
	    parts, n, "axis", -1);
}

static void
add_head(struct ctx *x, const char *h)
{
	const char *logits;

	if (x->eps == NULL) {
		x->eps = og_scalar_f32(x->g, "rms_norm_eps",
		    (float)x->c->rms_norm_eps);
		x->two = og_scalar_f32(x->g, "two", 2.0f);
	}
	if (x->last_logits)
		h = last_position(x, h);
	logits = head_logits(x, rms_norm(x, h, BITNET_NORM_NAME));
	if (x->last_logits)
		og_node_named(x->g, "Reshape", (const char *const[]){ logits,
		    og_vec_i64(x->g, "logits_shape", (const int64_t[]){ -1, 1,
		    (int64_t)x->c->vocab_size }, 3) }, 2,
		    (const char *const[]){ "logits" }, 1, NULL, 0);
	else
		unflatten(x, logits, x->c->vocab_size, "logits");
}

/* The row whose level the options set (ternary-q2's). */
static const struct projection_form *
level_option_form(void)
{
	for (size_t i = 0; i < N_PROJECTION_FORMS; i++)
		if (projection_forms[i].level == LEVEL_OPTION)
			return &projection_forms[i];
	return NULL;
}

/* An accuracy level given, and no projection whose level it sets; first,
 * the stream's first projection. */
static int
refuse_level(const Tstream__TensorInfo *first, struct diag *d)
{
	const char *takes = tstream_encoding_name(level_option_form()->enc);
	const struct projection_form *f;
	char fixed[96] = "";

	if (first == NULL)
		return diag_fail(d, BN_EXIT_USAGE, "--accuracy-level sets the "
		    "level of %s projections, and the stream has no "
		    "projection: leave it out", takes);
	f = projection_form_of(first->encoding);
	if (f != NULL && f->level >= 0)
		snprintf(fixed, sizeof fixed, " (%s always runs at level %d)",
		    tstream_encoding_name(f->enc), f->level);
	return diag_fail(d, BN_EXIT_USAGE, "tensor '%s' is %s, and no "
	    "projection is %s, whose level --accuracy-level sets%s: leave it "
	    "out", first->name, tstream_encoding_name(first->encoding), takes,
	    fixed);
}

int
bitnet_graph_refuse_opts(const Tstream__StreamHeader *h,
    const struct bitnet_graph_opts *o, struct diag *d)
{
	const Tstream__TensorInfo *first = NULL;
	int level_taken = 0;

	for (size_t i = 0; i < h->n_manifest; i++) {
		const Tstream__TensorInfo *t = h->manifest[i];
		const struct projection_form *f;
		struct bitnet_name bn;

		bitnet_name_parse(t->name, &bn);
		if (!bn.is_projection)
			continue;
		if (first == NULL)
			first = t;
		f = projection_form_of(t->encoding);
		if (f != NULL && f->needs_act_quant && !o->act_quant)
			return diag_fail(d, BN_EXIT_USAGE, "tensor '%s' is %s, "
			    "whose integer matmul needs the quantized "
			    "activations; leave out --no-act-quant", t->name,
			    tstream_encoding_name(t->encoding));
		level_taken |= f != NULL && f->level == LEVEL_OPTION;
	}
	if (o->accuracy_level >= 0 && !level_taken)
		return refuse_level(first, d);
	if (o->gqa && h->config->head_dim % 8 != 0)
		return diag_fail(d, BN_EXIT_USAGE, "head_dim %u: onnxruntime's "
		    "GroupQueryAttention takes a head size that is a multiple "
		    "of 8; leave out --gqa", h->config->head_dim);
	return 0;
}

int
bitnet_graph_build(struct onnx_graph *g, const Tstream__StreamHeader *hdr,
    const struct bitnet_part *part, const struct bitnet_graph_opts *o,
    struct diag *d)
{
	const Tstream__ModelConfig *c = hdr->config;
	struct ctx x = { .g = g, .c = c, .h = hdr, .part = part,
	    .act_quant = o->act_quant,
	    .accuracy_level = o->accuracy_level < 0 ? 0 : o->accuracy_level,
	    .gqa = o->gqa, .last_logits = o->last_logits,
	    .table_piece = o->table_piece,
	    .family = bitnet_config_family(c) };
	const char *flat = og_vec_i64(g, "flat_h", (const int64_t[]){ -1,
	    c->hidden_size }, 2);
	int from_ids = part->kind == BITNET_WHOLE || part->kind == BITNET_EMBED;
	const char *h;

	add_interface(&x);
	x.bs = int_attr_node(&x, "Shape", "batch_seq", (const char *const[]){
	    from_ids ? "input_ids" : "hidden_states" }, 1, "end", 2);
	if (part->kind == BITNET_EMBED) {
		embed(&x, "hidden_states");
	} else {
		h = from_ids ? embed(&x, NULL) : "hidden_states";
		h = og_op2(g, "Reshape", "hidden", h, flat);
		if (part->kind != BITNET_HEAD) {
			add_blocks(&x, h);
			h = x.hidden;
		}
		if (part->kind != BITNET_BLOCKS)
			add_head(&x, h);
	}
	if (og_failed(g))
		return diag_fail(d, BN_EXIT_IO, "building the graph: out of "
		    "memory");
	return 0;
}

/* --- the tables in pieces --------------------------------------------- */

/* The table weight t belongs to: itself, or the weight whose scales t
 * holds; NULL if t is not a table tensor. */
static const Tstream__TensorInfo *
table_weight(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t)
{
	static const char *const tables[] = { BITNET_EMBED_NAME,
	    BITNET_HEAD_NAME };
	size_t n, sl = strlen(BITNET_FORM_SCALES_SUFFIX);

	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		n = strlen(tables[i]);
		if (strncmp(t->name, tables[i], n) == 0 && (t->name[n] ==
		    '\0' || (strncmp(t->name + n, BITNET_FORM_SCALES_SUFFIX,
		    sl) == 0 && t->name[n + sl] == '\0')))
			return tstream_manifest_entry(h, tables[i]);
	}
	return NULL;
}

uint64_t
bitnet_table_piece_rows(const Tstream__StreamHeader *h,
    const Tstream__TensorInfo *t, uint64_t table_piece)
{
	const Tstream__TensorInfo *w = table_weight(h, t);
	uint64_t row, rows;

	if (w == NULL || table_piece == 0 || w->n_shape != 2 ||
	    w->shape[1] == 0)
		return 0;
	row = w->shape[1] * sizeof(float);
	rows = table_piece / row ? table_piece / row : 1;
	return w->shape[0] > rows ? rows : 0;
}

/* How many pieces table tensor t takes (1 when it stays whole), and in
 * *rows the rows of each (0 when whole). */
static unsigned
piece_count(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t,
    uint64_t table_piece, uint64_t *rows)
{
	*rows = bitnet_table_piece_rows(h, t, table_piece);
	return *rows ? (unsigned)((table_weight(h, t)->shape[0] + *rows - 1) /
	    *rows) : 1;
}

/* The pieces of weight `whole` (rows of `rows` each, the last one
 * shorter) into w from *k on: its rows, its bytes, its name NAME.partP. */
static int
add_pieces(struct onnx_graph *g, const struct onnx_weight *whole,
    uint64_t rows, struct onnx_weight *w, size_t *k)
{
	uint64_t all = (uint64_t)whole->dims[0], row_bytes = whole->len / all;
	char name[TSTREAM_MAX_NAME + 32];

	for (unsigned p = 0; p * rows < all; p++) {
		struct onnx_weight *x = &w[(*k)++];
		uint64_t n = all - p * rows < rows ? all - p * rows : rows;

		*x = *whole;
		x->name = og_name_copy(g, onnx_piece_name(whole->name, p, name,
		    sizeof name));
		x->from = p * rows * row_bytes;
		x->len = n * row_bytes;
		x->dims[0] = (int64_t)n;
	}
	return og_failed(g) ? -1 : 0;
}

long
bitnet_graph_weights(struct onnx_graph *g, const Tstream__StreamHeader *h,
    const struct bitnet_graph_opts *o, struct onnx_weight **out,
    struct diag *d)
{
	size_t n = 0, k = 0;
	struct onnx_weight *whole, *w;
	uint64_t rows;

	for (size_t i = 0; i < h->n_manifest; i++)
		n += piece_count(h, h->manifest[i], o->table_piece, &rows);
	whole = arena_alloc(&g->arena, (h->n_manifest + 1) * sizeof *whole);
	w = arena_alloc(&g->arena, (n + 1) * sizeof *w);
	if (whole == NULL || w == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	onnx_weights_whole(h, whole);
	for (size_t i = 0; i < h->n_manifest; i++) {
		if (piece_count(h, h->manifest[i], o->table_piece, &rows) == 1)
			w[k++] = whole[i];
		else if (add_pieces(g, &whole[i], rows, w, &k) == -1)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
	}
	*out = w;
	return (long)k;
}

static Onnx__StringStringEntryProto *
meta(struct onnx_graph *g, const char *key, const char *value)
{
	Onnx__StringStringEntryProto *e = arena_alloc(&g->arena, sizeof *e);

	if (e != NULL) {
		onnx__string_string_entry_proto__init(e);
		e->key = arena_strdup(&g->arena, key);
		e->value = arena_strdup(&g->arena, value ? value : "");
	}
	return e;
}

static char *
producer_chain(struct onnx_graph *g, const Tstream__StreamHeader *h,
    const char *producer)
{
	size_t len = strlen(producer) + 1;
	char *s;

	for (size_t i = 0; i < h->n_producers; i++)
		len += strlen(h->producers[i]) + 3;
	if ((s = arena_alloc(&g->arena, len)) == NULL)
		return NULL;
	for (size_t i = 0; i < h->n_producers; i++) {
		strcat(s, h->producers[i]);
		strcat(s, " | ");
	}
	strcat(s, producer);
	return s;
}

static Onnx__OperatorSetIdProto *
opset(struct onnx_graph *g, const char *domain, int64_t version)
{
	Onnx__OperatorSetIdProto *op = arena_alloc(&g->arena, sizeof *op);

	if (op != NULL) {
		onnx__operator_set_id_proto__init(op);
		op->domain = arena_strdup(&g->arena, domain);
		op->has_version = 1;
		op->version = version;
	}
	return op;
}

static int
uses_domain(const struct onnx_graph *g, const char *domain)
{
	for (size_t i = 0; i < g->graph.n_node; i++)
		if (g->graph.node[i]->domain != NULL &&
		    strcmp(g->graph.node[i]->domain, domain) == 0)
			return 1;
	return 0;
}

int
bitnet_graph_model(struct onnx_graph *g, Onnx__ModelProto *m,
    const Tstream__StreamHeader *h, const char *producer, struct diag *d)
{
	Onnx__OperatorSetIdProto **ops = arena_alloc(&g->arena,
	    2 * sizeof *ops);
	Onnx__StringStringEntryProto **md = arena_alloc(&g->arena,
	    3 * sizeof *md);

	onnx__model_proto__init(m);
	if (ops == NULL || md == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	ops[m->n_opset_import++] = opset(g, "", ONNX_OPSET);
	if (uses_domain(g, ONNX_MS_DOMAIN))
		ops[m->n_opset_import++] = opset(g, ONNX_MS_DOMAIN, ONNX_MS_OPSET);
	m->has_ir_version = 1;
	m->ir_version = ONNX_IR_VERSION;
	m->opset_import = ops;
	m->producer_name = arena_strdup(&g->arena, "bitnet-onnx");
	m->producer_version = arena_strdup(&g->arena, BN_VERSION);
	m->doc_string = arena_printf(&g->arena, "BitNet b1.58 decoder (%s) "
	    "converted by bitnet-onnx", h->config->architecture ?
	    h->config->architecture : "BitNetForCausalLM");
	md[0] = meta(g, "bitnet_onnx.producers", producer_chain(g, h,
	    producer));
	md[1] = meta(g, "bitnet_onnx.source", h->source);
	md[2] = meta(g, "bitnet_onnx.config", h->config_json);
	m->metadata_props = md;
	m->n_metadata_props = 3;
	if (og_failed(g))
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}
