/* SPDX-License-Identifier: ISC */
/*
 * recode.h - what tern-dequant makes of each tensor of a stream.  The
 * header pass works out one plan per manifest entry (the ternary
 * decoder that reads it, the encoding and type it leaves in, the
 * writer that carries it out) and the output header from those plans;
 * the payload pass looks each tensor's plan up and runs its writer.
 *
 * Ternary weights leave as float32 (scaled as the model's
 * quantization_config.linear_class says: AutoBitLinear multiplies,
 * BitLinear divides) or in a compact encoding (compact.h); other float
 * tensors as float32, except that beside compact projections the
 * embedding and an untied head leave as the table form says.
 */
#ifndef BN_RECODE_H
#define BN_RECODE_H

#include <stdint.h>

#include "diag.h"
#include "tstream.h"

/* How the embedding and an untied head are stored beside compact
 * projections (--embed), one row each: as plain floats (f16, the
 * default, which every onnxruntime build casts, bf16 values below
 * 2^-14 rounded by at most 2^-25; f32, exact, twice the bytes; keep, as
 * the source has it; each for a bf16 or f16 source, an f32 one staying
 * f32), or quantized a row at a time from any float source: q8 as
 * block-q8 (8 bits a value and a scale per 32, blockq8.h) for
 * MatMulNBits, int8 as row-i8 (int8 values and a scale a row) for
 * MatMulInteger. */
struct recode_table_form {
	const char *name;		/* --embed's word */
	Tstream__Encoding encoding;	/* PLAIN, or a row-quantized one */
	uint32_t block;			/* along a row; 0: the whole row */
	/* a row-quantized encoding's codec: the n values of x in blocks
	 * of block into codes and scales; -1 with *bad at a value it
	 * cannot store */
	int (*quantize_row)(const float *x, uint64_t n, uint32_t block,
	    uint8_t *codes, float *scales, uint64_t *bad);
	Tstream__DType half;		/* PLAIN: a bf16 or f16 table's type;
					 * 0: as the source has it */
};

/* The row named s; NULL if none. */
const struct recode_table_form *recode_table_form_by_name(const char *s);
/* Row i in table order (the first is the default); NULL past the end. */
const struct recode_table_form *recode_table_form_at(size_t i);
/* Their names joined by sep (last before the last one) into buf. */
const char *recode_table_form_names(const char *sep, const char *last,
    char *buf, size_t len);

struct recode_opts {
	Tstream__Encoding form;		/* ternary weights: PLAIN (f32),
					 * TERNARY_INT8 or TERNARY_Q2 */
	uint32_t block_size;		/* TERNARY_Q2 */
	const struct recode_table_form *table;	/* NULL: the default */
};

struct recode_plan;

/* Every manifest entry's plan under o, each checked so that nothing is
 * written for a stream that would fail half-way, and in *out the header
 * of the output stream (its entries as they leave, a compact weight
 * followed by its scales; producer appended).  file names the stream in
 * messages.  NULL on error. */
struct recode_plan *recode_plan_stream(const Tstream__StreamHeader *in,
    const struct recode_opts *o, const char *file, const char *producer,
    Tstream__StreamHeader **out, struct diag *d);

/* Read the current tensor of r (r->cur) and write it to w as its plan
 * says. */
int recode_tensor(const struct recode_plan *p, struct tstream_reader *r,
    struct tstream_writer *w, struct diag *d);

void recode_plan_free(struct recode_plan *p);

#endif
