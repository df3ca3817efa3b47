/* SPDX-License-Identifier: ISC */
#include "recode.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_names.h"
#include "blockq8.h"
#include "compact.h"
#include "dtype.h"
#include "io.h"
#include "rowname.h"
#include "tern_decode.h"
#include "ternary.h"

#define FLOATS_PER_CHUNK (TSTREAM_CHUNK / sizeof(float))

/* --- the table forms ------------------------------------------------ */

static const struct recode_table_form table_forms[] = {
	{ "f16", TSTREAM__ENCODING__PLAIN, 0, NULL, TSTREAM__DTYPE__F16 },
	{ "f32", TSTREAM__ENCODING__PLAIN, 0, NULL, TSTREAM__DTYPE__F32 },
	{ "keep", TSTREAM__ENCODING__PLAIN, 0, NULL, 0 },
	{ "q8", TSTREAM__ENCODING__BLOCK_Q8, BLOCKQ8_TABLE_BLOCK,
	    blockq8_quantize_row, 0 },
	{ "q4", TSTREAM__ENCODING__BLOCK_Q4, BLOCKQ8_TABLE_BLOCK,
	    blockq4_quantize_row, 0 },
	{ "q4-256", TSTREAM__ENCODING__BLOCK_Q4, BLOCKQ4_WIDE_BLOCK,
	    blockq4_quantize_row, 0 },
	{ "int8", TSTREAM__ENCODING__ROW_I8, 0, blockq8_quantize_row_i8, 0 },
};
#define N_TABLE_FORMS (sizeof table_forms / sizeof *table_forms)

const struct recode_table_form *
recode_table_form_at(size_t i)
{
	return i < N_TABLE_FORMS ? &table_forms[i] : NULL;
}

const struct recode_table_form *
recode_table_form_by_name(const char *s)
{
	return rowname_find(ROWNAME_TABLE(table_forms,
	    struct recode_table_form, name), s);
}

const char *
recode_table_form_names(const char *sep, const char *last, char *buf,
    size_t len)
{
	return rowname_join(ROWNAME_TABLE(table_forms,
	    struct recode_table_form, name), sep, last, buf, len);
}

/* --- plans ----------------------------------------------------------- */

struct recode_job;

/* A way a tensor is carried out, given its plan. */
struct recode_writer {
	const char *what;
	int (*write)(const struct recode_job *j, struct diag *d);
};

/* One manifest entry's plan. */
struct recode_step {
	const struct recode_writer *writer;
	const struct tern_decoder *dec;	/* its ternary source, or NULL */
	Tstream__Encoding encoding;	/* as it leaves */
	Tstream__DType dtype;		/* PLAIN: the float type it leaves in */
	uint32_t block;			/* a blocked encoding's block */
	const struct recode_table_form *table;	/* row-quantized: its form */
};

struct recode_plan {
	size_t n;
	struct recode_step step[];
};

/* The tensor being carried out. */
struct recode_job {
	struct tstream_reader *r;
	const Tstream__TensorInfo *in;
	const struct recode_step *s;
	struct tstream_writer *w;
};

/* The entries a tensor leaves as: info[0], and info[1] its scales when
 * compact. */
struct leaving {
	Tstream__TensorInfo info[2];
	uint64_t shape[TSTREAM_MAX_RANK];
	uint64_t compact_shapes[2][2];
	char scales_name[TSTREAM_MAX_NAME + 16];
};

/* The plain float tensor of type dtype (f32 or f16) that in becomes. */
static int
float_info(const Tstream__TensorInfo *in, Tstream__DType dtype,
    Tstream__TensorInfo *out, uint64_t *shape_buf, struct diag *d)
{
	uint64_t numel;

	*out = *in;
	memcpy(shape_buf, in->shape, in->n_shape * sizeof *shape_buf);
	out->shape = shape_buf;
	out->dtype = dtype;
	out->encoding = TSTREAM__ENCODING__PLAIN;
	out->has_scale = 0;
	out->scale = 0;
	if (shape_numel(in->shape, in->n_shape, &numel) == -1 ||
	    numel > UINT64_MAX / 4)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': shape too large", in->name);
	out->payload_length = numel * dtype_size(dtype);
	return 0;
}

/* What in leaves as under step s: the count of entries, or -1. */
static int
leaving_info(const struct recode_step *s, const Tstream__TensorInfo *in,
    struct leaving *l, struct diag *d)
{
	if (s->encoding != TSTREAM__ENCODING__PLAIN)
		return compact_info(in, s->encoding, s->block, l->info,
		    l->compact_shapes, l->scales_name, sizeof l->scales_name,
		    d);
	return float_info(in, s->dtype, &l->info[0], l->shape, d) == -1 ?
	    -1 : 1;
}

