/* SPDX-License-Identifier: ISC */
/*
 * onnx_report.h - what onnx-verify tells about a model: a summary for a
 * person, and the comparison of its weights with a tensor stream.
 */
#ifndef BN_ONNX_REPORT_H
#define BN_ONNX_REPORT_H

#include <stdio.h>

#include "diag.h"
#include "onnx_read.h"
#include "tstream.h"

/* Inputs, outputs, op counts, parameters and bytes. */
int onnx_print_summary(FILE *fp, const struct onnx_model *m, struct diag *d);

/* Check that every tensor of the stream r equals, bit for bit, the
 * initializer of the same name, reading both in chunks; *checked counts
 * the tensors compared. */
int onnx_compare_stream(const struct onnx_model *m, struct tstream_reader *r,
    size_t *checked, struct diag *d);

#endif
