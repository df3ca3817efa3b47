/* SPDX-License-Identifier: ISC */
#include "blockq8.h"

#include <math.h>

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
			float q = k < n ? roundf(x[k] * id) : 0.0f;

			q = fminf(fmaxf(q, -127.0f), 127.0f);
			codes[k] = (uint8_t)((int)q + (int)BLOCKQ8_ZERO);
		}
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
