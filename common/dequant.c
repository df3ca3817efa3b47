/* SPDX-License-Identifier: ISC */
#include "dequant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "compact.h"
#include "dtype.h"
#include "io.h"
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

/* A projection of bf16 master weights, quantized as AutoBitLinear does
 * when quantization_mode is online. */
static int
quantizes_online(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t)
{
	const char *mode = h->config->quantization_mode;
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	return bn.is_projection && t->encoding == TSTREAM__ENCODING__PLAIN &&
	    mode != NULL && strcmp(mode, "online") == 0;
}

static int
check_entry(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t,
    struct diag *d)
{
	const Tstream__ModelConfig *c = h->config;
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	if (t->encoding == TSTREAM__ENCODING__PLAIN) {
		if (!dtype_is_float(t->dtype))
			return diag_fail(d, BN_EXIT_INPUT,
			    "tensor '%s': plain %s is not a float tensor; "
			    "only f32, f16 and bf16 convert to f32", t->name,
			    dtype_name(t->dtype));
		if (quantizes_online(h, t) && (t->n_shape != 2 ||
		    t->payload_length > DEQUANT_MAX_PACKED))
			return diag_fail(d, BN_EXIT_INPUT,
			    "tensor '%s': a projection to quantize must be a "
			    "matrix of at most %u bytes", t->name,
			    DEQUANT_MAX_PACKED);
		return 0;
	}
	if (t->encoding == TSTREAM__ENCODING__TERNARY_I2S)
		return t->payload_length > DEQUANT_MAX_PACKED ?
		    diag_fail(d, BN_EXIT_INPUT, "tensor '%s': I2_S payload of "
		    "%llu bytes, more than the limit of %u", t->name,
		    (unsigned long long)t->payload_length,
		    DEQUANT_MAX_PACKED) : 0;
	if (t->encoding != TSTREAM__ENCODING__TERNARY_HF_PACKED)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': encoding %s is not supported by this version",
		    t->name, tstream_encoding_name(t->encoding));
	if (c->linear_class == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s' is packed ternary, but the config has no "
		    "quantization_config.linear_class to say how its scale "
		    "applies", t->name);
	if (t->payload_length > DEQUANT_MAX_PACKED)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': packed payload of %llu bytes, more than "
		    "the limit of %u", t->name,
		    (unsigned long long)t->payload_length, DEQUANT_MAX_PACKED);
	/* a divisor must be a normal float32: 1/subnormal is infinite */
	if (t->has_scale && (!isfinite(t->scale) ||
	    (bitnet_config_scale_divides(c) &&
	    fpclassify(t->scale) != FP_NORMAL)))
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': weight_scale %g cannot %s the weights",
		    t->name, (double)t->scale,
		    bitnet_config_scale_divides(c) ? "divide" : "multiply");
	return 0;
}

