/* SPDX-License-Identifier: ISC */
#include "blockq8.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int
blockq8_quantize_row(const float *x, uint64_t n, uint32_t block,
    uint8_t *codes, float *scales, uint64_t *bad)
{
	uint64_t blocks = n / block + (n % block != 0);

	for (uint64_t b = 0; b < blocks; b++) {
		uint64_t k0 = b * block;
		float amax = 0.0f, d, id;

		for (uint64_t k = k0; k < k0 + block && k < n; k++) {
			if (!isfinite(x[k])) {
				*bad = k;
				return -1;
			}
			amax = fmaxf(amax, fabsf(x[k]));
		}
		d = amax / 127.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		scales[b] = d;
		for (uint64_t k = k0; k < k0 + block; k++) {
			/* a zero stays 0 where 1 / d overflows (subnormals) */
			float q = k < n && x[k] != 0.0f ? roundf(x[k] * id) :
			    0.0f;

			q = fminf(fmaxf(q, -127.0f), 127.0f);
			codes[k] = (uint8_t)((int)q + (int)BLOCKQ8_ZERO);
		}
	}
	return 0;
}

/* The value of largest magnitude of x[k0 .. min(k0 + block, n)), the
 * first one when two tie; -1 with *bad set if one is not finite. */
static int
block_extreme(const float *x, uint64_t n, uint64_t k0, uint32_t block,
    float *m, uint64_t *bad)
{
	*m = 0.0f;
	for (uint64_t k = k0; k < k0 + block && k < n; k++) {
		if (!isfinite(x[k])) {
			*bad = k;
			return -1;
		}
		if (fabsf(x[k]) > fabsf(*m))
			*m = x[k];
	}
	return 0;
}

/* Codes of v[0 .. block) at 1 / d, clamped to -8..7, rounded half away
 * up (r + 8.5 truncated, as r + 8.5 >= 0: roundf is a call); with their least-squares scale
 * f = sum(v q) / sum(q q), the squared error is sum(v v) - f sum(v q), so
 * the larger the returned sum(v q)^2 / sum(q q), the better; *fit is f. */
static float
block_q4_codes(const float *v, uint32_t block, float d, int8_t *q,
    float *fit)
{
	float id = 1.0f / d, xq = 0.0f, qq = 0.0f;

	for (uint32_t i = 0; i < block; i++) {
		/* a zero is code 0 even where 1 / d overflows (a block of
		 * subnormals), which would make it 0 * inf */
		float r = v[i] == 0.0f ? 0.0f : v[i] * id;

		r = r < -8.0f ? -8.0f : r > 7.0f ? 7.0f : r;
		q[i] = (int8_t)((int)(r + 8.5f) - 8);
		xq += v[i] * (float)q[i];
		qq += (float)(q[i] * q[i]);
	}
	*fit = qq > 0.0f ? xq / qq : d;
	return qq > 0.0f ? xq * xq / qq : 0.0f;
}

/* The codes and scale of one block v[0 .. block) whose value of largest
 * magnitude is m: m put at -8 + s/8 for s in -8..8, each with its
 * least-squares scale, the one of least squared error kept. */
static float
block_q4_search(const float *v, uint32_t block, float m, int8_t *best)
{
	int8_t q[BLOCKQ4_MAX_BLOCK];
	float d = 0.0f, most = -1.0f;

	memset(best, 0, block);
	for (int s = -8; m != 0.0f && s <= 8; s++) {
		float fit, score = block_q4_codes(v, block,
		    m / (-8.0f + (float)s / 8.0f), q, &fit);

		if (score > most) {
			most = score;
			d = fit;
			memcpy(best, q, block);
		}
	}
	return d;
}

int
blockq4_quantize_row(const float *x, uint64_t n, uint32_t block,
    uint8_t *codes, float *scales, uint64_t *bad)
{
	uint64_t blocks = n / block + (n % block != 0);
	int8_t q[BLOCKQ4_MAX_BLOCK];
	float v[BLOCKQ4_MAX_BLOCK];

	assert(block <= BLOCKQ4_MAX_BLOCK && block % 2 == 0);
	for (uint64_t b = 0; b < blocks; b++) {
		uint64_t k0 = b * block;
		float m;

		if (block_extreme(x, n, k0, block, &m, bad) == -1)
			return -1;
		for (uint32_t i = 0; i < block; i++)
			v[i] = k0 + i < n ? x[k0 + i] : 0.0f;
		scales[b] = block_q4_search(v, block, m, q);
		for (uint32_t i = 0; i < block; i += 2)
			codes[(k0 + i) / 2] = (uint8_t)((q[i] + BLOCKQ4_ZERO) |
			    (unsigned)(q[i + 1] + (int)BLOCKQ4_ZERO) << 4);
	}
	return 0;
}

int
blockq8_quantize_row_i8(const float *x, uint64_t n, uint32_t block,
    uint8_t *codes, float *scales, uint64_t *bad)
{
	uint64_t stored = (n / block + (n % block != 0)) * block;

	if (blockq8_quantize_row(x, n, block, codes, scales, bad) == -1)
		return -1;
	for (uint64_t k = 0; k < stored; k++)
		codes[k] ^= BLOCKQ8_ZERO;	/* q + 128 -> q as int8 */
	return 0;
}
