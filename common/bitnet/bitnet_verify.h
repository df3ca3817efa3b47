/* SPDX-License-Identifier: ISC */
/*
 * bitnet_verify.h - whether a model's graph is the one onnx-emit builds
 * from a stream: the graph is built again from the stream's header (its
 * config and manifest), with the options the model shows (GroupQuery-
 * Attention, MatMulNBits' accuracy_level) and the activation quantization
 * BitNet computes, and compared node by node and constant by constant
 * with the model's.  Weights are compared apart (onnx_report.h).
 */
#ifndef BN_BITNET_VERIFY_H
#define BN_BITNET_VERIFY_H

#include "diag.h"
#include "onnx_read.h"
#include "tstream.h"

/* 0 when m's nodes and constants are those built from header h; 1 when
 * h's tensors are a selection that makes no model or part (no graph to
 * compare); else an input error naming the first difference. */
int bitnet_verify_graph(const struct onnx_model *m,
    const Tstream__StreamHeader *h, struct diag *d);

#endif