int
dequant_check_stream(const Tstream__StreamHeader *h, struct diag *d)
{
	for (size_t i = 0; i < h->n_manifest; i++)
		if (check_entry(h, h->manifest[i], d) == -1)
			return -1;
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
		if (rc == 0)
			dtype_to_f32(in->dtype, raw, f, n);
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

static int
code3_error(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const uint8_t *packed, uint64_t row, uint64_t col, struct diag *d)
{
	uint64_t r4 = in->shape[0] / 4;

	return diag_fail(d, BN_EXIT_INPUT,
	    "%s: tensor '%s' (from %s): packed byte 0x%02x at [%llu, %llu] "
	    "holds code 3 in bits %u:%u, which is not a ternary value",
	    r->name, in->name, in->source ? in->source : "?",
	    packed[(row % r4) * in->shape[1] + col],
	    (unsigned long long)(row % r4), (unsigned long long)col,
	    (unsigned)(2 * (row / r4) + 1), (unsigned)(2 * (row / r4)));
}

/* Emit W = decode(packed) (*|/) scale, row by row, in column chunks. */
static int
emit_ternary(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const uint8_t *packed, int divide, struct tstream_writer *w,
    struct diag *d)
{
	uint64_t rows = in->shape[0], cols = in->shape[1], bad;
	size_t per = FLOATS_PER_CHUNK;
	int8_t *t = io_alloc(per, in->name, d);
	float *f = io_alloc(per * sizeof *f, in->name, d);
	int rc = (t && f) ? 0 : -1;

	for (uint64_t row = 0; rc == 0 && row < rows; row++)
		for (uint64_t c0 = 0; rc == 0 && c0 < cols; c0 += per) {
			uint64_t n = cols - c0 < per ? cols - c0 : per;

			if (ternary_hf_unpack_row(packed, rows, cols, row, c0,
			    n, t, &bad) == -1) {
				rc = code3_error(r, in, packed, row, bad, d);
				break;
			}
			ternary_scale_row(t, n, in->scale, divide, f);
			rc = tstream_write_payload(w, f, n * sizeof *f, d);
		}
	free(t);
	free(f);
	return rc;
}

static int
convert_packed(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	int divide = bitnet_config_scale_divides(r->header->config);
	uint8_t *packed;
	int rc;

	if ((packed = io_alloc(in->payload_length, in->name, d)) == NULL)
		return -1;
	rc = tstream_read_payload(r, packed, in->payload_length, d);
	if (rc == 0)
		rc = emit_ternary(r, in, packed, divide, w, d);
	free(packed);
	return rc;
}

/* Widen n elements starting at element i of the raw payload into f. */
static void
widen(const Tstream__TensorInfo *in, const uint8_t *raw, uint64_t i,
    size_t n, float *f)
{
	dtype_to_f32(in->dtype, raw + i * dtype_size(in->dtype), f, n);
}

/* AutoBitLinear's scale s of the numel widened values of raw (f holds a
 * chunk of them at a time). */
static float
online_scale(const Tstream__TensorInfo *in, const uint8_t *raw,
    uint64_t numel, float *f)
{
	double sum = 0;

	for (uint64_t i = 0; i < numel; i += FLOATS_PER_CHUNK) {
		size_t n = numel - i < FLOATS_PER_CHUNK ? (size_t)(numel - i) :
		    FLOATS_PER_CHUNK;
		widen(in, raw, i, n, f);
		sum = ternary_absmean_add(sum, f, n);
	}
	return ternary_online_scale(sum, numel);
}

/* Hold the payload (one projection), find its scale in a first pass,
 * quantize and write it in a second. */
static int
convert_online(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	uint64_t numel = in->payload_length / dtype_size(in->dtype);
	uint8_t *raw = io_alloc(in->payload_length, in->name, d);
	float *f = io_alloc(2 * FLOATS_PER_CHUNK * sizeof *f, in->name, d);
	float s = 0;
	int rc = (raw && f) ? 0 : -1;

	if (rc == 0)
		rc = tstream_read_payload(r, raw, in->payload_length, d);
	if (rc == 0)
		s = online_scale(in, raw, numel, f);
	for (uint64_t i = 0; rc == 0 && i < numel; i += FLOATS_PER_CHUNK) {
		size_t n = numel - i < FLOATS_PER_CHUNK ? (size_t)(numel - i) :
		    FLOATS_PER_CHUNK;
		widen(in, raw, i, n, f);
		ternary_online_row(f, n, s, f + FLOATS_PER_CHUNK);
		rc = tstream_write_payload(w, f + FLOATS_PER_CHUNK,
		    n * sizeof *f, d);
	}
	free(raw);
	free(f);
	return rc;
}

/* AutoBitLinear's online quantization of raw into m: W = t / s. */
static int
decode_online(const Tstream__TensorInfo *in, const uint8_t *raw,
    struct ternary_matrix *m, struct diag *d)
{
	uint64_t numel = m->rows * m->cols, bad;
	float *f = io_alloc(FLOATS_PER_CHUNK * sizeof *f, in->name, d);
	float s;

	if (f == NULL)
		return -1;
	s = online_scale(in, raw, numel, f);
	for (uint64_t i = 0; i < numel; i += FLOATS_PER_CHUNK) {
		size_t n = numel - i < FLOATS_PER_CHUNK ? (size_t)(numel - i) :
		    FLOATS_PER_CHUNK;
		widen(in, raw, i, n, f);
		if (ternary_online_values(f, n, s, m->t + i, &bad) == -1) {
			free(f);
			return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': "
			    "element %llu is NaN; it has no ternary value",
			    in->name, (unsigned long long)(i + bad));
		}
	}
	m->scale = 1.0f / s;
	free(f);
	return 0;
}

