/* SPDX-License-Identifier: ISC */
#include "dequant.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "blockq8.h"
#include "compact.h"
#include "dtype.h"
#include "io.h"
#include "tern_decode.h"
#include "ternary.h"

#define FLOATS_PER_CHUNK (TSTREAM_CHUNK / sizeof(float))

int
dequant_info(const Tstream__TensorInfo *in, Tstream__TensorInfo *out,
    uint64_t *shape_buf, struct diag *d)
{
	uint64_t numel;

	*out = *in;
	memcpy(shape_buf, in->shape, in->n_shape * sizeof *shape_buf);
	out->shape = shape_buf;
	out->dtype = TSTREAM__DTYPE__F32;
	out->encoding = TSTREAM__ENCODING__PLAIN;
	out->has_scale = 0;
	out->scale = 0;
	if (shape_numel(in->shape, in->n_shape, &numel) == -1 ||
	    numel > UINT64_MAX / 4)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': shape too large", in->name);
	out->payload_length = numel * 4;
	return 0;
}

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

int
dequant_check_stream(const Tstream__StreamHeader *h, struct diag *d)
{
	for (size_t i = 0; i < h->n_manifest; i++)
		if (check_entry(h, h->manifest[i], tern_decoder_for(h->config,
		    h->manifest[i]), d) == -1)
			return -1;
	return 0;
}

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

/* A float tensor widened to float32, or with to_f16 narrowed to float16
 * (a value beyond float16's range is refused). */
static int
convert_plain(struct tstream_reader *r, const Tstream__TensorInfo *in,
    int to_f16, struct tstream_writer *w, struct diag *d)
{
	size_t esize = dtype_size(in->dtype);
	size_t per = FLOATS_PER_CHUNK;
	unsigned char *raw = io_alloc(per * esize, in->name, d);
	float *f = io_alloc(per * sizeof *f, in->name, d);
	uint16_t *h = (uint16_t *)(void *)raw;
	uint64_t left = in->payload_length / esize, done = 0;
	int rc = (raw && f) ? 0 : -1;

	while (rc == 0 && left > 0) {
		size_t n = left < per ? (size_t)left : per, ok;

		rc = tstream_read_payload(r, raw, n * esize, d);
		if (rc == 0) {
			dtype_to_f32(in->dtype, raw, f, n);
			rc = check_finite(r, in, f, n, done, d);
		}
		if (rc == 0 && !to_f16)
			rc = tstream_write_payload(w, f, n * sizeof *f, d);
		else if (rc == 0 && (ok = dtype_f32_to_f16(f, h, n)) < n)
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "element %llu is %g, beyond float16; store it as "
			    "f32 (tern-dequant --embed f32)", r->name,
			    in->name, (unsigned long long)(done + ok),
			    (double)f[ok]);
		else if (rc == 0)
			rc = tstream_write_payload(w, h, n * 2, d);
		left -= n;
		done += n;
	}
	free(raw);
	free(f);
	return rc;
}

/* A plain embedding or head in a compact form: a tensor whose storage
 * --embed chooses. */
static int
is_table(const Tstream__TensorInfo *t, const struct compact_opts *o)
{
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	return o->form != COMPACT_F32 &&
	    t->encoding == TSTREAM__ENCODING__PLAIN && !bn.is_compact_scales &&
	    (bn.group == BITNET_GROUP_EMBED || bn.group == BITNET_GROUP_HEAD);
}

/* The table forms quantized a row at a time (compact.h): the encoding,
 * the block along the row (0: the whole row) and whether codes are
 * signed (int8) rather than offset by 128 (uint8). */
struct table_quant {
	enum compact_embed embed;
	Tstream__Encoding encoding;
	uint32_t block;
	int is_signed;
};

static const struct table_quant table_quants[] = {
	{ EMBED_Q8, TSTREAM__ENCODING__BLOCK_Q8, COMPACT_Q8_BLOCK, 0 },
	{ EMBED_INT8, TSTREAM__ENCODING__ROW_I8, 0, 1 },
};

