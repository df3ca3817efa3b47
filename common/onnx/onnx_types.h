/* SPDX-License-Identifier: ISC */
/*
 * onnx_types.h - the ONNX facts both the writer and the checker use: the
 * versions bitnet-onnx writes (IR 8, opset 17, com.microsoft opset 1),
 * onnxruntime's contrib domain, and the element types of tensors.
 */
#ifndef BN_ONNX_TYPES_H
#define BN_ONNX_TYPES_H

#include <stddef.h>

#include "onnx.pb-c.h"
#include "tstream.pb-c.h"

#define ONNX_IR_VERSION		8	/* onnx 1.13 .. */
#define ONNX_OPSET		17	/* the default domain */
#define ONNX_MS_DOMAIN		"com.microsoft"	/* onnxruntime's contrib ops */
#define ONNX_MS_OPSET		1

/* The block sizes onnxruntime's MatMulNBits loads: powers of two in
 * this range (a larger one verifies in onnx's checker and fails when the
 * session is made). */
#define ONNX_NBITS_MIN_BLOCK	16
#define ONNX_NBITS_MAX_BLOCK	256

/* The ONNX data type of a stream element type; -1 if none. */
int onnx_type_from_dtype(Tstream__DType t);

/* Bytes per element of an ONNX data type; 0 for types not supported. */
size_t onnx_elem_size(int data_type);

/* "float32", "int64", ...; "?" for an unknown type. */
const char *onnx_elem_name(int data_type);

/* A weight stored as several initializers of its rows is NAME.part0,
 * NAME.part1, ... in order (the writer's pieces; onnx-verify compares
 * them as one).  The name of piece k of weight name; NULL if it does not
 * fit in len. */
#define ONNX_PIECE_SUFFIX	".part"
const char *onnx_piece_name(const char *name, unsigned k, char *buf,
    size_t len);

#endif
