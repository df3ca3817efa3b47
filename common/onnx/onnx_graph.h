/* SPDX-License-Identifier: ISC */
/*
 * onnx_graph.h - build an ONNX GraphProto node by node: single-output
 * nodes named after a hint, attributes, small embedded constants, typed
 * graph inputs and outputs.  Large weights are not held here; the writer
 * streams them in (onnx_write.h).
 *
 * Every function returns NULL (or -1) once anything has failed, and
 * accepts NULL inputs then, so a builder checks og_failed() once.
 */
#ifndef BN_ONNX_GRAPH_H
#define BN_ONNX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "onnx.pb-c.h"

#define OG_FLOAT	ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define OG_INT64	ONNX__TENSOR_PROTO__DATA_TYPE__INT64
#define OG_BOOL		ONNX__TENSOR_PROTO__DATA_TYPE__BOOL
#define OG_UINT8	ONNX__TENSOR_PROTO__DATA_TYPE__UINT8
#define OG_INT32	ONNX__TENSOR_PROTO__DATA_TYPE__INT32

struct onnx_graph {
	struct arena arena;
	unsigned next_id;
	Onnx__GraphProto graph;
	size_t cap_node, cap_init, cap_in, cap_out;
};

void og_init(struct onnx_graph *g, const char *name);
int og_failed(const struct onnx_graph *g);
void og_free(struct onnx_graph *g);

Onnx__AttributeProto *og_attr_int(struct onnx_graph *g, const char *name,
    int64_t v);
Onnx__AttributeProto *og_attr_ints(struct onnx_graph *g, const char *name,
    const int64_t *v, size_t n);
Onnx__AttributeProto *og_attr_float(struct onnx_graph *g, const char *name,
    float v);

/* A node of n_in inputs and one output, named from hint; returns the
 * output's name.  attrs may be NULL when n_attrs is 0. */
const char *og_node(struct onnx_graph *g, const char *op, const char *hint,
    const char *const *in, size_t n_in, Onnx__AttributeProto *const *attrs,
    size_t n_attrs);

/* A node whose outputs are named by the caller. */
int og_node_named(struct onnx_graph *g, const char *op,
    const char *const *in, size_t n_in, const char *const *out,
    size_t n_out, Onnx__AttributeProto *const *attrs, size_t n_attrs);

/* A fresh unique value name from hint; a copy of name kept by g. */
const char *og_name(struct onnx_graph *g, const char *hint);
const char *og_name_copy(struct onnx_graph *g, const char *name);

/* Put the last node added in an operator domain ("com.microsoft"). */
int og_set_domain(struct onnx_graph *g, const char *domain);

/* Shorthands for nodes without attributes. */
const char *og_op1(struct onnx_graph *g, const char *op, const char *hint,
    const char *a);
const char *og_op2(struct onnx_graph *g, const char *op, const char *hint,
    const char *a, const char *b);
const char *og_op3(struct onnx_graph *g, const char *op, const char *hint,
    const char *a, const char *b, const char *c);

/* Small constants, embedded in the graph as initializers. */
const char *og_const_f32(struct onnx_graph *g, const char *hint,
    const float *v, const int64_t *dims, size_t rank);
const char *og_const_i64(struct onnx_graph *g, const char *hint,
    const int64_t *v, const int64_t *dims, size_t rank);
const char *og_const_u8(struct onnx_graph *g, const char *hint,
    const uint8_t *v, const int64_t *dims, size_t rank);
const char *og_scalar_f32(struct onnx_graph *g, const char *hint, float v);
const char *og_vec_i64(struct onnx_graph *g, const char *hint,
    const int64_t *v, size_t n);

/* Typed graph inputs and outputs; each dim is a number ("128") or a
 * symbolic name ("batch_size"). */
int og_input(struct onnx_graph *g, const char *name, int elem_type,
    const char *const *dims, size_t rank);
int og_output(struct onnx_graph *g, const char *name, int elem_type,
    const char *const *dims, size_t rank);

#endif