/* The row of --embed's choice if it quantizes tables; NULL if not. */
static const struct table_quant *
embed_quant(const struct compact_opts *o)
{
	for (size_t i = 0; i < sizeof table_quants / sizeof *table_quants;
	    i++)
		if (table_quants[i].embed == o->embed)
			return &table_quants[i];
	return NULL;
}

/* How a float table leaves quantized by rows; NULL when it does not. */
static const struct table_quant *
table_quant(const Tstream__TensorInfo *t, const struct compact_opts *o)
{
	return dtype_is_float(t->dtype) && is_table(t, o) ? embed_quant(o) :
	    NULL;
}

/* The type a bf16 or f16 table is stored in (compact.h); 0 for any other
 * tensor, and under a quantized table form. */
static Tstream__DType
embed_dtype(const Tstream__TensorInfo *t, const struct compact_opts *o)
{
	if (embed_quant(o) != NULL || (t->dtype != TSTREAM__DTYPE__BF16 &&
	    t->dtype != TSTREAM__DTYPE__F16) || !is_table(t, o))
		return 0;
	return o->embed == EMBED_KEEP ? t->dtype : o->embed == EMBED_F32 ?
	    TSTREAM__DTYPE__F32 : TSTREAM__DTYPE__F16;
}

/* Quantize the rows of a float matrix as they come into their codes
 * (tq says how); their scales, held, follow as NAME.scales. */
static int
quant_rows(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const struct table_quant *tq, const Tstream__TensorInfo *out,
    struct tstream_writer *w, float *scales, struct diag *d)
{
	uint64_t cols = in->shape[1], per = out->payload_length / in->shape[0];
	uint32_t block = tq->block ? tq->block : (uint32_t)cols;
	uint64_t blocks = per / block, bad;
	size_t es = dtype_size(in->dtype);
	/* one row as it arrives, then its codes */
	uint8_t *raw = io_alloc(cols * es > per ? cols * es : per, in->name,
	    d);
	float *f = io_alloc(cols * sizeof *f, in->name, d);
	int rc = raw && f ? tstream_begin_tensor(w, out, d) : -1;

	for (uint64_t row = 0; rc == 0 && row < in->shape[0]; row++) {
		rc = tstream_read_payload(r, raw, cols * es, d);
		if (rc == -1)
			break;
		dtype_to_f32(in->dtype, raw, f, cols);
		if (blockq8_quantize_row(f, cols, block, raw,
		    scales + row * blocks, &bad) == -1) {
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "element [%llu, %llu] is %g; %s holds finite "
			    "values", r->name, in->name,
			    (unsigned long long)row, (unsigned long long)bad,
			    (double)f[bad], tstream_encoding_name(tq->encoding));
			break;
		}
		for (uint64_t k = 0; tq->is_signed && k < per; k++)
			raw[k] ^= BLOCKQ8_ZERO;	/* q + 128 -> q as int8 */
		rc = tstream_write_payload(w, raw, per, d);
	}
	free(raw);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(w, d);
}

static int
convert_quant(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const struct table_quant *tq, struct tstream_writer *w, struct diag *d)
{
	Tstream__TensorInfo out[2];
	uint64_t shapes[2][2];
	char sname[TSTREAM_MAX_NAME + 16];
	float *scales = NULL;
	int rc = -1;

	if (compact_info_as(in, tq->encoding, tq->block, out, shapes, sname,
	    sizeof sname, d) == -1 ||
	    (scales = io_alloc(out[1].payload_length, in->name, d)) == NULL)
		return -1;
	if (quant_rows(r, in, tq, &out[0], w, scales, d) == 0 &&
	    tstream_begin_tensor(w, &out[1], d) == 0 &&
	    tstream_write_payload(w, scales, out[1].payload_length, d) == 0)
		rc = tstream_end_tensor(w, d);
	free(scales);
	return rc;
}

