/* SPDX-License-Identifier: ISC */
/*
 * archive_cursor.h - the entries of an archive file (whatever libarchive
 * reads: tar, compressed or not, zip) read at any offset, never unpacked
 * to disk.  Reads that go forward continue where the last one stopped;
 * one that goes back opens the archive again and reads forward to it, so
 * callers order their reads by entry and offset to read it once.
 */
#ifndef BN_ARCHIVE_CURSOR_H
#define BN_ARCHIVE_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"

struct archive;
struct archive_entry;

struct archive_cursor {
	const char *path;
	struct archive *a;
	size_t entry;		/* index of the current entry, from 0 */
	int in_entry;		/* a header has been read */
	uint64_t pos;		/* bytes of the current entry consumed */
	unsigned opens;		/* times the archive was opened */
};

/* Open path (kept by reference) at its first entry. */
int archive_cursor_open(struct archive_cursor *c, const char *path,
    struct diag *d);

/* The next entry's header: 1 and *e set, 0 at the end, -1 on error. */
int archive_cursor_next(struct archive_cursor *c, struct archive_entry **e,
    struct diag *d);

/* Up to n bytes of entry at off: the count (0 at its end), or -1. */
ssize_t archive_cursor_read(struct archive_cursor *c, size_t entry,
    uint64_t off, void *buf, size_t n, struct diag *d);

/* Exactly n bytes of entry at off; a short entry is an input error
 * naming what. */
int archive_cursor_read_full(struct archive_cursor *c, size_t entry,
    uint64_t off, void *buf, size_t n, const char *what, struct diag *d);

void archive_cursor_close(struct archive_cursor *c);

#endif