/* --- the writers ----------------------------------------------------- */

/* No model has a weight that is not a finite number, and one NaN in a
 * norm or in RoPE's frequencies makes every logit NaN: refuse it where
 * it is read.  f holds elements base .. base + n - 1 of in. */
static int
check_finite(const struct tstream_reader *r, const Tstream__TensorInfo *in,
    const float *f, size_t n, uint64_t base, struct diag *d)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(f[i]))
			return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "element %llu is %g; weights are finite numbers",
			    r->name, in->name, (unsigned long long)(base + i),
			    (double)f[i]);
	return 0;
}

/* A chunk of float32 f as the float type out: as it is, or narrowed to
 * float16 (a value beyond float16's range is refused). */
static int
write_floats(const struct recode_job *j, const float *f, size_t n,
    uint64_t done, uint16_t *h, struct diag *d)
{
	size_t ok;

	if (j->s->dtype != TSTREAM__DTYPE__F16)
		return tstream_write_payload(j->w, f, n * sizeof *f, d);
	if ((ok = dtype_f32_to_f16(f, h, n)) < n)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': element "
		    "%llu is %g, beyond float16; store it as f32 "
		    "(tern-dequant --embed f32)", j->r->name, j->in->name,
		    (unsigned long long)(done + ok), (double)f[ok]);
	return tstream_write_payload(j->w, h, n * 2, d);
}

/* A float tensor widened to float32 or narrowed to float16. */
static int
write_float(const struct recode_job *j, struct diag *d)
{
	const Tstream__TensorInfo *in = j->in;
	size_t esize = dtype_size(in->dtype), per = FLOATS_PER_CHUNK;
	unsigned char *raw = io_alloc(per * esize, in->name, d);
	float *f = io_alloc(per * sizeof *f, in->name, d);
	uint64_t left = in->payload_length / esize, done = 0;
	struct leaving l;
	int rc = raw && f ? leaving_info(j->s, in, &l, d) : -1;

	if (rc == 1)
		rc = tstream_begin_tensor(j->w, &l.info[0], d);
	while (rc == 0 && left > 0) {
		size_t n = left < per ? (size_t)left : per;

		rc = tstream_read_payload(j->r, raw, n * esize, d);
		if (rc == 0) {
			dtype_to_f32(in->dtype, raw, f, n);
			rc = check_finite(j->r, in, f, n, done, d);
		}
		if (rc == 0)
			rc = write_floats(j, f, n, done, (uint16_t *)(void *)raw,
			    d);
		left -= n;
		done += n;
	}
	free(raw);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(j->w, d);
}

/* A float tensor passed on as it is (its values checked). */
static int
write_copy(const struct recode_job *j, struct diag *d)
{
	const Tstream__TensorInfo *in = j->in;
	size_t es = dtype_size(in->dtype);
	unsigned char *buf = io_alloc(TSTREAM_CHUNK, in->name, d);
	float *f = io_alloc(TSTREAM_CHUNK / es * sizeof *f, in->name, d);
	uint64_t left = in->payload_length, done = 0;
	int rc = buf && f ? tstream_begin_tensor(j->w, in, d) : -1;

	while (rc == 0 && left > 0) {
		size_t n = left < TSTREAM_CHUNK ? (size_t)left : TSTREAM_CHUNK;

		rc = tstream_read_payload(j->r, buf, n, d);
		if (rc == 0) {
			dtype_to_f32(in->dtype, buf, f, n / es);
			rc = check_finite(j->r, in, f, n / es, done, d);
		}
		if (rc == 0)
			rc = tstream_write_payload(j->w, buf, n, d);
		left -= n;
		done += n / es;
	}
	free(buf);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(j->w, d);
}

/* Quantize the rows of a float matrix as they come into their codes
 * (the table form says how); their scales, held, follow. */