/* Pass the tensor on as it is. */
static int
copy_tensor(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	size_t es = dtype_size(in->dtype);
	unsigned char *buf = io_alloc(TSTREAM_CHUNK, in->name, d);
	float *f = io_alloc(TSTREAM_CHUNK / es * sizeof *f, in->name, d);
	uint64_t left = in->payload_length, done = 0;
	int rc = buf && f ? tstream_begin_tensor(w, in, d) : -1;

	while (rc == 0 && left > 0) {
		size_t n = left < TSTREAM_CHUNK ? (size_t)left : TSTREAM_CHUNK;

		rc = tstream_read_payload(r, buf, n, d);
		if (rc == 0 && dtype_is_float(in->dtype)) {
			dtype_to_f32(in->dtype, buf, f, n / es);
			rc = check_finite(r, in, f, n / es, done, d);
		}
		if (rc == 0)
			rc = tstream_write_payload(w, buf, n, d);
		left -= n;
		done += n / es;
	}
	free(buf);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(w, d);
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

/* The f32 writer: W = t * mult, a chunk at a time. */
static int
write_f32(const struct tern_decoder *dec, struct tern_src *s,
    const struct compact_opts *o, struct tstream_writer *w, struct diag *d)
{
	Tstream__TensorInfo out;
	uint64_t shape[TSTREAM_MAX_RANK], numel = s->rows * s->cols;
	int8_t *t = io_alloc(TERN_CHUNK, s->in->name, d);
	float *f = io_alloc(TERN_CHUNK * sizeof *f, s->in->name, d);
	int rc = (t && f) ? dequant_info(s->in, &out, shape, d) : -1;

	(void)o;
	if (rc == 0)
		rc = tstream_begin_tensor(w, &out, d);
	for (uint64_t i = 0; rc == 0 && i < numel; i += TERN_CHUNK) {
		uint64_t n = numel - i < TERN_CHUNK ? numel - i : TERN_CHUNK;

		rc = dec->values(s, i, n, t, d);
		if (rc == 0) {
			ternary_scale_row(t, n, s->mult, 0, f);
			rc = tstream_write_payload(w, f, n * sizeof *f, d);
		}
	}
	free(t);
	free(f);
	return rc == -1 ? -1 : tstream_end_tensor(w, d);
}

/* The int8 and q2 writers: the whole matrix, then compact.c's layout. */
static int
write_compact(const struct tern_decoder *dec, struct tern_src *s,
    const struct compact_opts *o, struct tstream_writer *w, struct diag *d)
{
	struct ternary_matrix m = { .rows = s->rows, .cols = s->cols,
	    .scale = s->mult };
	int rc = -1;

	m.t = io_alloc(m.rows * m.cols, s->in->name, d);
	if (m.t != NULL &&
	    tern_decode(dec, s, 0, m.rows * m.cols, m.t, d) == 0)
		rc = compact_write(&m, s->in, o, w, d);
	free(m.t);
	return rc;
}

/* Read a ternary weight whole, decode it and write it in form o. */
static int
convert_ternary(struct tstream_reader *r, const struct tern_decoder *dec,
    const Tstream__TensorInfo *in, const struct compact_opts *o,
    struct tstream_writer *w, struct diag *d)
{
	struct tern_src s = { .file = r->name, .in = in, .rows = 1 };
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
	    tstream_read_payload(r, raw, in->payload_length, d) == 0 &&
	    dec->open(r->header->config, &s, d) == 0 &&
	    check_mult(r, &s, d) == 0)
		rc = (o->form == COMPACT_F32 ? write_f32 : write_compact)(dec,
		    &s, o, w, d);
	free(raw);
	free(s.work);
	return rc;
}

