/* SPDX-License-Identifier: ISC */
#include "tern_decode.h"

#include <math.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "dtype.h"
#include "ternary.h"

static int
too_large(const Tstream__TensorInfo *t, const char *what, struct diag *d)
{
	return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': %s payload of %llu "
	    "bytes, more than the limit of %u", t->name, what,
	    (unsigned long long)t->payload_length, TERN_MAX_PAYLOAD);
}

/* transformers' packing: u8 [rows/4, cols] and a weight_scale that
 * multiplies (AutoBitLinear) or divides (BitLinear). */
static int
packed_claims(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t)
{
	(void)c;
	return t->encoding == TSTREAM__ENCODING__TERNARY_HF_PACKED;
}

static int
packed_check(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t,
    struct diag *d)
{
	int divides = bitnet_config_scale_divides(c);

	if (c->linear_class == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s' is packed ternary, but the config has no "
		    "quantization_config.linear_class to say how its scale "
		    "applies", t->name);
	if (t->payload_length > TERN_MAX_PAYLOAD)
		return too_large(t, "packed", d);
	/* a divisor must be a normal float32: 1/subnormal is infinite */
	if (t->has_scale && (!isfinite(t->scale) ||
	    (divides && fpclassify(t->scale) != FP_NORMAL)))
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': weight_scale %g cannot %s the weights",
		    t->name, (double)t->scale, divides ? "divide" : "multiply");
	return 0;
}

static int
packed_open(const Tstream__ModelConfig *c, struct tern_src *s,
    struct diag *d)
{
	(void)d;
	/* t / scale == t * (1 / scale) for t in {-1, 0, 1} */
	s->mult = bitnet_config_scale_divides(c) ? 1.0f / s->in->scale :
	    s->in->scale;
	return 0;
}

static int
packed_code3(const struct tern_src *s, uint64_t row, uint64_t col,
    struct diag *d)
{
	uint64_t r4 = s->rows / 4;

	return diag_fail(d, BN_EXIT_INPUT,
	    "%s: tensor '%s' (from %s): packed byte 0x%02x at [%llu, %llu] "
	    "holds code 3 in bits %u:%u, which is not a ternary value",
	    s->file, s->in->name, s->in->source ? s->in->source : "?",
	    s->raw[(row % r4) * s->cols + col],
	    (unsigned long long)(row % r4), (unsigned long long)col,
	    (unsigned)(2 * (row / r4) + 1), (unsigned)(2 * (row / r4)));
}

static int
packed_values(struct tern_src *s, uint64_t i0, uint64_t n, int8_t *t,
    struct diag *d)
{
	uint64_t bad;

	while (n > 0) {
		uint64_t row = i0 / s->cols, col = i0 % s->cols;
		uint64_t m = s->cols - col < n ? s->cols - col : n;

		if (ternary_hf_unpack_row(s->raw, s->rows, s->cols, row, col,
		    m, t, &bad) == -1)
			return packed_code3(s, row, bad, d);
		i0 += m;
		t += m;
		n -= m;
	}
	return 0;
}

/* bitnet.cpp's I2_S: the codes, then the tensor's f32 scale. */
static int
i2s_claims(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t)
{
	(void)c;
	return t->encoding == TSTREAM__ENCODING__TERNARY_I2S;
}

static int
i2s_check(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t,
    struct diag *d)
{
	(void)c;
	return t->payload_length > TERN_MAX_PAYLOAD ?
	    too_large(t, "I2_S", d) : 0;
}

static int
i2s_open(const Tstream__ModelConfig *c, struct tern_src *s, struct diag *d)
{
	(void)c;
	memcpy(&s->mult, s->raw + s->rows * s->cols / 4, sizeof s->mult);
	if (!isfinite(s->mult))
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': I2_S "
		    "scale %g is not finite", s->file, s->in->name,
		    (double)s->mult);
	return 0;
}

static int
i2s_values(struct tern_src *s, uint64_t i0, uint64_t n, int8_t *t,
    struct diag *d)
{
	uint64_t bad;

	if (ternary_i2s_unpack(s->raw, i0, n, t, &bad) == 0)
		return 0;
	return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' (from %s): I2_S "
	    "value %llu has code 3, which is not a ternary value", s->file,
	    s->in->name, s->in->source ? s->in->source : "?",
	    (unsigned long long)bad);
}

/* Float master weights of a projection, quantized as transformers'
 * AutoBitLinear does when quantization_mode is online. */
static int
online_claims(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t)
{
	const char *mode = c->quantization_mode;
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	return bn.is_projection && t->encoding == TSTREAM__ENCODING__PLAIN &&
	    mode != NULL && strcmp(mode, "online") == 0;
}

static int
online_check(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t,
    struct diag *d)
{
	(void)c;
	if (t->n_shape != 2 || t->payload_length > TERN_MAX_PAYLOAD)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': a projection to quantize must be a "
		    "matrix of at most %u bytes", t->name, TERN_MAX_PAYLOAD);
	return 0;
}

/* Widen n values from element i of the payload into s->work. */
static void
online_widen(struct tern_src *s, uint64_t i, uint64_t n)
{
	size_t es = dtype_size(s->in->dtype);

	dtype_to_f32(s->in->dtype, s->raw + i * es, s->work, n);
}

/* s = 1 / mean|W| over the whole tensor, a chunk at a time. */
static int
online_open(const Tstream__ModelConfig *c, struct tern_src *s,
    struct diag *d)
{
	uint64_t numel = s->rows * s->cols;
	double sum = 0;

	(void)c, (void)d;
	for (uint64_t i = 0; i < numel; i += TERN_CHUNK) {
		uint64_t n = numel - i < TERN_CHUNK ? numel - i : TERN_CHUNK;

		online_widen(s, i, n);
		sum = ternary_absmean_add(sum, s->work, n);
	}
	s->online_s = ternary_online_scale(sum, numel);
	s->mult = 1.0f / s->online_s;
	return 0;
}

static int
online_values(struct tern_src *s, uint64_t i0, uint64_t n, int8_t *t,
    struct diag *d)
{
	uint64_t bad;

	online_widen(s, i0, n);
	if (ternary_online_values(s->work, n, s->online_s, t, &bad) == 0)
		return 0;
	return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': element %llu is "
	    "NaN; it has no ternary value", s->in->name,
	    (unsigned long long)(i0 + bad));
}

static const struct tern_decoder decoders[] = {
	{ "packed", packed_claims, packed_check, packed_open, packed_values },
	{ "I2_S", i2s_claims, i2s_check, i2s_open, i2s_values },
	{ "online", online_claims, online_check, online_open, online_values },
};

const struct tern_decoder *
tern_decoder_for(const Tstream__ModelConfig *c, const Tstream__TensorInfo *t)
{
	for (size_t i = 0; i < sizeof decoders / sizeof *decoders; i++)
		if (decoders[i].claims(c, t))
			return &decoders[i];
	return NULL;
}

int
tern_decode(const struct tern_decoder *dec, struct tern_src *s, uint64_t i0,
    uint64_t n, int8_t *t, struct diag *d)
{
	for (uint64_t done = 0; done < n; done += TERN_CHUNK) {
		uint64_t k = n - done < TERN_CHUNK ? n - done : TERN_CHUNK;

		if (dec->values(s, i0 + done, k, t + done, d) == -1)
			return -1;
	}
	return 0;
}
