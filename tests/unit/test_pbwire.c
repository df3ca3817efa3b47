/* SPDX-License-Identifier: ISC */
#include <stdint.h>
#include <string.h>

#include "pbwire.h"
#include "unit.h"

/* Sizes at every 7-bit boundary, and the round trip of each value. */
START_TEST(varint_sizes_and_round_trip)
{
	uint8_t buf[PB_VARINT_MAX];
	uint64_t got;

	for (unsigned bits = 0; bits <= 64; bits++) {
		uint64_t v = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
		size_t want = bits == 0 ? 1 : (bits + 6) / 7;
		size_t n = pb_put_varint(buf, v);

		ck_assert_uint_eq(n, want);
		ck_assert_uint_eq(pb_varint_size(v), want);
		ck_assert_uint_eq(pb_get_varint(buf, n, &got), n);
		ck_assert_uint_eq(got, v);
		if (bits < 64) {	/* one more: the next size up */
			n = pb_put_varint(buf, v + 1);
			ck_assert_uint_eq(pb_get_varint(buf, n, &got), n);
			ck_assert_uint_eq(got, v + 1);
		}
	}
}
END_TEST

START_TEST(known_encodings)
{
	uint8_t buf[PB_VARINT_MAX];

	ck_assert_uint_eq(pb_put_varint(buf, 300), 2);
	ck_assert_uint_eq(buf[0], 0xac);
	ck_assert_uint_eq(buf[1], 0x02);
	/* field 5, length-delimited: (5 << 3) | 2 */
	ck_assert_uint_eq(pb_put_tag(buf, 5, PB_LEN), 1);
	ck_assert_uint_eq(buf[0], 0x2a);
	/* field 16 needs two bytes of tag */
	ck_assert_uint_eq(pb_put_tag(buf, 16, PB_VARINT), 2);
	ck_assert_uint_eq(buf[0], 0x80);
	ck_assert_uint_eq(buf[1], 0x01);
	/* tag, a 2-byte length, the bytes */
	ck_assert_uint_eq(pb_len_field_size(1, 300), 1 + 2 + 300);
	ck_assert_uint_eq(pb_len_field_size(16, 0), 2 + 1);
}
END_TEST

START_TEST(truncated_and_overlong_varints)
{
	const uint8_t cut[2] = { 0x80, 0x80 };
	uint8_t eleven[11];
	uint64_t v = 7;

	ck_assert_uint_eq(pb_get_varint(cut, sizeof cut, &v), 0);
	ck_assert_uint_eq(pb_get_varint(cut, 0, &v), 0);
	memset(eleven, 0x80, sizeof eleven);
	eleven[10] = 0x01;
	ck_assert_uint_eq(pb_get_varint(eleven, sizeof eleven, &v), 0);
}
END_TEST

Suite *
suite_pbwire(void)
{
	return UNIT_SUITE("pbwire", varint_sizes_and_round_trip,
	    known_encodings, truncated_and_overlong_varints);
}
