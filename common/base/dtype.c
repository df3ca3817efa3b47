/* SPDX-License-Identifier: ISC */
#include "dtype.h"

#include <stdio.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bitnet-onnx reads and writes little-endian payloads in place"
#endif

struct dtype_desc {
	bn_dtype type;
	size_t size;
	const char *name;
	const char *st_name;	/* safetensors spelling */
	int is_float;
};

static const struct dtype_desc dtypes[] = {
	{ TSTREAM__DTYPE__F32, 4, "f32", "F32", 1 },
	{ TSTREAM__DTYPE__F16, 2, "f16", "F16", 1 },
	{ TSTREAM__DTYPE__BF16, 2, "bf16", "BF16", 1 },
	{ TSTREAM__DTYPE__U8, 1, "u8", "U8", 0 },
	{ TSTREAM__DTYPE__I8, 1, "i8", "I8", 0 },
	{ TSTREAM__DTYPE__I32, 4, "i32", "I32", 0 },
	{ TSTREAM__DTYPE__I64, 8, "i64", "I64", 0 },
	{ TSTREAM__DTYPE__F64, 8, "f64", "F64", 0 },
};

static const struct dtype_desc *
dtype_find(bn_dtype t)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (dtypes[i].type == t)
			return &dtypes[i];
	return NULL;
}

size_t
dtype_size(bn_dtype t)
{
	const struct dtype_desc *d = dtype_find(t);

	return d ? d->size : 0;
}

const char *
dtype_name(bn_dtype t)
{
	const struct dtype_desc *d = dtype_find(t);

	return d ? d->name : "?";
}

int
dtype_is_float(bn_dtype t)
{
	const struct dtype_desc *d = dtype_find(t);

	return d ? d->is_float : 0;
}

bn_dtype
dtype_from_safetensors(const char *s)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (strcmp(dtypes[i].st_name, s) == 0)
			return dtypes[i].type;
	return TSTREAM__DTYPE__DTYPE_UNSPECIFIED;
}

static float
f32_from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

float
bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

float
f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;

	if (exp == 0x1f)	/* inf and nan keep their payload */
		return f32_from_bits(sign | 0x7f800000u | (mant << 13));
	if (exp != 0)
		return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
	/* zero or subnormal: mant * 2^-24 is exact in float32 */
	float v = (float)mant * 0x1p-24f;
	return sign ? -v : v;
}

/* f to float16 bits, rounded to nearest even (subnormals too); -1 when f
 * is finite but beyond float16's range. */
static int
f32_to_f16(float f, uint16_t *out)
{
	uint32_t u, sign, mant;
	int exp;

	memcpy(&u, &f, sizeof u);
	sign = (u >> 16) & 0x8000u;
	exp = (int)((u >> 23) & 0xff) - 127;
	mant = u & 0x7fffffu;
	if (exp == 128) {	/* inf or nan: keep a nan a nan */
		*out = (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
		return 0;
	}
	if (exp >= -14) {	/* normal in float16, or beyond it */
		uint32_t m = mant >> 13, rest = mant & 0x1fffu;
		uint32_t h = ((uint32_t)(exp + 15) << 10) | m;

		if (rest > 0x1000u || (rest == 0x1000u && (m & 1)))
			h++;	/* may carry into the exponent: still right */
		if (h >= 0x7c00u)
			return -1;
		*out = (uint16_t)(sign | h);
		return 0;
	}
	if (exp < -25) {	/* below half the smallest subnormal */
		*out = (uint16_t)sign;
		return 0;
	}
	/* subnormal: value = (mant | 1 << 23) * 2^(exp - 23), in units of
	 * 2^-24 that is (mant | 1 << 23) >> (-exp - 1) */
	{
		uint32_t full = mant | 0x800000u;
		int shift = -exp - 1;
		uint32_t m = full >> shift, rest = full & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);

		if (rest > half || (rest == half && (m & 1)))
			m++;
		*out = (uint16_t)(sign | m);
	}
	return 0;
}

size_t
dtype_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f32_to_f16(src[i], &dst[i]) == -1)
			return i;
	return n;
}

void
dtype_to_f32(bn_dtype t, const void *src, float *dst, size_t n)
{
	const unsigned char *p = src;
	uint16_t h;

	switch (t) {
	case TSTREAM__DTYPE__F32:
		memcpy(dst, src, n * sizeof(float));
		break;
	case TSTREAM__DTYPE__BF16:
		for (size_t i = 0; i < n; i++) {
			memcpy(&h, p + 2 * i, 2);
			dst[i] = bf16_to_f32(h);
		}
		break;
	case TSTREAM__DTYPE__F16:
		for (size_t i = 0; i < n; i++) {
			memcpy(&h, p + 2 * i, 2);
			dst[i] = f16_to_f32(h);
		}
		break;
	default:
		break;
	}
}

int
shape_numel(const uint64_t *shape, size_t rank, uint64_t *out)
{
	uint64_t n = 1;

	for (size_t i = 0; i < rank; i++) {
		if (shape[i] != 0 && n > UINT64_MAX / shape[i])
			return -1;
		n *= shape[i];
	}
	*out = n;
	return 0;
}

const char *
shape_format(const uint64_t *shape, size_t rank, char *buf, size_t len)
{
	size_t used = 0;

	used += (size_t)snprintf(buf, len, "[");
	for (size_t i = 0; i < rank && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%llu",
		    i ? "," : "", (unsigned long long)shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}
