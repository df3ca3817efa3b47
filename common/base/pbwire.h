/* SPDX-License-Identifier: ISC */
/*
 * pbwire.h - the protobuf wire format by hand, for the parts of an ONNX
 * model too large to pack or unpack whole: varints, tags, lengths.
 */
#ifndef BN_PBWIRE_H
#define BN_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

enum pb_wire {
	PB_VARINT = 0,
	PB_I64 = 1,
	PB_LEN = 2,
	PB_I32 = 5
};

#define PB_VARINT_MAX 10

size_t pb_varint_size(uint64_t v);

/* Encode v at p (PB_VARINT_MAX bytes of room); returns bytes written. */
size_t pb_put_varint(uint8_t *p, uint64_t v);

/* Encode the tag of field with wire type w. */
size_t pb_put_tag(uint8_t *p, uint32_t field, enum pb_wire w);

/* Decode a varint from p[0..n); returns bytes used, 0 if truncated or
 * longer than 10 bytes. */
size_t pb_get_varint(const uint8_t *p, size_t n, uint64_t *v);

/* Bytes of a length-delimited field: tag, length, then len bytes. */
uint64_t pb_len_field_size(uint32_t field, uint64_t len);

#endif
