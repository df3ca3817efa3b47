/* SPDX-License-Identifier: ISC */
/*
 * st_onepass.h - a safetensors file read front to back, in one pass, from
 * a source that cannot seek: standard input or an archive entry.  The
 * header is parsed and checked as for a file (st_parse_header); the data
 * is then read in offset order, gaps skipped.
 */
#ifndef BN_ST_ONEPASS_H
#define BN_ST_ONEPASS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "diag.h"
#include "safetensors.h"

struct byte_source {
	void *ctx;
	/* Up to n bytes into buf: the count, 0 at the end, -1 on error. */
	ssize_t (*read)(void *ctx, void *buf, size_t n, struct diag *d);
};

/* A stdio stream whose first bytes were read ahead to see what it holds
 * (standard input or a pipe cannot be rewound): they are served first. */
#define ST_PEEK_BYTES	512u

struct st_peeked {
	FILE *fp;
	unsigned char head[ST_PEEK_BYTES];
	size_t len, pos;
};

/* Read up to ST_PEEK_BYTES of fp into p->head. */
int st_peek(struct st_peeked *p, FILE *fp, const char *name, struct diag *d);
/* The byte_source read of a struct st_peeked. */
ssize_t st_onepass_read_peeked(void *ctx, void *buf, size_t n,
    struct diag *d);

struct st_onepass {
	struct byte_source *src;
	const char *name;
	uint64_t pos;		/* data bytes consumed */
};

/* Read and check the header into f (f->fd is -1, f->tensors in offset
 * order).  size is the file's length when known (an archive entry), or
 * UINT64_MAX (a pipe: offsets are then checked as the data comes). */
int st_onepass_open(struct st_onepass *s, struct byte_source *src,
    const char *name, uint64_t size, struct st_file *f, struct diag *d);

/* Skip to data offset off (not behind the current position). */
int st_onepass_seek(struct st_onepass *s, uint64_t off, struct diag *d);

/* Exactly n bytes of data; a short source is an error naming the file
 * and what (e.g. "tensor 'x'"). */
int st_onepass_read(struct st_onepass *s, void *buf, size_t n,
    const char *what, struct diag *d);

/* A byte source over a stdio stream (ctx is the FILE). */
ssize_t st_onepass_read_stdio(void *ctx, void *buf, size_t n, struct diag *d);

#endif
