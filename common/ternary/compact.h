/* SPDX-License-Identifier: ISC */
/*
 * compact.h - ternary weights in the compact forms that onnx-emit builds
 * integer graphs from (layouts in tstream(5)):
 *
 *   int8  TERNARY_INT8: W transposed, i8 [in, out] (MatMulInteger's B),
 *         followed by NAME.scales, f32 [1]: the weight scale as a
 *         multiplier.
 *   q2    TERNARY_Q2: com.microsoft.MatMulNBits bits=2 codes, u8
 *         [out, blocks, block/4]: code = value + 2 (the operator's default
 *         zero point), four codes a byte from the low bits up, along the
 *         input axis; the last block is padded with code 2 (zero).  It is
 *         followed by NAME.scales, f32 [out, blocks]: every block's scale,
 *         the tensor's weight scale as a multiplier.
 *   q2s   TERNARY_Q2_SLOT: the same codes, block - 1 values a block and
 *         a zero code in its last slot (where onnx-emit's graph puts a
 *         127 beside int8 activations, so that MatMulNBits' own int8
 *         quantization per block keeps them as they are), followed by
 *         NAME.scales, f32 [out, blocks].
 */
#ifndef BN_COMPACT_H
#define BN_COMPACT_H

#include <stdint.h>

#include "bitnet_names.h"
#include "diag.h"
#include "tstream.h"

/* q2's block along the input axis unless --block-size says. */
#define COMPACT_DEFAULT_BLOCK	64u
#define COMPACT_SCALES_SUFFIX	BITNET_FORM_SCALES_SUFFIX

/* A decoded ternary matrix: t[rows * cols] of -1/0/+1, W = t * scale. */
struct ternary_matrix {
	int8_t *t;
	uint64_t rows, cols;
	float scale;
};

/* The manifest entries a matrix `in` becomes stored in compact encoding
 * enc (tstream_encoding.h: one with a NAME.scales tensor) with block
 * size block where it takes one: out[0] the weight and out[1] its
 * scales.  shapes and scales_name are storage for them.  Returns the
 * count (2), or -1. */
int compact_info(const Tstream__TensorInfo *in, Tstream__Encoding enc,
    uint32_t block, Tstream__TensorInfo out[2], uint64_t shapes[2][2],
    char *scales_name, size_t name_len, struct diag *d);

/* Write m as the tensors compact_info describes for in in a ternary
 * encoding (TERNARY_INT8, TERNARY_Q2 or TERNARY_Q2_SLOT). */
int compact_write(const struct ternary_matrix *m,
    const Tstream__TensorInfo *in, Tstream__Encoding enc, uint32_t block,
    struct tstream_writer *w, struct diag *d);

#endif