static int
quant_rows(const struct recode_job *j, const Tstream__TensorInfo *out,
    float *scales, struct diag *d)
{
	const Tstream__TensorInfo *in = j->in;
	const struct recode_table_form *tf = j->s->table;
	uint64_t cols = in->shape[1], per = out->payload_length / in->shape[0];
	uint32_t block = tf->block ? tf->block : (uint32_t)cols;
	uint64_t blocks = tstream_blocks(cols, block), bad;
	size_t es = dtype_size(in->dtype);
	/* one row as it arrives, then its codes */
	uint8_t *raw = io_alloc(cols * es > per ? cols * es : per, in->name,
	    d);
	float *f = io_alloc(cols * sizeof *f, in->name, d);
	int rc = raw && f ? tstream_begin_tensor(j->w, out, d) : -1;

	for (uint64_t row = 0; rc == 0 && row < in->shape[0]; row++) {
		rc = tstream_read_payload(j->r, raw, cols * es, d);
		if (rc == -1)
			break;
		dtype_to_f32(in->dtype, raw, f, cols);
		if (tf->quantize_row(f, cols, block, raw,
		    scales + row * blocks, &bad) == -1) {
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "element [%llu, %llu] is %g; %s holds finite "
			    "values", j->r->name, in->name,
			    (unsigned long long)row, (unsigned long long)bad,
			    (double)f[bad], tstream_encoding_name(out->encoding));
			break;
		}
		rc = tstream_write_payload(j->w, raw, per, d);
	}
	free(raw);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(j->w, d);
}

/* A float table quantized a row at a time, then its scales. */
static int
write_rows(const struct recode_job *j, struct diag *d)
{
	struct leaving l;
	float *scales = NULL;
	int rc = -1;

	if (leaving_info(j->s, j->in, &l, d) == -1 ||
	    (scales = io_alloc(l.info[1].payload_length, j->in->name,
	    d)) == NULL)
		return -1;
	if (quant_rows(j, &l.info[0], scales, d) == 0 &&
	    tstream_begin_tensor(j->w, &l.info[1], d) == 0 &&
	    tstream_write_payload(j->w, scales, l.info[1].payload_length,
	    d) == 0)
		rc = tstream_end_tensor(j->w, d);
	free(scales);
	return rc;
}

/* A projection's output is at most 127 * K * |mult| (int8 activations,
 * ternary weights, K inputs): a scale that makes it overflow float32 makes
 * every logit NaN or infinite, and is refused where it is read.  K is the
 * widest input of the config's projections. */
static int
check_mult(const struct tstream_reader *r, const struct tern_src *s,
    struct diag *d)
{
	const Tstream__ModelConfig *c = r->header->config;
	double k = c->hidden_size, q = (double)c->num_attention_heads *
	    c->head_dim;

	if (c->intermediate_size > k)
		k = c->intermediate_size;
	if (q > k)
		k = q;
	if (isfinite(s->mult) && 127.0 * k * fabs((double)s->mult) <= FLT_MAX)
		return 0;
	return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': its weights are "
	    "%g times their ternary values, and 127 * %.0f inputs of that "
	    "overflow float32", r->name, s->in->name, (double)s->mult, k);
}

/* A decoded ternary weight as float32, W = t * mult, a chunk at a
 * time. */
static int
emit_tern_f32(const struct recode_job *j, struct tern_src *s,
    struct diag *d)
{
	struct leaving l;
	uint64_t numel = s->rows * s->cols;
	int8_t *t = io_alloc(TERN_CHUNK, s->in->name, d);
	float *f = io_alloc(TERN_CHUNK * sizeof *f, s->in->name, d);
	int rc = t && f ? leaving_info(j->s, s->in, &l, d) : -1;

	if (rc == 1)
		rc = tstream_begin_tensor(j->w, &l.info[0], d);
	for (uint64_t i = 0; rc == 0 && i < numel; i += TERN_CHUNK) {
		uint64_t n = numel - i < TERN_CHUNK ? numel - i : TERN_CHUNK;

		rc = j->s->dec->values(s, i, n, t, d);
		if (rc == 0) {
			ternary_scale_row(t, n, s->mult, 0, f);
			rc = tstream_write_payload(j->w, f, n * sizeof *f, d);
		}
	}
	free(t);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(j->w, d);
}

/* A decoded ternary weight whole, in compact.c's layout. */
static int
emit_tern_compact(const struct recode_job *j, struct tern_src *s,
    struct diag *d)
{
	struct ternary_matrix m = { .rows = s->rows, .cols = s->cols,
	    .scale = s->mult };
	int rc = -1;

	m.t = io_alloc(m.rows * m.cols, s->in->name, d);
	if (m.t != NULL &&
	    tern_decode(j->s->dec, s, 0, m.rows * m.cols, m.t, d) == 0)
		rc = compact_write(&m, s->in, j->s->encoding, j->s->block,
		    j->w, d);
	free(m.t);
	return rc;
}

