/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "crc32c.h"
#include "unit.h"

START_TEST(check_value)
{
	/* the check value of CRC-32C (RFC 3720 and the CRC catalogue) */
	ck_assert_uint_eq(crc32c_update(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(crc32c_update(0, "", 0), 0);
}
END_TEST

START_TEST(incremental_equals_whole)
{
	unsigned char buf[1000];
	uint32_t whole, part = 0;

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	whole = crc32c_update(0, buf, sizeof buf);
	for (size_t off = 0; off < sizeof buf; off += 13) {
		size_t n = sizeof buf - off < 13 ? sizeof buf - off : 13;
		part = crc32c_update(part, buf + off, n);
	}
	ck_assert_uint_eq(whole, part);
	buf[500] ^= 1;
	ck_assert_uint_ne(whole, crc32c_update(0, buf, sizeof buf));
}
END_TEST

START_TEST(portable_equals_fast)
{
	unsigned char buf[4099];

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 5));
	ck_assert_uint_eq(crc32c_update_portable(0, "123456789", 9),
	    0xe3069283u);
	for (size_t n = 0; n < 40; n++)
		ck_assert_uint_eq(crc32c_update(7, buf + n, sizeof buf - 2 * n),
		    crc32c_update_portable(7, buf + n, sizeof buf - 2 * n));
}
END_TEST

START_TEST(rfc3720_zeros)
{
	unsigned char z[32];

	memset(z, 0, sizeof z);
	ck_assert_uint_eq(crc32c_update(0, z, sizeof z), 0x8a9136aau);
	memset(z, 0xff, sizeof z);
	ck_assert_uint_eq(crc32c_update(0, z, sizeof z), 0x62a8ab43u);
}
END_TEST

Suite *
suite_crc32c(void)
{
	return UNIT_SUITE("crc32c", check_value, incremental_equals_whole,
	    rfc3720_zeros, portable_equals_fast);
}
