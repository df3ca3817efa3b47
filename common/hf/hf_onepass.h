/* SPDX-License-Identifier: ISC */
/*
 * hf_onepass.h - write the tensor stream of a model whose one safetensors
 * file is read in a single pass (hf_model_open_stream): tensors go out in
 * the file's order, and a packed projection met before its weight_scale
 * is held (one at a time) until the scale comes.
 */
#ifndef BN_HF_ONEPASS_H
#define BN_HF_ONEPASS_H

#include "diag.h"
#include "hf_model.h"
#include "st_onepass.h"
#include "tstream.h"

#define HF_MAX_HELD	(256u << 20)	/* a packed projection waiting */

/* Write tensors kept[0 .. n - 1] of m (in the order of the file),
 * reading their data from s. */
int hf_onepass_write(struct hf_model *m, const size_t *kept, size_t n,
    struct st_onepass *s, struct tstream_writer *w, struct diag *d);

#endif
