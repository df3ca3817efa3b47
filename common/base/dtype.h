/* SPDX-License-Identifier: ISC */
/*
 * dtype.h - element types of tensors and conversions to float32.
 *
 * Payloads are little-endian; this code builds only on little-endian
 * hosts (checked at compile time in dtype.c).
 */
#ifndef BN_DTYPE_H
#define BN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "tstream.pb-c.h"

typedef Tstream__DType bn_dtype;

/* Bytes per element, 0 for an unknown type. */
size_t dtype_size(bn_dtype t);

/* Lower-case name ("f32", "bf16", ...); "?" for an unknown type. */
const char *dtype_name(bn_dtype t);

/* The type of a safetensors dtype string ("BF16", "U8", ...); 0 if none. */
bn_dtype dtype_from_safetensors(const char *s);

/* True for the floating types that dtype_to_f32 converts. */
int dtype_is_float(bn_dtype t);

/* Convert n elements at src (little-endian) of type t to float32. */
void dtype_to_f32(bn_dtype t, const void *src, float *dst, size_t n);

float bf16_to_f32(uint16_t h);
float f16_to_f32(uint16_t h);

/* n floats to float16 bits, rounded to nearest even; returns n, or the
 * index of the first finite value beyond float16's range (65504). */
size_t dtype_f32_to_f16(const float *src, uint16_t *dst, size_t n);

/* numel of shape into *out; -1 on overflow of 64 bits. */
int shape_numel(const uint64_t *shape, size_t rank, uint64_t *out);

/* "[a,b,c]" into buf. */
const char *shape_format(const uint64_t *shape, size_t rank, char *buf,
    size_t len);

#endif
