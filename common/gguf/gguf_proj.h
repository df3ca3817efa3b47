/* SPDX-License-Identifier: ISC */
/*
 * gguf_proj.h - a GGUF projection re-packed as the stream's ternary-i2s
 * tensor, in the Hugging Face row order, for the two cases where bitnet.cpp's
 * bytes cannot be passed on as they are:
 *
 *  - the rows of q and k interleaved per head, as llama.cpp's converter
 *    writes them for the adjacent-pair RoPE of its llama architecture: row
 *    2i + j of a head is the Hugging Face row j * head_dim / 2 + i;
 *  - the float weights (F32, F16, BF16) of a ternary matrix, W = t * m, as
 *    bitnet.cpp's converters write them before llama-quantize: every value
 *    is 0, m or -m, and anything else is refused.
 *
 * The result is the I2_S payload: the codes, then m as float32 and 28
 * zero bytes.  A row is read at a time; nothing is held whole.
 */
#ifndef BN_GGUF_PROJ_H
#define BN_GGUF_PROJ_H

#include "diag.h"
#include "ggml_types.h"
#include "gguf.h"
#include "tstream.h"

/* Values of a projection that can be re-packed: whole I2_S blocks. */
#define GGUF_PROJ_BLOCK	128u
/* The longest row re-packed (a row is held in memory). */
#define GGUF_PROJ_MAX_COLS	(1u << 24)

struct gguf_proj {
	const struct gguf_file *g;
	const struct gguf_tensor *t;
	const struct ggml_type *type;
	uint64_t rows, cols;	/* Hugging Face order: [rows, cols] */
	unsigned heads;		/* rows interleaved per head; 0: in order */
};

/* Can projection t (rows interleaved over heads heads, or 0) be passed on
 * or re-packed?  Its type must be I2_S, F32, F16 or BF16. */
int gguf_proj_check(const struct gguf_proj *p, struct diag *d);

/* Must it be re-packed (else its I2_S bytes go out as they are)? */
int gguf_proj_repacks(const struct gguf_proj *p);

/* The bytes of the I2_S payload it becomes. */
uint64_t gguf_proj_payload(const struct gguf_proj *p);

/* Check the values, then write the tensor whole (begin, payload, end)
 * with info as its description. */
int gguf_proj_write(const struct gguf_proj *p, const Tstream__TensorInfo *info,
    struct tstream_writer *w, struct diag *d);

#endif
