/* SPDX-License-Identifier: ISC */
/*
 * tstream.h - the framed tensor stream (see tstream(5)).
 *
 *   stream  = magic(8) version(u32le) HEAD-frame tensor* TRLR-frame
 *   frame   = tag(4) length(u32le) protobuf(length)
 *   tensor  = TENS-frame payload(payload_length) "TEND" crc32c(u32le)
 *
 * A reader checks everything a writer promised: the manifest, each tensor
 * against its manifest entry, each payload's CRC-32C, and a trailer that
 * accounts for every tensor, so a truncated stream is always an error.
 */
#ifndef BN_TSTREAM_H
#define BN_TSTREAM_H

#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "progress.h"
#include "tstream.pb-c.h"
#include "tstream_encoding.h"

#define TSTREAM_MAGIC		"\x89TSTR\r\n\x1a"
#define TSTREAM_VERSION		1u

/* Limits a reader enforces before it allocates (documented in tstream.5). */
#define TSTREAM_MAX_HEADER	(256u << 20)	/* HEAD frame bytes */
#define TSTREAM_MAX_FRAME	(64u << 10)	/* TENS frame bytes */
#define TSTREAM_MAX_TRAILER	TSTREAM_MAX_HEADER	/* TRLR: side files */
#define TSTREAM_MAX_TENSORS	100000u
#define TSTREAM_MAX_NAME	1024u

/* Payload bytes moved at a time by the tools. */
#define TSTREAM_CHUNK		(1u << 20)

struct tstream_reader {
	FILE *fp;
	const char *name;		/* for messages: a path or "<stdin>" */
	Tstream__StreamHeader *header;	/* valid after open */
	Tstream__TensorInfo *cur;	/* the tensor being read */
	long cur_entry;			/* its index in the manifest */
	uint64_t remaining;		/* payload bytes of cur still unread */
	uint32_t crc;			/* of cur's payload so far */
	uint64_t count;			/* tensors begun */
	uint64_t payload_bytes;
	unsigned char *seen;		/* per manifest entry */
	struct progress *progress;	/* NULL, or told of each payload */
	Tstream__Trailer *trailer;	/* once read: late side files */
};

struct tstream_writer {
	FILE *fp;
	const char *name;
	const Tstream__StreamHeader *header;
	const Tstream__TensorInfo *cur;
	uint64_t remaining;
	uint32_t crc;
	uint64_t count;
	uint64_t payload_bytes;
	unsigned char *seen;
	struct progress *progress;
	Tstream__SideFile **late_side_files;	/* go in the trailer */
	size_t n_late_side_files;
};

/* Read magic, version and header; the reader owns r->header. */
int tstream_reader_open(struct tstream_reader *r, FILE *fp, const char *name,
    struct diag *d);

/* 1 and *info set: a tensor whose payload follows; 0: the trailer was read
 * and checked; -1: error.  The previous payload must be fully read. */
int tstream_next_tensor(struct tstream_reader *r,
    const Tstream__TensorInfo **info, struct diag *d);

/* Read exactly n payload bytes of the current tensor (n <= remaining).
 * The CRC is checked when the last byte has been read. */
int tstream_read_payload(struct tstream_reader *r, void *buf, size_t n,
    struct diag *d);

/* Read and discard what is left of the current payload, checking it. */
int tstream_skip_payload(struct tstream_reader *r, struct diag *d);

void tstream_reader_close(struct tstream_reader *r);

/* Start p over the manifest of h (its total payload and tensor count). */
void tstream_progress_init(struct progress *p, int enabled, const char *what,
    const Tstream__StreamHeader *h);

/* Write magic, version and h (which must outlive the writer). */
int tstream_writer_open(struct tstream_writer *w, FILE *fp, const char *name,
    const Tstream__StreamHeader *h, struct diag *d);
int tstream_begin_tensor(struct tstream_writer *w,
    const Tstream__TensorInfo *info, struct diag *d);
int tstream_write_payload(struct tstream_writer *w, const void *buf,
    size_t n, struct diag *d);
int tstream_end_tensor(struct tstream_writer *w, struct diag *d);
/* Write the trailer and flush; fails unless every manifest entry was sent. */
int tstream_writer_finish(struct tstream_writer *w, struct diag *d);
void tstream_writer_close(struct tstream_writer *w);

/* Check one tensor description: name, rank, dtype, encoding and that
 * payload_length is what the encoding needs for the shape.  A ternary
 * tensor's header must carry its scale; its manifest entry may not (a
 * one-pass reader learns the scale after the header is written). */
int tstream_check_info(const Tstream__TensorInfo *t, int in_manifest,
    struct diag *d);

/* Index of the manifest entry named name, trying index hint first; -1 if
 * there is none.  tstream_manifest_entry gives the entry, or NULL. */
long tstream_manifest_find(const Tstream__StreamHeader *h, const char *name,
    uint64_t hint);
const Tstream__TensorInfo *tstream_manifest_entry(
    const Tstream__StreamHeader *h, const char *name);

/* A reader's header: this version, the config (and its text), the
 * manifest of n entries and the source path. */
void tstream_header_init(Tstream__StreamHeader *h, char *config_json,
    Tstream__ModelConfig *config, Tstream__TensorInfo **manifest, size_t n,
    char *source);

/* Check a header: version, config, manifest entries, unique names. */
int tstream_check_header(const Tstream__StreamHeader *h, struct diag *d);

/* A deep copy of h, to be freed with
 * tstream__stream_header__free_unpacked(copy, NULL). */
Tstream__StreamHeader *tstream_header_copy(const Tstream__StreamHeader *h,
    struct diag *d);

/* Append "who" to h->producers (h from tstream_reader_open). */
int tstream_header_add_producer(Tstream__StreamHeader *h, const char *who,
    struct diag *d);

#endif
