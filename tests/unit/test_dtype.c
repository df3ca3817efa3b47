/* SPDX-License-Identifier: ISC */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "unit.h"

static uint32_t
bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

START_TEST(bf16_values)
{
	ck_assert_float_eq(bf16_to_f32(0x3f80), 1.0f);
	ck_assert_float_eq(bf16_to_f32(0xc000), -2.0f);
	ck_assert_float_eq(bf16_to_f32(0x3e80), 0.25f);
	ck_assert(isinf(bf16_to_f32(0x7f80)) && bf16_to_f32(0x7f80) > 0);
	ck_assert(isinf(bf16_to_f32(0xff80)) && bf16_to_f32(0xff80) < 0);
	ck_assert(isnan(bf16_to_f32(0x7fc1)));
	ck_assert_uint_eq(bits(bf16_to_f32(0x7fc1)), 0x7fc10000u);
	/* smallest subnormal bf16 is 2^-133 */
	ck_assert_float_eq(bf16_to_f32(0x0001), ldexpf(1.0f, -133));
	ck_assert_uint_eq(bits(bf16_to_f32(0x8000)), 0x80000000u);
}
END_TEST

START_TEST(f16_values)
{
	ck_assert_float_eq(f16_to_f32(0x3c00), 1.0f);
	ck_assert_float_eq(f16_to_f32(0xc000), -2.0f);
	ck_assert_float_eq(f16_to_f32(0x7bff), 65504.0f);
	ck_assert_float_eq(f16_to_f32(0x3555), 0.333251953125f);
	ck_assert(isinf(f16_to_f32(0x7c00)) && f16_to_f32(0x7c00) > 0);
	ck_assert(isinf(f16_to_f32(0xfc00)) && f16_to_f32(0xfc00) < 0);
	ck_assert(isnan(f16_to_f32(0x7e00)));
	ck_assert(isnan(f16_to_f32(0xfd01)));
	/* NaN payload bits survive the widening */
	ck_assert_uint_eq(bits(f16_to_f32(0x7c01)) & 0x7fffffu, 1u << 13);
	/* subnormals: smallest 2^-24, largest (1023) * 2^-24 */
	ck_assert_float_eq(f16_to_f32(0x0001), ldexpf(1.0f, -24));
	ck_assert_float_eq(f16_to_f32(0x03ff), 1023.0f * ldexpf(1.0f, -24));
	ck_assert_float_eq(f16_to_f32(0x8001), -ldexpf(1.0f, -24));
	ck_assert_float_eq(f16_to_f32(0x0400), ldexpf(1.0f, -14));
	ck_assert_uint_eq(bits(f16_to_f32(0x8000)), 0x80000000u);
}
END_TEST

START_TEST(f16_every_finite_value)
{
	/* every finite half is k * 2^e exactly: check all 63488 of them */
	for (uint32_t h = 0; h < 0x10000; h++) {
		uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
		float want;

		if (e == 0x1f)
			continue;
		want = e ? ldexpf((float)(m | 0x400), (int)e - 25) :
		    ldexpf((float)m, -24);
		if (h & 0x8000)
			want = -want;
		ck_assert_uint_eq(bits(f16_to_f32((uint16_t)h)), bits(want));
	}
}
END_TEST

START_TEST(convert_buffers)
{
	const uint16_t bf[3] = { 0x3f80, 0x4040, 0xbf00 };
	const uint16_t hf[3] = { 0x3c00, 0x4200, 0xb800 };
	float out[3];

	dtype_to_f32(TSTREAM__DTYPE__BF16, bf, out, 3);
	ck_assert_float_eq(out[0], 1.0f);
	ck_assert_float_eq(out[1], 3.0f);
	ck_assert_float_eq(out[2], -0.5f);
	dtype_to_f32(TSTREAM__DTYPE__F16, hf, out, 3);
	ck_assert_float_eq(out[1], 3.0f);
	ck_assert_float_eq(out[2], -0.5f);
}
END_TEST

START_TEST(numel_overflow)
{
	uint64_t big[2] = { 1ull << 33, 1ull << 31 }, ok[3] = { 3, 4, 5 };
	uint64_t zero[2] = { 0, UINT64_MAX }, n;

	ck_assert_int_eq(shape_numel(ok, 3, &n), 0);
	ck_assert_uint_eq(n, 60);
	ck_assert_int_eq(shape_numel(big, 2, &n), -1);
	ck_assert_int_eq(shape_numel(zero, 2, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(shape_numel(NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(safetensors_names)
{
	ck_assert_int_eq(dtype_from_safetensors("BF16"), TSTREAM__DTYPE__BF16);
	ck_assert_int_eq(dtype_from_safetensors("U8"), TSTREAM__DTYPE__U8);
	ck_assert_int_eq(dtype_from_safetensors("Q4"), 0);
	ck_assert_int_eq(dtype_from_safetensors("bf16"), 0);
	ck_assert_uint_eq(dtype_size(TSTREAM__DTYPE__BF16), 2);
	ck_assert_uint_eq(dtype_size(99), 0);
}
END_TEST

/* Every finite float16 comes back from float32 as itself; values
 * between two float16s round to nearest even; beyond 65504 is refused. */
START_TEST(f32_to_f16_rounding)
{
	float f[8];
	uint16_t h[8];

	for (uint32_t v = 0; v < 0x10000; v++) {
		uint16_t back;
		float x;

		if ((v & 0x7c00) == 0x7c00)
			continue;
		x = f16_to_f32((uint16_t)v);
		ck_assert_uint_eq(dtype_f32_to_f16(&x, &back, 1), 1);
		ck_assert_uint_eq(back, v);
	}
	f[0] = 65504.0f;		/* the largest float16 */
	f[1] = ldexpf(1.0f, -24);	/* the smallest subnormal */
	f[2] = ldexpf(3.0f, -25);	/* 1.5 units: a tie, to 2 */
	f[3] = ldexpf(1.0f, -25);	/* half a unit: a tie, to 0 */
	f[4] = 1.0f + ldexpf(1.0f, -11);	/* a tie between 1 and next */
	f[5] = -ldexpf(5.0f, -26);	/* 1.25 units: to 1 */
	f[6] = INFINITY;
	f[7] = 1e-30f;
	ck_assert_uint_eq(dtype_f32_to_f16(f, h, 8), 8);
	ck_assert_uint_eq(h[0], 0x7bff);
	ck_assert_uint_eq(h[1], 0x0001);
	ck_assert_uint_eq(h[2], 0x0002);
	ck_assert_uint_eq(h[3], 0x0000);
	ck_assert_uint_eq(h[4], 0x3c00);
	ck_assert_uint_eq(h[5], 0x8001);
	ck_assert_uint_eq(h[6], 0x7c00);
	ck_assert_uint_eq(h[7], 0x0000);
	f[0] = 1.0f;
	f[1] = 65520.0f;		/* rounds past the largest */
	ck_assert_uint_eq(dtype_f32_to_f16(f, h, 2), 1);
}
END_TEST

Suite *
suite_dtype(void)
{
	return UNIT_SUITE("dtype", bf16_values, f16_values,
	    f16_every_finite_value, f32_to_f16_rounding, convert_buffers,
	    numel_overflow, safetensors_names);
}
