/* SPDX-License-Identifier: ISC */
#include "onnx_types.h"

#include <stdio.h>

int
onnx_type_from_dtype(Tstream__DType t)
{
	switch (t) {
	case TSTREAM__DTYPE__F32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	case TSTREAM__DTYPE__F16: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
	case TSTREAM__DTYPE__BF16:
		return ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
	case TSTREAM__DTYPE__U8: return ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
	case TSTREAM__DTYPE__I8: return ONNX__TENSOR_PROTO__DATA_TYPE__INT8;
	case TSTREAM__DTYPE__I32: return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
	case TSTREAM__DTYPE__I64: return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
	case TSTREAM__DTYPE__F64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
	default: return -1;
	}
}

size_t
onnx_elem_size(int t)
{
	switch (t) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
	case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
		return 1;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
	case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
		return 2;
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
		return 4;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
	case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
		return 8;
	default:
		return 0;
	}
}

const char *
onnx_elem_name(int t)
{
	static const char *const names[] = { "undefined", "float32", "uint8",
	    "int8", "uint16", "int16", "int32", "int64", "string", "bool",
	    "float16", "float64", "uint32", "uint64", "complex64",
	    "complex128", "bfloat16" };

	return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ?
	    names[t] : "?";
}

const char *
onnx_piece_name(const char *name, unsigned k, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s%u", name, ONNX_PIECE_SUFFIX, k);

	return n < 0 || (size_t)n >= len ? NULL : buf;
}
