/* SPDX-License-Identifier: ISC */
/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of tensor payloads: with
 * the SSE4.2 crc32 instruction where the processor has it, else
 * slicing-by-8 tables generated at build time.
 */
#ifndef BN_CRC32C_H
#define BN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc over n bytes; start with crc = 0.  crc32c("123456789") is
 * 0xE3069283. */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t n);

/* The same without the processor's crc32 instruction (for tests). */
uint32_t crc32c_update_portable(uint32_t crc, const void *buf, size_t n);

#endif
