/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <string.h>

#include "ggml_types.h"
#include "gguf.h"
#include "unit.h"

/* float16 0.5 is 0x3800, little-endian. */
START_TEST(q8_0_and_q4_0_blocks)
{
	const struct ggml_type *q8 = ggml_type_of(GGML_TYPE_Q8_0);
	const struct ggml_type *q4 = ggml_type_of(GGML_TYPE_Q4_0);
	uint8_t b[34] = { 0x00, 0x38 };
	float out[32];

	ck_assert_ptr_nonnull(q8);
	ck_assert_uint_eq(q8->block, 32);
	ck_assert_uint_eq(q8->block_bytes, 34);
	b[2] = (uint8_t)-3;
	b[3] = 127;
	b[33] = (uint8_t)-128;
	q8->dequant(b, out);
	ck_assert_float_eq(out[0], -1.5f);
	ck_assert_float_eq(out[1], 63.5f);
	ck_assert_float_eq(out[2], 0.0f);
	ck_assert_float_eq(out[31], -64.0f);
	memset(b + 2, 0, 32);
	b[2] = 0x0F | 0x30;	/* value 0: 15 - 8; value 16: 3 - 8 */
	q4->dequant(b, out);
	ck_assert_float_eq(out[0], 3.5f);
	ck_assert_float_eq(out[16], -2.5f);
	ck_assert_float_eq(out[1], -4.0f);	/* nibble 0 */
}
END_TEST

/* Sizes by whole blocks (I2_S with its 32-byte tail); other types and
 * partial blocks refused. */
START_TEST(type_sizes)
{
	uint64_t n = 0;

	ck_assert_int_eq(gguf_type_size(GGML_TYPE_Q4_K, 512, &n), 0);
	ck_assert_uint_eq(n, 288);
	ck_assert_int_eq(gguf_type_size(GGML_TYPE_Q6_K, 256, &n), 0);
	ck_assert_uint_eq(n, 210);
	ck_assert_int_eq(gguf_type_size(GGML_TYPE_I2_S, 256, &n), 0);
	ck_assert_uint_eq(n, 96);
	ck_assert_int_eq(gguf_type_size(GGML_TYPE_BF16, 3, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(gguf_type_size(GGML_TYPE_Q8_0, 48, &n), -1);
	ck_assert_int_eq(gguf_type_size(3, 32, &n), -1);	/* Q4_1 */
	ck_assert_ptr_null(ggml_type_of(10));			/* Q2_K */
}
END_TEST

Suite *
suite_ggml(void)
{
	return UNIT_SUITE("ggml", q8_0_and_q4_0_blocks, type_sizes);
}
