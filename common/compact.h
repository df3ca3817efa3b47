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
 */
#ifndef BN_COMPACT_H
#define BN_COMPACT_H

#include <stdint.h>

#include "bitnet_names.h"
#include "diag.h"
#include "tstream.h"

/* A form is the stream encoding its weights leave in (tstream_encoding.h
 * holds each one's name, layout and scales). */
enum compact_form {
	COMPACT_F32 = TSTREAM__ENCODING__PLAIN,
	COMPACT_INT8 = TSTREAM__ENCODING__TERNARY_INT8,
	COMPACT_Q2 = TSTREAM__ENCODING__TERNARY_Q2
};

/* How a compact form stores a bf16 or f16 embedding (and untied head):
 * float16 (the default: every onnxruntime build casts it, bf16 values
 * below 2^-14 rounded by at most 2^-25), float32 (exact, twice the
 * bytes, no Cast), as the source has it, or (any float one) as block-q8:
 * 8 bits a value and a scale per 32 (blockq8.h), gathered by standard
 * operators and read by onnxruntime's MatMulNBits; or as row-i8: int8
 * values and a scale per row, gathered likewise and read by the standard
 * MatMulInteger on int8 activations (the head fast where MatMulNBits is
 * not, in onnxruntime-web's WebAssembly). */
enum compact_embed { EMBED_F16, EMBED_F32, EMBED_KEEP, EMBED_Q8,
	EMBED_INT8 };

/* The block of a block-q8 embedding (GGUF's Q8_0 has the same). */
#define COMPACT_Q8_BLOCK	32u

struct compact_opts {
	enum compact_form form;
	uint32_t block_size;		/* q2 */
	enum compact_embed embed;
};

#define COMPACT_DEFAULT_BLOCK	64u
#define COMPACT_SCALES_SUFFIX	BITNET_FORM_SCALES_SUFFIX

/* A decoded ternary matrix: t[rows * cols] of -1/0/+1, W = t * scale. */
struct ternary_matrix {
	int8_t *t;
	uint64_t rows, cols;
	float scale;
};

/* "f32", "int8", "q2" to a form; -1 if none. */
int compact_form_parse(const char *s, enum compact_form *f);
const char *compact_form_name(enum compact_form f);

/* "f16", "f32", "keep" to a choice; -1 if none. */
int compact_embed_parse(const char *s, enum compact_embed *e);

/* The manifest entries a ternary weight `in` becomes in form o (not f32):
 * out[0] the weight and out[1] its scales.  shapes and scales_name are
 * storage for them.  Returns the count (2), or -1. */
int compact_info(const Tstream__TensorInfo *in, const struct compact_opts *o,
    Tstream__TensorInfo out[2], uint64_t shapes[2][2], char *scales_name,
    size_t name_len, struct diag *d);

/* The same for a float matrix stored in encoding enc (block-q8) with
 * block size block. */
int compact_info_as(const Tstream__TensorInfo *in, Tstream__Encoding enc,
    uint32_t block, Tstream__TensorInfo out[2], uint64_t shapes[2][2],
    char *scales_name, size_t name_len, struct diag *d);

/* Write m as the tensor(s) compact_info describes for in. */
int compact_write(const struct ternary_matrix *m,
    const Tstream__TensorInfo *in, const struct compact_opts *o,
    struct tstream_writer *w, struct diag *d);

#endif
