/* SPDX-License-Identifier: ISC */
/*
 * bitnet_plan.h - what graph a stream's manifest makes.  onnx-emit takes a
 * whole model or one of the parts a partial conversion selects:
 *
 *   whole     embedding, every layer, final norm (and lm_head if untied):
 *             input_ids -> logits
 *   embed     the embedding alone: input_ids -> hidden_states
 *   blocks    complete layers a..b, one contiguous range:
 *             hidden_states -> hidden_states_out
 *   head      the final norm with the head (the embedding when tied):
 *             hidden_states -> logits
 *
 * Anything else is refused with the reason; every tensor must have the
 * shape the config implies, plain float32 (or f16/bf16 for the embedding
 * and head) or, for projections, a compact form (compact.h).
 */
#ifndef BN_BITNET_PLAN_H
#define BN_BITNET_PLAN_H

#include <stddef.h>

#include "diag.h"
#include "tstream.h"

enum bitnet_part_kind {
	BITNET_WHOLE,
	BITNET_EMBED,
	BITNET_BLOCKS,
	BITNET_HEAD
};

struct bitnet_part {
	enum bitnet_part_kind kind;
	unsigned first, last;	/* layers, for WHOLE and BLOCKS */
};

int bitnet_plan(const Tstream__StreamHeader *h, struct bitnet_part *p,
    struct diag *d);

/* "decoder blocks 3-5: hidden_states -> hidden_states_out" */
const char *bitnet_part_describe(const struct bitnet_part *p, char *buf,
    size_t len);

#endif
