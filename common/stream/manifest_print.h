/* SPDX-License-Identifier: ISC */
/*
 * manifest_print.h - a stream header for people (aligned text) and for
 * programs (JSON), shared by st-read --list and tstream-info.
 */
#ifndef BN_MANIFEST_PRINT_H
#define BN_MANIFEST_PRINT_H

#include <jansson.h>
#include <stdio.h>

#include "diag.h"
#include "tstream.pb-c.h"

/* One line per tensor: name, dtype, shape, encoding, bytes, scale. */
void manifest_print_tensor(FILE *fp, const Tstream__TensorInfo *t);

/* The model config, producers and side files, a few lines. */
void manifest_print_summary(FILE *fp, const Tstream__StreamHeader *h);

/* Every manifest entry with manifest_print_tensor, and a total. */
void manifest_print_text(FILE *fp, const Tstream__StreamHeader *h);

/* --list of the readers: the summary and manifest, or the header as JSON. */
int manifest_list(FILE *fp, const Tstream__StreamHeader *h, int json,
    struct diag *d);

json_t *manifest_tensor_json(const Tstream__TensorInfo *t);

/* {"version", "source", "producers", "config", "side_files", "tensors"} */
json_t *manifest_header_json(const Tstream__StreamHeader *h);

#endif