int
dequant_tensor(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const struct compact_opts *o, struct tstream_writer *w, struct diag *d)
{
	const struct tern_decoder *dec = tern_decoder_for(r->header->config,
	    in);
	Tstream__TensorInfo out;
	uint64_t shape[TSTREAM_MAX_RANK];
	int rc;

	if (check_entry(r->header, in, dec, d) == -1)
		return -1;
	if (dec != NULL)
		return convert_ternary(r, dec, in, o, w, d);
	if (table_quant(in, o) != NULL)
		return convert_quant(r, in, table_quant(in, o), w, d);
	if (embed_dtype(in, o) == in->dtype)
		return copy_tensor(r, in, w, d);
	if (dequant_info(in, &out, shape, d) == -1)
		return -1;
	if (embed_dtype(in, o) == TSTREAM__DTYPE__F16) {
		out.dtype = TSTREAM__DTYPE__F16;
		out.payload_length /= 2;
	}
	if (tstream_begin_tensor(w, &out, d) == -1)
		return -1;
	rc = convert_plain(r, in, out.dtype == TSTREAM__DTYPE__F16, w, d);
	return rc == -1 ? -1 : tstream_end_tensor(w, d);
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

/* Entry t as it leaves: in place, plus a new entry for a compact weight's
 * scales. */
static int
convert_entry(const Tstream__StreamHeader *h, Tstream__TensorInfo *t,
    const struct compact_opts *o, Tstream__TensorInfo **extra,
    struct diag *d)
{
	Tstream__TensorInfo out[2];
	uint64_t shapes[2][TSTREAM_MAX_RANK];
	char sname[TSTREAM_MAX_NAME + 16];
	int n = 1;

	*extra = NULL;
	if (table_quant(t, o) != NULL)
		n = compact_info_as(t, table_quant(t, o)->encoding,
		    table_quant(t, o)->block, out, (uint64_t (*)[2])shapes,
		    sname, sizeof sname, d);
	else if (o->form != COMPACT_F32 && tern_decoder_for(h->config, t))
		n = compact_info(t, o, out, (uint64_t (*)[2])shapes, sname,
		    sizeof sname, d);
	else if (embed_dtype(t, o) == t->dtype)
		return 0;
	else if (embed_dtype(t, o) == TSTREAM__DTYPE__F16)	/* from bf16 */
		return (t->dtype = TSTREAM__DTYPE__F16), 0;
	else
		n = dequant_info(t, &out[0], shapes[0], d) == -1 ? -1 : 1;
	if (n == -1)
		return -1;
	t->dtype = out[0].dtype;
	t->encoding = out[0].encoding;
	t->payload_length = out[0].payload_length;
	t->has_block_size = out[0].has_block_size;
	t->block_size = out[0].block_size;
	t->has_scale = 0;
	if (n == 2 && (*extra = info_dup(&out[1])) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}

Tstream__StreamHeader *
dequant_header(const Tstream__StreamHeader *in, const struct compact_opts *o,
    const char *producer, struct diag *d)
{
	Tstream__StreamHeader *h = tstream_header_copy(in, d);
	Tstream__TensorInfo **m = NULL, **extra = NULL;
	size_t n = 0, i;

	if (h == NULL)
		return NULL;
	m = calloc(2 * h->n_manifest + 1, sizeof *m);
	extra = calloc(h->n_manifest + 1, sizeof *extra);
	if (m == NULL || extra == NULL) {
		diag_fail(d, BN_EXIT_IO, "out of memory");
		goto fail;
	}
	for (i = 0; i < h->n_manifest; i++)
		if (convert_entry(in, h->manifest[i], o, &extra[i], d) == -1)
			goto fail;
	for (i = 0; i < h->n_manifest; i++) {
		m[n++] = h->manifest[i];
		if (extra[i] != NULL)
			m[n++] = extra[i];
	}
	free(h->manifest);
	h->manifest = m;
	h->n_manifest = n;
	free(extra);
	if (tstream_header_add_producer(h, producer, d) == 0)
		return h;
	tstream__stream_header__free_unpacked(h, NULL);
	return NULL;
fail:
	for (i = 0; extra != NULL && i < h->n_manifest; i++)
		if (extra[i] != NULL)
			tstream__tensor_info__free_unpacked(extra[i], NULL);
	free(extra);
	free(m);
	tstream__stream_header__free_unpacked(h, NULL);
	return NULL;
}
