/* SPDX-License-Identifier: ISC */
/*
 * tern_decode.h - the ternary sources of a stream, one decoder per
 * encoding (transformers' packed u8 with weight_scale, bitnet.cpp's I2_S,
 * float master weights that AutoBitLinear quantizes online), each giving
 * the -1/0/+1 values of a [rows, cols] weight in row-major order and one
 * multiplier: W = t * mult.  tern-dequant's writers (f32, int8, q2) take
 * any decoder, so a new source encoding is one row here.
 */
#ifndef BN_TERN_DECODE_H
#define BN_TERN_DECODE_H

#include <stdint.h>

#include "diag.h"
#include "tstream.h"

/* Largest ternary payload held in memory at once. */
#define TERN_MAX_PAYLOAD	(256u << 20)
/* Values a decoder gives per call at most. */
#define TERN_CHUNK		(TSTREAM_CHUNK / sizeof(float))

/* A weight being decoded; its payload is held whole. */
struct tern_src {
	const char *file;		/* the stream, for messages */
	const Tstream__TensorInfo *in;
	const uint8_t *raw;		/* in->payload_length bytes */
	uint64_t rows, cols;
	float mult;			/* W = t * mult, set by open */
	float online_s;			/* online: the quantization scale */
	float *work;			/* TERN_CHUNK floats */
};

struct tern_decoder {
	const char *what;
	/* Does this decoder read tensor t under config c? */
	int (*claims)(const Tstream__ModelConfig *c,
	    const Tstream__TensorInfo *t);
	/* Can it, before anything is written? */
	int (*check)(const Tstream__ModelConfig *c,
	    const Tstream__TensorInfo *t, struct diag *d);
	/* The payload is read: check it, find mult. */
	int (*open)(const Tstream__ModelConfig *c, struct tern_src *s,
	    struct diag *d);
	/* Values i0 .. i0+n-1 (n <= TERN_CHUNK) into t. */
	int (*values)(struct tern_src *s, uint64_t i0, uint64_t n, int8_t *t,
	    struct diag *d);
};

/* The decoder that reads t under c; NULL if t is not ternary. */
const struct tern_decoder *tern_decoder_for(const Tstream__ModelConfig *c,
    const Tstream__TensorInfo *t);

/* Values i0 .. i0+n-1 of s, in chunks the decoder takes. */
int tern_decode(const struct tern_decoder *dec, struct tern_src *s,
    uint64_t i0, uint64_t n, int8_t *t, struct diag *d);

#endif