/* Read a ternary weight whole, open its decoder, and emit it. */
static int
read_ternary(const struct recode_job *j, int (*emit)(const struct
    recode_job *, struct tern_src *, struct diag *), struct diag *d)
{
	const Tstream__TensorInfo *in = j->in;
	struct tern_src s = { .file = j->r->name, .in = in, .rows = 1 };
	uint8_t *raw = io_alloc(in->payload_length, in->name, d);
	int rc = -1;

	if (in->n_shape == 2) {
		s.rows = in->shape[0];
		s.cols = in->shape[1];
	} else {	/* a flat one (I2_S): the stream checked its count */
		shape_numel(in->shape, in->n_shape, &s.cols);
	}
	s.raw = raw;
	s.work = io_alloc(TERN_CHUNK * sizeof *s.work, in->name, d);
	if (raw != NULL && s.work != NULL &&
	    tstream_read_payload(j->r, raw, in->payload_length, d) == 0 &&
	    j->s->dec->open(j->r->header->config, &s, d) == 0 &&
	    check_mult(j->r, &s, d) == 0)
		rc = emit(j, &s, d);
	free(raw);
	free(s.work);
	return rc;
}

static int
write_tern_f32(const struct recode_job *j, struct diag *d)
{
	return read_ternary(j, emit_tern_f32, d);
}

static int
write_tern_compact(const struct recode_job *j, struct diag *d)
{
	return read_ternary(j, emit_tern_compact, d);
}

/* Every writer, one row each. */
enum { W_FLOAT, W_COPY, W_ROWS, W_TERN_F32, W_TERN_COMPACT };
static const struct recode_writer writers[] = {
	[W_FLOAT] = { "float to f32 or f16", write_float },
	[W_COPY] = { "copy", write_copy },
	[W_ROWS] = { "table quantized by rows", write_rows },
	[W_TERN_F32] = { "ternary to f32", write_tern_f32 },
	[W_TERN_COMPACT] = { "ternary to a compact form", write_tern_compact },
};

/* --- working the plans out ------------------------------------------- */

/* Can t be converted?  dec is its ternary decoder, or NULL. */
static int
check_entry(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t,
    const struct tern_decoder *dec, struct diag *d)
{
	if (dec != NULL)
		return dec->check(h->config, t, d);
	if (t->encoding != TSTREAM__ENCODING__PLAIN)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': encoding %s is not supported by this version",
		    t->name, tstream_encoding_name(t->encoding));
	if (!dtype_is_float(t->dtype))
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': plain %s is not a float tensor; "
		    "only f32, f16 and bf16 convert to f32", t->name,
		    dtype_name(t->dtype));
	return 0;
}

/* A plain embedding or head beside compact projections: a tensor whose
 * storage the table form chooses. */
static int
is_table(const Tstream__TensorInfo *t, const struct recode_opts *o)
{
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	return o->form != TSTREAM__ENCODING__PLAIN &&
	    t->encoding == TSTREAM__ENCODING__PLAIN && !bn.is_compact_scales &&
	    (bn.group == BITNET_GROUP_EMBED || bn.group == BITNET_GROUP_HEAD);
}

/* The plan of manifest entry t under o: decided here, once. */
static int
plan_step(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t,
    const struct recode_opts *o, struct recode_step *s, struct diag *d)
{
	const struct recode_table_form *tf = o->table ? o->table :
	    &table_forms[0];
	int half = t->dtype == TSTREAM__DTYPE__BF16 ||
	    t->dtype == TSTREAM__DTYPE__F16;

	*s = (struct recode_step){ .writer = &writers[W_FLOAT],
	    .dec = tern_decoder_for(h->config, t),
	    .encoding = TSTREAM__ENCODING__PLAIN, .dtype = TSTREAM__DTYPE__F32 };
	if (check_entry(h, t, s->dec, d) == -1)
		return -1;
	if (s->dec != NULL) {
		s->encoding = o->form;
		s->block = o->block_size;
		s->writer = &writers[o->form == TSTREAM__ENCODING__PLAIN ?
		    W_TERN_F32 : W_TERN_COMPACT];
	} else if (is_table(t, o) && tf->encoding !=
	    TSTREAM__ENCODING__PLAIN) {
		s->encoding = tf->encoding;
		s->block = tf->block;
		s->table = tf;
		s->writer = &writers[W_ROWS];
	} else if (is_table(t, o) && half) {
		s->dtype = tf->half ? tf->half : t->dtype;
		if (s->dtype == t->dtype)
			s->writer = &writers[W_COPY];
	}
	return 0;
}

/* A manifest entry of its own (a compact weight's scales), owned by the
 * header. */
