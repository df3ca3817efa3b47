/* SPDX-License-Identifier: ISC */
#include "pbwire.h"

size_t
pb_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t
pb_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t
pb_put_tag(uint8_t *p, uint32_t field, enum pb_wire w)
{
	return pb_put_varint(p, (uint64_t)field << 3 | (uint64_t)w);
}

size_t
pb_get_varint(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t r = 0;

	for (size_t i = 0; i < n && i < PB_VARINT_MAX; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

uint64_t
pb_len_field_size(uint32_t field, uint64_t len)
{
	return pb_varint_size((uint64_t)field << 3) + pb_varint_size(len) +
	    len;
}
