/* SPDX-License-Identifier: ISC */
/*
 * ggml_types.h - the ggml tensor types a GGUF file may hold that
 * gguf-read reads, one row each: plain floats passed on as they are
 * (F32, F16, BF16), bitnet.cpp's ternary I2_S passed on for tern-dequant,
 * and the block-quantized types dequantized to float32 exactly as ggml
 * does (Q4_0, Q8_0, Q4_K, Q6_K).  A type not in the table is refused by
 * its number.
 */
#ifndef BN_GGML_TYPES_H
#define BN_GGML_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "tstream.pb-c.h"

#define GGML_TYPE_F32	0
#define GGML_TYPE_F16	1
#define GGML_TYPE_Q4_0	2
#define GGML_TYPE_Q8_0	8
#define GGML_TYPE_Q4_K	12
#define GGML_TYPE_Q6_K	14
#define GGML_TYPE_BF16	30
#define GGML_TYPE_I2_S	36	/* bitnet.cpp */

/* The largest block, in values. */
#define GGML_MAX_BLOCK	256u

struct ggml_type {
	uint32_t id;
	const char *name;
	uint32_t block;		/* values a block */
	uint32_t block_bytes;
	uint32_t tail;		/* bytes after the blocks (I2_S's scale) */
	/* How it leaves gguf-read: the stream's dtype and encoding (a
	 * dequantized type leaves as plain f32). */
	Tstream__DType dtype;
	Tstream__Encoding encoding;
	/* Dequantize one block into out[block]; NULL when passed on. */
	void (*dequant)(const uint8_t *b, float *out);
};

/* The row of type id; NULL for a type not read. */
const struct ggml_type *ggml_type_of(uint32_t id);

/* The names of the types read, for messages: "F32, F16, ..." in buf. */
const char *ggml_type_names(char *buf, size_t len);

#endif
