/* SPDX-License-Identifier: ISC */
/*
 * onnx_check.h - what onnx's checker checks that matters for the models
 * bitnet-onnx writes, on a model read by onnx_read.h: IR version and
 * opset imports, typed graph inputs and outputs, initializers whose bytes
 * match their dims (inline or inside their external data file), nodes in
 * topological order with every input defined and every value defined
 * once, known standard operators, and graph outputs that are produced.
 */
#ifndef BN_ONNX_CHECK_H
#define BN_ONNX_CHECK_H

#include <stddef.h>

#include "diag.h"
#include "onnx_read.h"

int onnx_check_model(const struct onnx_model *m, struct diag *d);

/* Where the bytes of an initializer stored as raw or external data are:
 * the file (the model or its data file), the offset and the length. */
int onnx_init_locate(const struct onnx_model *m, const struct onnx_init *in,
    char *path, size_t plen, uint64_t *off, uint64_t *len, struct diag *d);

int onnx_init_is_external(const struct onnx_init *in);

#endif
