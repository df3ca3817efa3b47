#include "dequant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
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
	if (t->has_scale && (!isfinite(t->scale) ||
	    (t->scale == 0 && bitnet_config_scale_divides(c))))
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

static int
convert_plain(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	size_t esize = dtype_size(in->dtype);
	size_t per = FLOATS_PER_CHUNK;
	unsigned char *raw = io_alloc(per * esize, in->name, d);
	float *f = io_alloc(per * sizeof *f, in->name, d);
	uint64_t left = in->payload_length / esize;
	int rc = (raw && f) ? 0 : -1;

	while (rc == 0 && left > 0) {
		size_t n = left < per ? (size_t)left : per;

		rc = tstream_read_payload(r, raw, n * esize, d);
		if (rc == 0) {
			dtype_to_f32(in->dtype, raw, f, n);
			rc = tstream_write_payload(w, f, n * sizeof *f, d);
		}
		left -= n;
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

/* Hold the payload (one projection), find its scale in a first pass,
 * quantize and write it in a second. */
static int
convert_online(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	uint64_t numel = in->payload_length / dtype_size(in->dtype);
	uint8_t *raw = io_alloc(in->payload_length, in->name, d);
	float *f = io_alloc(2 * FLOATS_PER_CHUNK * sizeof *f, in->name, d);
	double sum = 0;
	float s;
	int rc = (raw && f) ? 0 : -1;

	if (rc == 0)
		rc = tstream_read_payload(r, raw, in->payload_length, d);
	for (uint64_t i = 0; rc == 0 && i < numel; i += FLOATS_PER_CHUNK) {
		size_t n = numel - i < FLOATS_PER_CHUNK ? (size_t)(numel - i) :
		    FLOATS_PER_CHUNK;
		widen(in, raw, i, n, f);
		sum = ternary_absmean_add(sum, f, n);
	}
	s = ternary_online_scale(sum, numel);
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
	if (rc == 0) {
		memcpy(&scale, raw + numel / 4, sizeof scale);
		if (!isfinite(scale))
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': I2_S "
			    "scale %g is not finite", r->name, in->name,
			    (double)scale);
	}
	for (uint64_t i = 0; rc == 0 && i < numel; i += FLOATS_PER_CHUNK) {
		size_t n = numel - i < FLOATS_PER_CHUNK ? (size_t)(numel - i) :
		    FLOATS_PER_CHUNK;
		if (ternary_i2s_unpack(raw, i, n, t, &bad) == -1) {
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' (from "
			    "%s): I2_S value %llu has code 3, which is not a "
			    "ternary value", r->name, in->name, in->source ?
			    in->source : "?", (unsigned long long)bad);
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

int
dequant_tensor(struct tstream_reader *r, const Tstream__TensorInfo *in,
    struct tstream_writer *w, struct diag *d)
{
	Tstream__TensorInfo out;
	uint64_t shape[TSTREAM_MAX_RANK];
	int rc;

	if (check_entry(r->header, in, d) == -1 ||
	    dequant_info(in, &out, shape, d) == -1 ||
	    tstream_begin_tensor(w, &out, d) == -1)
		return -1;
	if (quantizes_online(r->header, in))
		rc = convert_online(r, in, w, d);
	else if (in->encoding == TSTREAM__ENCODING__TERNARY_I2S)
		rc = convert_i2s(r, in, w, d);
	else if (in->encoding == TSTREAM__ENCODING__PLAIN)
		rc = convert_plain(r, in, w, d);
	else
		rc = convert_packed(r, in, w, d);
	return rc == -1 ? -1 : tstream_end_tensor(w, d);
}
