/* SPDX-License-Identifier: ISC */
/*
 * tstream_encoding.h - one row per payload encoding of the tensor stream
 * (tstream(5)): its name, the element type it stores, how the payload is
 * laid out, and for the compact forms that tern-dequant writes and
 * onnx-emit reads, the form name, the bundle suffix and the shape of the
 * NAME.scales tensor that follows the weight.  Everything that asks
 * "what does this encoding look like" asks this table.
 */
#ifndef BN_TSTREAM_ENCODING_H
#define BN_TSTREAM_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "tstream.pb-c.h"

#define TSTREAM_MAX_RANK	8u

/* How a tensor's payload is laid out: element type, physical dims and
 * bytes. */
struct tstream_layout {
	Tstream__DType dtype;
	size_t rank;
	uint64_t dims[TSTREAM_MAX_RANK];
	uint64_t bytes;
};

struct tstream_encoding {
	Tstream__Encoding id;
	const char *name;		/* "ternary-q2" */
	Tstream__DType dtype;		/* stored type; 0: any (plain) */
	int ternary;			/* the payload holds -1/0/+1 codes */
	int header_scale;		/* a tensor header carries its scale */
	int blocked;			/* takes a block_size */
	const char *form;		/* tern-dequant --to name, or NULL */
	const char *bundle_suffix;	/* of a bundle's model_SUFFIX.onnx */
	/* The stored layout of t (numel elements, dims already copied);
	 * -1 if the shape, dtype or block size does not fit. */
	int (*layout)(const Tstream__TensorInfo *t, uint64_t numel,
	    struct tstream_layout *l);
	/* The NAME.scales shape of a [rows, cols] weight: its rank, or 0
	 * when the encoding has no scales tensor. */
	size_t (*scales_shape)(uint64_t rows, uint64_t cols, uint32_t block,
	    uint64_t dims[2]);
	/* Codes at the end of each block that hold no value (a zero): 1
	 * for ternary-q2-slot, 0 for the rest. */
	unsigned slot;
};

/* The row of e; NULL if e is not an encoding. */
const struct tstream_encoding *tstream_encoding_of(Tstream__Encoding e);
/* The row whose form is s ("f32", "int8", "q2"); NULL if none. */
const struct tstream_encoding *tstream_encoding_by_form(const char *s);
/* The forms, in table order, joined by sep into buf. */
const char *tstream_encoding_forms(const char *sep, char *buf, size_t len);
/* The encoding's name, "?" if unknown. */
const char *tstream_encoding_name(Tstream__Encoding e);

/* The layout of t's payload; -1 if it does not fit its encoding, or the
 * size overflows. */
int tstream_layout(const Tstream__TensorInfo *t, struct tstream_layout *l);

/* The shape of the scales of weight t: its rank, 0 if none. */
size_t tstream_scales_shape(const Tstream__TensorInfo *t, uint64_t dims[2]);

/* Block sizes (TERNARY_Q2, BLOCK_Q8): powers of two in this range. */
#define TSTREAM_MIN_BLOCK	16u
#define TSTREAM_MAX_BLOCK	4096u

/* Is b a block size? */
int tstream_block_ok(uint64_t b);

/* The values a block of `block` codes of encoding e holds: block less
 * the encoding's slot codes. */
uint32_t tstream_block_values(Tstream__Encoding e, uint32_t block);

/* Blocks of `block` values that hold k values (the last one padded). */
uint64_t tstream_blocks(uint64_t k, uint32_t block);

#endif
