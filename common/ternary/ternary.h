/* SPDX-License-Identifier: ISC */
/*
 * ternary.h - ternary weights in the packing of transformers'
 * pack_weights: a u8 tensor [R, in] holds W [4R, in]; bits 1:0 of P[r,c]
 * give W[r,c], bits 3:2 W[R+r,c], bits 5:4 W[2R+r,c], bits 7:6 W[3R+r,c];
 * value = code - 1, and code 3 is invalid.
 */
#ifndef BN_TERNARY_H
#define BN_TERNARY_H

#include <stdint.h>

/* Decode columns col0 .. col0+n-1 of row `row` (< rows, rows = 4R) of
 * the packed [rows/4, cols] into out[n] as -1/0/+1.  Returns 0, or -1
 * with *bad_col set to the first column holding code 3. */
int ternary_hf_unpack_row(const uint8_t *packed, uint64_t rows,
    uint64_t cols, uint64_t row, uint64_t col0, uint64_t n, int8_t *out,
    uint64_t *bad_col);

/* out[i] = t[i] * scale, or t[i] / scale when divide is set. */
void ternary_scale_row(const int8_t *t, uint64_t n, float scale, int divide,
    float *out);

/* Pack W [rows, cols] of -1/0/+1 into [rows/4, cols] (rows % 4 == 0);
 * the inverse of ternary_hf_unpack_row, for tests and writers. */
void ternary_hf_pack(const int8_t *w, uint64_t rows, uint64_t cols,
    uint8_t *packed);

/* bitnet.cpp's I2_S: values in 128-value blocks of 32 bytes; byte p of
 * block b holds value 128b+p in bits 7:6, 128b+32+p in bits 5:4,
 * 128b+64+p in 3:2 and 128b+96+p in 1:0; value = code - 1.  Decode the n
 * values from flat index i0 into out; -1 with *bad at a code 3. */
int ternary_i2s_unpack(const uint8_t *packed, uint64_t i0, uint64_t n,
    int8_t *out, uint64_t *bad);
/* The inverse: n values (n % 128 == 0) of -1/0/+1 into n / 4 bytes. */
void ternary_i2s_pack(const int8_t *t, uint64_t n, uint8_t *packed);

/* The online quantization of transformers' AutoBitLinear (bf16 master
 * weights): s = 1 / max(mean|W|, 1e-5) over the whole tensor, in float32
 * (the mean is summed in double, then rounded);
 * W_t = clip(round_half_even(W * s), -1, 1); the weight used is W_t / s.
 * ternary_absmean_add accumulates sum|w| over chunks. */
double ternary_absmean_add(double sum, const float *w, uint64_t n);
float ternary_online_scale(double abs_sum, uint64_t numel);
void ternary_online_row(const float *w, uint64_t n, float s, float *out);
/* The ternary values clip(round_half_even(w * s), -1, 1) alone; -1 with
 * *bad set at a NaN. */
int ternary_online_values(const float *w, uint64_t n, float s, int8_t *out,
    uint64_t *bad);

#endif
