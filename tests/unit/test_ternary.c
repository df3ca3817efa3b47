/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "ternary.h"
#include "unit.h"

/* The example in the docstring of transformers' unpack_weights. */
START_TEST(transformers_docstring_example)
{
	const uint8_t packed[4] = { 0xa1, 0x18, 0x90, 0x0a };
	const int8_t want[8][2] = {
		{ 0, -1 }, { -1, 1 }, { -1, 1 }, { -1, 1 },
		{ 1, 0 }, { 0, -1 }, { 1, -1 }, { 1, -1 },
	};
	int8_t row[2];
	uint64_t bad;

	for (uint64_t r = 0; r < 8; r++) {
		ck_assert_int_eq(ternary_hf_unpack_row(packed, 8, 2, r, 0, 2,
		    row, &bad), 0);
		ck_assert_int_eq(row[0], want[r][0]);
		ck_assert_int_eq(row[1], want[r][1]);
	}
}
END_TEST

START_TEST(pack_unpack_round_trip)
{
	enum { ROWS = 12, COLS = 7 };
	int8_t w[ROWS * COLS], row[COLS];
	uint8_t packed[ROWS / 4 * COLS];
	uint64_t bad;
	unsigned seed = 12345;

	for (int i = 0; i < ROWS * COLS; i++) {
		seed = seed * 1103515245u + 12345u;
		w[i] = (int8_t)((seed >> 16) % 3) - 1;
	}
	ternary_hf_pack(w, ROWS, COLS, packed);
	for (uint64_t r = 0; r < ROWS; r++) {
		ck_assert_int_eq(ternary_hf_unpack_row(packed, ROWS, COLS, r,
		    0, COLS, row, &bad), 0);
		ck_assert_mem_eq(row, w + r * COLS, COLS);
	}
	/* a column window decodes the same values */
	ck_assert_int_eq(ternary_hf_unpack_row(packed, ROWS, COLS, 9, 2, 4,
	    row, &bad), 0);
	ck_assert_mem_eq(row, w + 9 * COLS + 2, 4);
	/* row R+r lives in bits 3:2 of packed row r (R = 3) */
	ck_assert_int_eq(((packed[1 * COLS + 5] >> 2) & 3) - 1,
	    w[(3 + 1) * COLS + 5]);
}
END_TEST

/* I2_S: byte p of a 128-value block holds values p, 32+p, 64+p, 96+p from
 * its high bits down; packing and unpacking are inverses at any offset. */
START_TEST(i2s_pack_layout_and_round_trip)
{
	enum { N = 256 };
	int8_t t[N], back[N];
	uint8_t packed[N / 4];
	uint64_t bad;
	unsigned seed = 777;

	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		t[i] = (int8_t)((seed >> 16) % 3) - 1;
	}
	ternary_i2s_pack(t, N, packed);
	ck_assert_int_eq(packed[32 + 5], (t[128 + 5] + 1) << 6 |
	    (t[160 + 5] + 1) << 4 | (t[192 + 5] + 1) << 2 | (t[224 + 5] + 1));
	ck_assert_int_eq(ternary_i2s_unpack(packed, 0, N, back, &bad), 0);
	ck_assert_mem_eq(back, t, N);
	ck_assert_int_eq(ternary_i2s_unpack(packed, 100, 60, back, &bad), 0);
	ck_assert_mem_eq(back, t + 100, 60);
}
END_TEST

START_TEST(code_three_is_rejected)
{
	uint8_t packed[2] = { 0x00, 0x30 };	/* col 1: bits 5:4 = 3 */
	int8_t row[2];
	uint64_t bad = 99;

	ck_assert_int_eq(ternary_hf_unpack_row(packed, 4, 2, 0, 0, 2, row,
	    &bad), 0);
	ck_assert_int_eq(ternary_hf_unpack_row(packed, 4, 2, 2, 0, 2, row,
	    &bad), -1);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(ternary_hf_unpack_row(packed, 4, 2, 2, 1, 1, row,
	    &bad), -1);
	ck_assert_uint_eq(bad, 1);
}
END_TEST

START_TEST(scale_directions)
{
	const int8_t t[3] = { -1, 0, 1 };
	float out[3];

	ternary_scale_row(t, 3, 0.5f, 0, out);	/* autobitlinear */
	ck_assert_float_eq(out[0], -0.5f);
	ck_assert_float_eq(out[1], 0.0f);
	ck_assert_float_eq(out[2], 0.5f);
	ternary_scale_row(t, 3, 0.5f, 1, out);	/* bitlinear */
	ck_assert_float_eq(out[0], -2.0f);
	ck_assert_float_eq(out[1], 0.0f);
	ck_assert_float_eq(out[2], 2.0f);
	ternary_scale_row(t, 3, 3.0f, 1, out);
	ck_assert_float_eq(out[2], 1.0f / 3.0f);
}
END_TEST

Suite *
suite_ternary(void)
{
	return UNIT_SUITE("ternary", transformers_docstring_example,
	    pack_unpack_round_trip, code_three_is_rejected,
	    i2s_pack_layout_and_round_trip, scale_directions);
}