/* The float32 scale an I2_S payload keeps after its numel codes. */
static int
i2s_scale(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const uint8_t *raw, uint64_t numel, float *scale, struct diag *d)
{
	memcpy(scale, raw + numel / 4, sizeof *scale);
	if (!isfinite(*scale))
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': I2_S "
		    "scale %g is not finite", r->name, in->name,
		    (double)*scale);
	return 0;
}

static int
i2s_code3_error(struct tstream_reader *r, const Tstream__TensorInfo *in,
    uint64_t bad, struct diag *d)
{
	return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' (from %s): I2_S "
	    "value %llu has code 3, which is not a ternary value", r->name,
	    in->name, in->source ? in->source : "?", (unsigned long long)bad);
}

/* I2_S: the packed values, then the tensor's float32 scale (multiply). */
static int
convert_i2s(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	uint64_t numel = (in->payload_length - 32) * 4, bad;
	uint8_t *raw = io_alloc(in->payload_length, in->name, d);
	int8_t *t = io_alloc(FLOATS_PER_CHUNK, in->name, d);
	float *f = io_alloc(FLOATS_PER_CHUNK * sizeof *f, in->name, d);
	float scale = 0;
	int rc = (raw && t && f) ? 0 : -1;

	if (rc == 0)
		rc = tstream_read_payload(r, raw, in->payload_length, d);
	if (rc == 0)
		rc = i2s_scale(r, in, raw, numel, &scale, d);
	for (uint64_t i = 0; rc == 0 && i < numel; i += FLOATS_PER_CHUNK) {
		size_t n = numel - i < FLOATS_PER_CHUNK ? (size_t)(numel - i) :
		    FLOATS_PER_CHUNK;
		if (ternary_i2s_unpack(raw, i, n, t, &bad) == -1) {
			rc = i2s_code3_error(r, in, bad, d);
			break;
		}
		ternary_scale_row(t, n, scale, 0, f);
		rc = tstream_write_payload(w, f, n * sizeof *f, d);
	}
	free(raw);
	free(t);
	free(f);
	return rc;
}

/* In a compact form, the type a bf16 or f16 embedding or head is stored
 * in (compact.h); 0 for any other tensor. */
static Tstream__DType
embed_dtype(const Tstream__TensorInfo *t, const struct compact_opts *o)
{
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	if (o->form == COMPACT_F32 ||
	    t->encoding != TSTREAM__ENCODING__PLAIN ||
	    (t->dtype != TSTREAM__DTYPE__BF16 &&
	    t->dtype != TSTREAM__DTYPE__F16) ||
	    (bn.group != BITNET_GROUP_EMBED && bn.group != BITNET_GROUP_HEAD))
		return 0;
	return o->embed == EMBED_KEEP ? t->dtype : o->embed == EMBED_F32 ?
	    TSTREAM__DTYPE__F32 : TSTREAM__DTYPE__F16;
}

static int
is_ternary(const Tstream__StreamHeader *h, const Tstream__TensorInfo *t)
{
	return t->encoding == TSTREAM__ENCODING__TERNARY_HF_PACKED ||
	    t->encoding == TSTREAM__ENCODING__TERNARY_I2S ||
	    quantizes_online(h, t);
}

/* The ternary values and multiplier of a packed, I2_S or online tensor
 * already read into raw. */
