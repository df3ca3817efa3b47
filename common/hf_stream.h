/* SPDX-License-Identifier: ISC */
/*
 * hf_stream.h - write the tensor stream of a model whose one safetensors
 * file is read in a single pass (hf_model_open_stream): tensors go out in
 * the file's order, and a packed projection met before its weight_scale
 * is held (one at a time) until the scale comes.
 */
#ifndef BN_HF_STREAM_H
#define BN_HF_STREAM_H

#include "diag.h"
#include "hf_model.h"
#include "st_stream.h"
#include "tstream.h"

#define HF_MAX_HELD	(256u << 20)	/* a packed projection waiting */

/* Write tensors kept[0 .. n - 1] of m (in the order of the file),
 * reading their data from s. */
int hf_stream_write(struct hf_model *m, const size_t *kept, size_t n,
    struct st_stream *s, struct tstream_writer *w, struct diag *d);

#endif