static Tstream__TensorInfo *
info_dup(const Tstream__TensorInfo *t)
{
	Tstream__TensorInfo *c = malloc(sizeof *c);

	if (c == NULL)
		return NULL;
	*c = *t;
	c->name = strdup(t->name);
	c->source = t->source ? strdup(t->source) : NULL;
	c->shape = malloc(t->n_shape * sizeof *c->shape);
	if (c->name == NULL || c->shape == NULL ||
	    (t->source && c->source == NULL)) {
		tstream__tensor_info__free_unpacked(c, NULL);
		return NULL;
	}
	memcpy(c->shape, t->shape, t->n_shape * sizeof *c->shape);
	return c;
}

/* Header entry t as it leaves under s: in place, plus in *extra a new
 * entry for a compact weight's scales. */
static int
leave_entry(const struct recode_step *s, Tstream__TensorInfo *t,
    Tstream__TensorInfo **extra, struct diag *d)
{
	struct leaving l;
	int n;

	*extra = NULL;
	if (s->writer == &writers[W_COPY])
		return 0;
	if ((n = leaving_info(s, t, &l, d)) == -1)
		return -1;
	t->dtype = l.info[0].dtype;
	t->encoding = l.info[0].encoding;
	t->payload_length = l.info[0].payload_length;
	t->has_block_size = l.info[0].has_block_size;
	t->block_size = l.info[0].block_size;
	t->has_scale = 0;
	if (n == 2 && (*extra = info_dup(&l.info[1])) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}

/* Plan every entry of h (a copy of the input header) and rewrite it as
 * it leaves into m, a manifest of room for twice its entries. */
static int
plan_entries(const Tstream__StreamHeader *in, Tstream__StreamHeader *h,
    const struct recode_opts *o, struct recode_plan *p,
    Tstream__TensorInfo **m, struct diag *d)
{
	Tstream__TensorInfo *extra;
	size_t n = 0, i, k;

	for (i = 0; i < h->n_manifest; i++) {
		if (plan_step(in, in->manifest[i], o, &p->step[i], d) == -1 ||
		    leave_entry(&p->step[i], h->manifest[i], &extra, d) == -1)
			break;
		m[n++] = h->manifest[i];
		if (extra != NULL)
			m[n++] = extra;
		p->n++;
	}
	if (i == h->n_manifest)
		return (int)n;
	for (i = k = 0; k < n; k++)	/* m merges h's entries and extras */
		if (i < h->n_manifest && m[k] == h->manifest[i])
			i++;
		else
			tstream__tensor_info__free_unpacked(m[k], NULL);
	return -1;
}

struct recode_plan *
recode_plan_stream(const Tstream__StreamHeader *in,
    const struct recode_opts *o, const char *file, const char *producer,
    Tstream__StreamHeader **out, struct diag *d)
{
	Tstream__StreamHeader *h = tstream_header_copy(in, d);
	struct recode_plan *p = NULL;
	Tstream__TensorInfo **m = NULL;
	int n = -1;

	if (h != NULL) {
		p = calloc(1, sizeof *p + h->n_manifest * sizeof *p->step);
		m = calloc(2 * h->n_manifest + 1, sizeof *m);
		if (p == NULL || m == NULL)
			diag_fail(d, BN_EXIT_IO, "out of memory");
		else if ((n = plan_entries(in, h, o, p, m, d)) == -1)
			diag_prefix(d, "%s", file);
	}
	if (n >= 0) {
		free(h->manifest);
		h->manifest = m;
		h->n_manifest = (size_t)n;
		m = NULL;
	}
	if (n >= 0 && tstream_header_add_producer(h, producer, d) == 0) {
		*out = h;
		return p;
	}
	free(m);
	free(p);
	if (h != NULL)
		tstream__stream_header__free_unpacked(h, NULL);
	return NULL;
}

int
recode_tensor(const struct recode_plan *p, struct tstream_reader *r,
    struct tstream_writer *w, struct diag *d)
{
	const struct recode_step *s;
	struct recode_job j;

	if (r->cur == NULL || r->cur_entry < 0 || (size_t)r->cur_entry >= p->n)
		return diag_fail(d, BN_EXIT_USAGE, "%s: no tensor to recode",
		    r->name);
	s = &p->step[r->cur_entry];
	j = (struct recode_job){ r, r->cur, s, w };
	/* the tensor's own header agrees with its entry but is checked
	 * again: its scale is its own */
	if (check_entry(r->header, r->cur, s->dec, d) == -1)
		return -1;
	return s->writer->write(&j, d);
}

void
recode_plan_free(struct recode_plan *p)
{
	free(p);
}
