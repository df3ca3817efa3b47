/* SPDX-License-Identifier: ISC */
#include "bitnet_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "dtype.h"
#include "onnx_types.h"
#include "tstream_encoding.h"

/* Is layer part p one of the model's (its family's row says whether it
 * has the sub-norms)? */
static int
part_in_model(const Tstream__ModelConfig *c, int p)
{
	return bitnet_family_has_part(bitnet_config_family(c),
	    (enum bitnet_layer_part)p);
}

/* The shape the config implies for name, or -1 for a tensor that is no
 * part of the model. */
static int
expected_shape(const Tstream__ModelConfig *c, const struct bitnet_name *bn,
    uint64_t *shape, size_t *rank)
{
	uint64_t h = c->hidden_size, f = c->intermediate_size;
	uint64_t q = (uint64_t)c->num_attention_heads * c->head_dim;
	uint64_t kv = (uint64_t)c->num_key_value_heads * c->head_dim;

	if (bn->group == BITNET_GROUP_EMBED || bn->group == BITNET_GROUP_HEAD) {
		shape[0] = c->vocab_size;
		shape[1] = h;
		*rank = 2;
		return 0;
	}
	if (bn->group == BITNET_GROUP_NORM) {
		shape[0] = h;
		*rank = 1;
		return 0;
	}
	if (bn->is_rotary && bn->layer < (long)c->num_hidden_layers &&
	    bitnet_family_of(bitnet_config_family(c))->saved_rotary) {
		shape[0] = c->head_dim / 2;	/* a saved inv_freq */
		*rank = 1;
		return 0;
	}
	if (bn->group != BITNET_GROUP_LAYER || bn->rows == 0 ||
	    bn->layer >= (long)c->num_hidden_layers ||
	    !part_in_model(c, bn->part))
		return -1;
	*rank = bn->cols ? 2 : 1;
	for (size_t i = 0; i < *rank; i++) {
		char k = i ? bn->cols : bn->rows;
		shape[i] = k == 'h' ? h : k == 'q' ? q : k == 'k' ? kv : f;
	}
	return 0;
}

/* The scales of an int8 weight (f32 [1]) or a q2 weight (f32 [rows,
 * blocks]), which must be beside it. */
static int
check_compact_scales(const Tstream__StreamHeader *h,
    const Tstream__TensorInfo *t, struct diag *d)
{
	size_t len = strlen(t->name) - strlen(BITNET_FORM_SCALES_SUFFIX);
	char owner[TSTREAM_MAX_NAME + 1];
	const Tstream__TensorInfo *w;
	uint64_t want[2] = { 1, 1 };
	size_t rank = 0;
	char ws[64];

	snprintf(owner, sizeof owner, "%.*s", (int)len, t->name);
	w = tstream_manifest_entry(h, owner);
	if (w == NULL || (rank = tstream_scales_shape(w, want)) == 0)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' has no int8, "
		    "q2 or block-q8 weight '%s' beside it", t->name, owner);
	if (t->dtype != TSTREAM__DTYPE__F32 ||
	    t->encoding != TSTREAM__ENCODING__PLAIN || t->n_shape != rank ||
	    t->shape[0] != want[0] || (rank == 2 && t->shape[1] != want[1]))
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' is not the "
		    "plain f32 %s of scales its %s weight needs", t->name,
		    shape_format(want, rank, ws, sizeof ws),
		    tstream_encoding_name(w->encoding));
	return 0;
}

/* What onnx-emit builds from: plain f32; bf16, f16, block-q8 or row-i8
 * for the embedding and the head; and for projections also the ternary
 * compact forms; each compact form with its scales. */
static int
check_form(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t,
    const struct bitnet_name *bn, struct diag *d)
{
	const struct tstream_encoding *e = tstream_encoding_of(t->encoding);
	int table = bn->group == BITNET_GROUP_EMBED ||
	    bn->group == BITNET_GROUP_HEAD;
	char sname[TSTREAM_MAX_NAME + 16], forms[64];

	if (t->encoding == TSTREAM__ENCODING__PLAIN &&
	    (t->dtype == TSTREAM__DTYPE__F32 || (table &&
	    (t->dtype == TSTREAM__DTYPE__BF16 ||
	    t->dtype == TSTREAM__DTYPE__F16))))
		return 0;
	if (e != NULL && e->blocked && t->block_size > ONNX_NBITS_MAX_BLOCK)
		return diag_fail(d, BN_EXIT_INPUT, "%s tensor '%s' has blocks "
		    "of %u; onnxruntime's MatMulNBits takes %d to %d",
		    tstream_encoding_name(t->encoding), t->name, t->block_size,
		    ONNX_NBITS_MIN_BLOCK, ONNX_NBITS_MAX_BLOCK);
	if (e != NULL && e->scales_shape != NULL &&
	    (bn->is_projection ? e->ternary : table && !e->ternary)) {
		snprintf(sname, sizeof sname, "%s%s", t->name,
		    BITNET_FORM_SCALES_SUFFIX);
		if (tstream_manifest_entry(h, sname) != NULL)
			return 0;
		return diag_fail(d, BN_EXIT_INPUT, "%s tensor '%s' comes "
		    "without its scales '%s'", tstream_encoding_name(
		    t->encoding), t->name, sname);
	}
	return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' is %s %s; "
	    "onnx-emit takes plain f32 (bf16, f16, block-q8 or row-i8 for "
	    "the embedding and head) and projections in one of %s (run "
	    "tern-dequant first)",
	    t->name, dtype_name(t->dtype),
	    tstream_encoding_name(t->encoding),
	    tstream_encoding_forms(", ", forms, sizeof forms));
}

