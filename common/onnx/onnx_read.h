/* SPDX-License-Identifier: ISC */
/*
 * onnx_read.h - read an ONNX model without loading its weights: the
 * model's and graph's small fields are unpacked with protobuf-c, while
 * each initializer's raw_data is only located (file offset and length),
 * and external data is described by its entries.  Memory stays in
 * proportion to the graph, not the weights.
 */
#ifndef BN_ONNX_READ_H
#define BN_ONNX_READ_H

#include <stdint.h>

#include "diag.h"
#include "onnx.pb-c.h"

/* Limits on what is held in memory (documented in onnx-verify(1)). */
#define ONNX_MAX_GRAPH_BYTES	(256u << 20)	/* everything but raw data, and
						 * its unpacked form */
#define ONNX_FIELD_COST		64u	/* what a field unpacks to, at least */
#define ONNX_MAX_INITIALIZERS	1000000u

struct onnx_init {
	Onnx__TensorProto *t;	/* every field but raw_data */
	int has_raw;
	uint64_t raw_off;	/* raw_data within the model file */
	uint64_t raw_len;
};

struct onnx_model {
	char *path;
	int fd;
	uint64_t size;
	Onnx__ModelProto *model;	/* without its graph */
	Onnx__GraphProto *graph;	/* without its initializers */
	int has_graph;
	struct onnx_init *inits;
	size_t n_inits;
};

int onnx_model_open(struct onnx_model *m, const char *path, struct diag *d);
void onnx_model_close(struct onnx_model *m);

/* Node n's integer attribute name, or def when it has none. */
int64_t onnx_node_int(const Onnx__NodeProto *n, const char *name,
    int64_t def);

/* The initializer of that name, or NULL. */
const struct onnx_init *onnx_model_find_init(const struct onnx_model *m,
    const char *name);

#endif
