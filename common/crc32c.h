/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of tensor payloads.
 */
#ifndef BN_CRC32C_H
#define BN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc over n bytes; start with crc = 0.  crc32c("123456789") is
 * 0xE3069283. */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t n);

#endif