static int
decode_matrix(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const uint8_t *raw, struct ternary_matrix *m, struct diag *d)
{
	uint64_t n = m->rows * m->cols, bad;

	if (in->encoding == TSTREAM__ENCODING__TERNARY_HF_PACKED) {
		int divide = bitnet_config_scale_divides(r->header->config);
		for (uint64_t row = 0; row < m->rows; row++)
			if (ternary_hf_unpack_row(raw, m->rows, m->cols, row, 0,
			    m->cols, m->t + row * m->cols, &bad) == -1)
				return code3_error(r, in, raw, row, bad, d);
		m->scale = divide ? 1.0f / in->scale : in->scale;
		return 0;
	}
	if (in->encoding == TSTREAM__ENCODING__TERNARY_I2S) {
		if (i2s_scale(r, in, raw, n, &m->scale, d) == -1)
			return -1;
		return ternary_i2s_unpack(raw, 0, n, m->t, &bad) == -1 ?
		    i2s_code3_error(r, in, bad, d) : 0;
	}
	return decode_online(in, raw, m, d);
}

/* Pass the tensor on as it is. */
static int
copy_tensor(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	unsigned char *buf = io_alloc(TSTREAM_CHUNK, in->name, d);
	uint64_t left = in->payload_length;
	int rc = buf ? tstream_begin_tensor(w, in, d) : -1;

	while (rc == 0 && left > 0) {
		size_t n = left < TSTREAM_CHUNK ? (size_t)left : TSTREAM_CHUNK;

		rc = tstream_read_payload(r, buf, n, d);
		if (rc == 0)
			rc = tstream_write_payload(w, buf, n, d);
		left -= n;
	}
	free(buf);
	return rc == -1 ? -1 : tstream_end_tensor(w, d);
}

/* Read a ternary weight whole and write it in the compact form o. */
static int
convert_compact(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const struct compact_opts *o, struct tstream_writer *w, struct diag *d)
{
	struct ternary_matrix m = { .rows = in->shape[0],
	    .cols = in->shape[1] };
	uint8_t *raw = io_alloc(in->payload_length, in->name, d);
	int rc = -1;

	m.t = io_alloc(m.rows * m.cols, in->name, d);
	if (raw != NULL && m.t != NULL &&
	    tstream_read_payload(r, raw, in->payload_length, d) == 0 &&
	    decode_matrix(r, in, raw, &m, d) == 0)
		rc = compact_write(&m, in, o, w, d);
	free(raw);
	free(m.t);
	return rc;
}

int
dequant_tensor(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const struct compact_opts *o, struct tstream_writer *w, struct diag *d)
{
	Tstream__TensorInfo out;
	uint64_t shape[TSTREAM_MAX_RANK];
	int rc;

	if (check_entry(r->header, in, d) == -1)
		return -1;
	if (o->form != COMPACT_F32 && is_ternary(r->header, in))
		return convert_compact(r, in, o, w, d);
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
	if (quantizes_online(r->header, in))
		rc = convert_online(r, in, w, d);
	else if (in->encoding == TSTREAM__ENCODING__TERNARY_I2S)
		rc = convert_i2s(r, in, w, d);
	else if (in->encoding == TSTREAM__ENCODING__PLAIN)
		rc = convert_plain(r, in, out.dtype == TSTREAM__DTYPE__F16, w,
		    d);
	else
		rc = convert_packed(r, in, w, d);
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
	if (embed_dtype(t, o) == t->dtype)
		return 0;
	if (embed_dtype(t, o) == TSTREAM__DTYPE__F16) {	/* from bf16 */
		t->dtype = TSTREAM__DTYPE__F16;
		return 0;
	}
	if (o->form != COMPACT_F32 && is_ternary(h, t)) {
		if ((n = compact_info(t, o, out, (uint64_t (*)[2])shapes,
		    sname, sizeof sname, d)) == -1)
			return -1;
	} else if (dequant_info(t, &out[0], shapes[0], d) == -1) {
		return -1;
	}
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
