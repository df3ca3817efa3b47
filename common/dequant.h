/* SPDX-License-Identifier: ISC */
/*
 * dequant.h - turn any tensor of a stream into plain float32: float
 * tensors are widened, ternary tensors decoded and scaled.  Ternary
 * scales multiply (AutoBitLinear) or divide (BitLinear) as the model's
 * quantization_config.linear_class says.
 */
#ifndef BN_DEQUANT_H
#define BN_DEQUANT_H

#include "compact.h"
#include "diag.h"
#include "tstream.h"

/* The float32 TensorInfo that in becomes; shape points to shape_buf. */
int dequant_info(const Tstream__TensorInfo *in, Tstream__TensorInfo *out,
    uint64_t *shape_buf, struct diag *d);

/* Check that every manifest entry can be converted under config c, so
 * that nothing is written for a stream that would fail half-way. */
int dequant_check_stream(const Tstream__StreamHeader *h, struct diag *d);

/* The header of the output stream for form o: every manifest entry as
 * it leaves (ternary weights in form o, everything else float32; q2
 * weights followed by their scales), with producer appended. */
Tstream__StreamHeader *dequant_header(const Tstream__StreamHeader *in,
    const struct compact_opts *o, const char *producer, struct diag *d);

/* Read the current tensor `in` from r and write it to w: as float32, or
 * a ternary weight in form o. */
int dequant_tensor(struct tstream_reader *r, const Tstream__TensorInfo *in,
    const struct compact_opts *o, struct tstream_writer *w, struct diag *d);

#endif
