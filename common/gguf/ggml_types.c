/* SPDX-License-Identifier: ISC */
#include "ggml_types.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dtype.h"

/* The little-endian float16 at p, as float32. */
static float
half_at(const uint8_t *p)
{
	return f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* Q4_0: float16 d, then 16 bytes: value j in the low nibble of byte j,
 * value j + 16 in its high nibble; x = (nibble - 8) * d. */
static void
dequant_q4_0(const uint8_t *b, float *out)
{
	float d = half_at(b);

	for (int j = 0; j < 16; j++) {
		out[j] = (float)((b[2 + j] & 0x0F) - 8) * d;
		out[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
	}
}

/* Q8_0: float16 d, then 32 int8 q; x = q * d. */
static void
dequant_q8_0(const uint8_t *b, float *out)
{
	float d = half_at(b);

	for (int j = 0; j < 32; j++)
		out[j] = (float)(int8_t)b[2 + j] * d;
}

/* Q4_K's 6-bit scale and min of sub-block j from its 12 bytes. */
static void
q4_k_scale_min(int j, const uint8_t *q, unsigned *sc, unsigned *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0x0F) | (q[j - 4] >> 6) << 4;
		*m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
	}
}

/* Q4_K: float16 d and dmin, 12 bytes of scales and mins, 128 bytes of
 * nibbles; eight sub-blocks of 32: x = (d * sc) * q - (dmin * m), the low
 * nibbles of 32 bytes one sub-block, their high nibbles the next. */
static void
dequant_q4_k(const uint8_t *b, float *out)
{
	float d = half_at(b), dmin = half_at(b + 2);
	const uint8_t *scales = b + 4, *q = b + 16;

	for (int j = 0; j < 4; j++, q += 32, out += 64) {
		unsigned sc, m;
		float d1, m1, d2, m2;

		q4_k_scale_min(2 * j, scales, &sc, &m);
		d1 = d * (float)sc;
		m1 = dmin * (float)m;
		q4_k_scale_min(2 * j + 1, scales, &sc, &m);
		d2 = d * (float)sc;
		m2 = dmin * (float)m;
		for (int l = 0; l < 32; l++) {
			out[l] = d1 * (float)(q[l] & 0x0F) - m1;
			out[l + 32] = d2 * (float)(q[l] >> 4) - m2;
		}
	}
}

/* Q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales,
 * float16 d; two halves of 128 values, in each four runs of 32: value
 * l + 32r takes the low or high nibble of ql[l + 32 (r & 1)] and bits
 * 2r..2r+1 of qh[l], minus 32; x = (d * scale) * q with scale 16 values
 * wide. */
static void
dequant_q6_k(const uint8_t *b, float *out)
{
	const uint8_t *ql = b, *qh = b + 128;
	const int8_t *sc = (const int8_t *)(b + 192);
	float d = half_at(b + 208);

	for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8,
	    out += 128)
		for (int l = 0; l < 32; l++) {
			int is = l / 16;
			int q1 = ((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32;
			int q2 = ((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) -
			    32;
			int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
			int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) -
			    32;

			out[l] = d * (float)sc[is] * (float)q1;
			out[l + 32] = d * (float)sc[is + 2] * (float)q2;
			out[l + 64] = d * (float)sc[is + 4] * (float)q3;
			out[l + 96] = d * (float)sc[is + 6] * (float)q4;
		}
}

/* A float type passed on as it is, and a block type read to float32. */
#define PASSED(t, dtype, bytes) { GGML_TYPE_##t, #t, 1, bytes, 0, \
	TSTREAM__DTYPE__##dtype, TSTREAM__ENCODING__PLAIN, NULL }
#define READ_TO_F32(t, block, bytes, fn) { GGML_TYPE_##t, #t, block, \
	bytes, 0, TSTREAM__DTYPE__F32, TSTREAM__ENCODING__PLAIN, fn }

static const struct ggml_type types[] = {
	PASSED(F32, F32, 4),
	PASSED(F16, F16, 2),
	PASSED(BF16, BF16, 2),
	READ_TO_F32(Q4_0, 32, 18, dequant_q4_0),
	READ_TO_F32(Q8_0, 32, 34, dequant_q8_0),
	READ_TO_F32(Q4_K, 256, 144, dequant_q4_k),
	READ_TO_F32(Q6_K, 256, 210, dequant_q6_k),
	/* 2 bits a value in 128-value blocks, then a 32-byte scale */
	{ GGML_TYPE_I2_S, "I2_S", 128, 32, 32, TSTREAM__DTYPE__U8,
	    TSTREAM__ENCODING__TERNARY_I2S, NULL },
};

const struct ggml_type *
ggml_type_of(uint32_t id)
{
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (types[i].id == id)
			return &types[i];
	return NULL;
}

const char *
ggml_type_names(char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof types / sizeof *types && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s",
		    i ? ", " : "", types[i].name);
	return buf;
}