static int
check_tensor(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t,
    const struct bitnet_name *bn, struct diag *d)
{
	const Tstream__ModelConfig *c = h->config;
	uint64_t want[2];
	size_t rank;
	char ws[64], gs[64];

	if (bn->is_compact_scales)
		return check_compact_scales(h, t, d);
	if (expected_shape(c, bn, want, &rank) == -1)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' is not part "
		    "of a BitNet model with this config", t->name);
	shape_format(want, rank, ws, sizeof ws);
	if (t->n_shape != rank || t->shape[0] != want[0] ||
	    (rank == 2 && t->shape[1] != want[1]))
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' has shape %s; "
		    "the config implies %s", t->name, shape_format(t->shape,
		    t->n_shape, gs, sizeof gs), ws);
	return check_form(h, t, bn, d);
}

struct census {
	int embed, norm, lm_head;
	unsigned *per_layer;	/* tensors seen per layer */
	unsigned n_layers;	/* layers with any tensor */
	long first, last;
};

static int
take_census(const Tstream__StreamHeader *h, struct census *s, struct diag *d)
{
	const Tstream__ModelConfig *c = h->config;

	s->first = -1;
	if ((s->per_layer = calloc(c->num_hidden_layers + 1,
	    sizeof *s->per_layer)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < h->n_manifest; i++) {
		struct bitnet_name bn;

		bitnet_name_parse(h->manifest[i]->name, &bn);
		if (check_tensor(h, h->manifest[i], &bn, d) == -1)
			return -1;
		if (bn.is_compact_scales || bn.is_rotary)
			continue;	/* rotary: optional, a layer's own */
		s->embed += bn.group == BITNET_GROUP_EMBED;
		s->norm += bn.group == BITNET_GROUP_NORM;
		s->lm_head += bn.group == BITNET_GROUP_HEAD;
		if (bn.group != BITNET_GROUP_LAYER)
			continue;
		if (s->per_layer[bn.layer]++ == 0)
			s->n_layers++;
		if (s->first < 0 || bn.layer < s->first)
			s->first = bn.layer;
		if (bn.layer > s->last)
			s->last = bn.layer;
	}
	return 0;
}

/* Layers first..last must all be there, each with all its tensors. */
static int
check_layers(const Tstream__ModelConfig *c, const struct census *s,
    struct diag *d)
{
	int want = 0;

	for (int p = 0; p < BITNET_LAYER_TENSORS; p++)
		want += part_in_model(c, p);
	if ((long)s->n_layers != s->last - s->first + 1)
		return diag_fail(d, BN_EXIT_INPUT, "the layers in the stream "
		    "(%u of them, from %ld to %ld) are not one contiguous "
		    "range; convert each range on its own", s->n_layers,
		    s->first, s->last);
	for (long l = s->first; l <= s->last; l++)
		if (s->per_layer[l] != (unsigned)want)
			return diag_fail(d, BN_EXIT_INPUT, "layer %ld has %u of "
			    "its %d tensors; a block needs all of them", l,
			    s->per_layer[l], want);
	return 0;
}

static int
classify(const Tstream__ModelConfig *c, const struct census *s,
    struct bitnet_part *p, struct diag *d)
{
	int head = s->norm && (c->tie_word_embeddings ? s->embed : s->lm_head);

	if (s->n_layers > 0 && check_layers(c, s, d) == -1)
		return -1;
	p->first = s->n_layers ? (unsigned)s->first : 0;
	p->last = s->n_layers ? (unsigned)s->last : 0;
	if (s->n_layers == c->num_hidden_layers && s->embed && head &&
	    (c->tie_word_embeddings ? !s->lm_head : 1))
		p->kind = BITNET_WHOLE;
	else if (s->n_layers && !s->embed && !s->norm && !s->lm_head)
		p->kind = BITNET_BLOCKS;
	else if (!s->n_layers && s->embed && !s->norm && !s->lm_head)
		p->kind = BITNET_EMBED;
	else if (!s->n_layers && head && s->embed + s->lm_head == 1)
		p->kind = BITNET_HEAD;
	else
		return diag_fail(d, BN_EXIT_INPUT, "the stream holds %s%s%s"
		    "%u layers: not a whole model, nor the embedding, a range "
		    "of layers or the final norm with the head alone",
		    s->embed ? "the embedding, " : "", s->norm ?
		    "the final norm, " : "", s->lm_head ? "lm_head, " : "",
		    s->n_layers);
	return 0;
}

int
bitnet_plan(const Tstream__StreamHeader *h, struct bitnet_part *p,
    struct diag *d)
{
	struct census s = { 0 };
	int rc = take_census(h, &s, d);

	if (rc == 0)
		rc = classify(h->config, &s, p, d);
	free(s.per_layer);
	return rc;
}

const char *
bitnet_part_describe(const struct bitnet_part *p, char *buf, size_t len)
{
	switch (p->kind) {
	case BITNET_WHOLE:
		snprintf(buf, len, "whole model, %u layers: input_ids -> "
		    "logits", p->last + 1);
		break;
	case BITNET_EMBED:
		snprintf(buf, len, "embedding: input_ids -> hidden_states");
		break;
	case BITNET_BLOCKS:
		if (p->first == p->last)
			snprintf(buf, len, "decoder block %u: hidden_states -> "
			    "hidden_states_out", p->first);
		else
			snprintf(buf, len, "decoder blocks %u-%u: hidden_states "
			    "-> hidden_states_out", p->first, p->last);
		break;
	case BITNET_HEAD:
		snprintf(buf, len, "final norm and head: hidden_states -> "
		    "logits");
		break;
	}
	return buf;
}
