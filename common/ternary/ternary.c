/* SPDX-License-Identifier: ISC */
#include "ternary.h"

#include <math.h>
#include <string.h>

int
ternary_hf_unpack_row(const uint8_t *packed, uint64_t rows, uint64_t cols,
    uint64_t row, uint64_t col0, uint64_t n, int8_t *out, uint64_t *bad_col)
{
	uint64_t r4 = rows / 4;
	unsigned shift = (unsigned)(2 * (row / r4));
	const uint8_t *p = packed + (row % r4) * cols + col0;

	for (uint64_t c = 0; c < n; c++) {
		unsigned code = (p[c] >> shift) & 3u;
		if (code == 3) {
			*bad_col = col0 + c;
			return -1;
		}
		out[c] = (int8_t)((int)code - 1);
	}
	return 0;
}

void
ternary_scale_row(const int8_t *t, uint64_t n, float scale, int divide,
    float *out)
{
	if (divide) {
		for (uint64_t i = 0; i < n; i++)
			out[i] = (float)t[i] / scale;
	} else {
		for (uint64_t i = 0; i < n; i++)
			out[i] = (float)t[i] * scale;
	}
}

void
ternary_hf_pack(const int8_t *w, uint64_t rows, uint64_t cols,
    uint8_t *packed)
{
	uint64_t r4 = rows / 4;

	memset(packed, 0, r4 * cols);
	for (uint64_t row = 0; row < rows; row++)
		for (uint64_t c = 0; c < cols; c++)
			packed[(row % r4) * cols + c] |= (uint8_t)(
			    (unsigned)(w[row * cols + c] + 1) << (2 * (row / r4)));
}

double
ternary_absmean_add(double sum, const float *w, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		sum += fabs((double)w[i]);
	return sum;
}

float
ternary_online_scale(double abs_sum, uint64_t numel)
{
	float mean = numel ? (float)(abs_sum / (double)numel) : 0.0f;

	return 1.0f / (mean > 1e-5f ? mean : 1e-5f);
}

void
ternary_online_row(const float *w, uint64_t n, float s, float *out)
{
	for (uint64_t i = 0; i < n; i++) {
		float t = rintf(w[i] * s);

		t = t > 1.0f ? 1.0f : t < -1.0f ? -1.0f : t;
		out[i] = t / s;
	}
}

int
ternary_online_values(const float *w, uint64_t n, float s, int8_t *out,
    uint64_t *bad)
{
	for (uint64_t i = 0; i < n; i++) {
		float t = rintf(w[i] * s);

		if (isnan(t)) {
			*bad = i;
			return -1;
		}
		out[i] = (int8_t)(t > 1.0f ? 1 : t < -1.0f ? -1 : (int)t);
	}
	return 0;
}

int
ternary_i2s_unpack(const uint8_t *packed, uint64_t i0, uint64_t n,
    int8_t *out, uint64_t *bad)
{
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = i0 + k, p = i % 128;
		unsigned shift = (unsigned)(6 - 2 * (p / 32));
		unsigned code = (packed[(i / 128) * 32 + p % 32] >> shift) & 3u;

		if (code == 3) {
			*bad = i;
			return -1;
		}
		out[k] = (int8_t)((int)code - 1);
	}
	return 0;
}

void
ternary_i2s_pack(const int8_t *t, uint64_t n, uint8_t *packed)
{
	for (uint64_t b = 0; b < n / 128; b++, t += 128, packed += 32)
		for (unsigned p = 0; p < 32; p++)
			packed[p] = (uint8_t)((t[p] + 1) << 6 |
			    (t[32 + p] + 1) << 4 | (t[64 + p] + 1) << 2 |
			    (t[96 + p] + 1));
}
