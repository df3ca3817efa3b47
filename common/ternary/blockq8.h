/* SPDX-License-Identifier: ISC */
/*
 * blockq8.h - a float matrix in 8-bit blocks, as GGUF's Q8_0 quantizes
 * (and onnxruntime's MatMulNBits bits=8 reads):
 * per block of `block` values along a row, d = max|x| / 127 and
 * q = round(x / d) in -127..127 (half away from zero), stored as q + 128
 * (the operators' default zero point for uint8); x is read back as
 * (code - 128) * d.  A block of zeros has d = 0.
 */
#ifndef BN_BLOCKQ8_H
#define BN_BLOCKQ8_H

#include <stdint.h>

#define BLOCKQ8_ZERO	128u
/* The block of a block-q8 embedding or head (GGUF's Q8_0 has the
 * same). */
#define BLOCKQ8_TABLE_BLOCK	32u

/* Quantize the n values of x into codes[blocks * block] (the last block
 * padded with the zero code) and scales[blocks].  Returns 0, or -1 with
 * *bad set to the first value that is not finite. */
int blockq8_quantize_row(const float *x, uint64_t n, uint32_t block,
    uint8_t *codes, float *scales, uint64_t *bad);

/* The same with the codes as int8 (q itself, not q + 128): row-i8's
 * codes when block is the whole row. */
int blockq8_quantize_row_i8(const float *x, uint64_t n, uint32_t block,
    uint8_t *codes, float *scales, uint64_t *bad);

/* A float matrix in 4-bit blocks of at most BLOCKQ4_MAX_BLOCK (an even
 * number), as GGUF's Q4_0 stores them in blocks of 32 (and MatMulNBits bits=4 reads):
 * per block a scale d and codes q in -8..7, stored as q + 8, two a byte,
 * the first in the low nibble, so codes holds blocks * block / 2 bytes;
 * x is read back as (code - 8) * d.  The block's value of largest
 * magnitude m is put near -8 (at -8 + s/8 for s in -8..8), and of those
 * codes, with each one's least-squares scale, the one of least squared
 * error is kept: a few percent less error than Q4_0's d = m / -8. */
#define BLOCKQ4_ZERO	8u
#define BLOCKQ4_MAX_BLOCK	256u
/* The block of the fast q4 table: onnxruntime's 4-bit MatMulNBits reads
 * the 2B4T's head in blocks of 256 about a third faster than in 32s. */
#define BLOCKQ4_WIDE_BLOCK	256u

int blockq4_quantize_row(const float *x, uint64_t n, uint32_t block,
    uint8_t *codes, float *scales, uint64_t *bad);

#endif
