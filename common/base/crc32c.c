/* SPDX-License-Identifier: ISC */
#include "crc32c.h"

#include <string.h>

#include "crc32c_table.h"

/* Slicing-by-8 in portable C. */
static uint32_t
crc32c_soft(uint32_t c, const unsigned char *p, size_t n)
{
	while (n >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);	/* little-endian host, see dtype.c */
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc32c_table[7][lo & 0xff] ^
		    crc32c_table[6][(lo >> 8) & 0xff] ^
		    crc32c_table[5][(lo >> 16) & 0xff] ^
		    crc32c_table[4][lo >> 24] ^
		    crc32c_table[3][hi & 0xff] ^
		    crc32c_table[2][(hi >> 8) & 0xff] ^
		    crc32c_table[1][(hi >> 16) & 0xff] ^
		    crc32c_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The SSE4.2 crc32 instruction computes CRC-32C, 8 bytes at a time. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(uint32_t c, const unsigned char *p, size_t n)
{
	uint64_t c64 = c;

	while (n >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#define HAVE_SSE42 1
#endif

uint32_t
crc32c_update(uint32_t crc, const void *buf, size_t n)
{
#ifdef HAVE_SSE42
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_sse42(~crc, buf, n);
#endif
	return ~crc32c_soft(~crc, buf, n);
}

uint32_t
crc32c_update_portable(uint32_t crc, const void *buf, size_t n)
{
	return ~crc32c_soft(~crc, buf, n);
}
