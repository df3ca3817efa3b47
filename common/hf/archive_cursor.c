/* SPDX-License-Identifier: ISC */
#include "archive_cursor.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#define SKIP_CHUNK	65536

static int
fail(struct archive_cursor *c, struct diag *d)
{
	const char *msg = c->a ? archive_error_string(c->a) : NULL;

	return diag_fail(d, BN_EXIT_INPUT, "%s: %s", c->path,
	    msg ? msg : "cannot read the archive");
}

static int
reopen(struct archive_cursor *c, struct diag *d)
{
	if (c->a != NULL)
		archive_read_free(c->a);
	c->entry = 0;
	c->in_entry = 0;
	c->pos = 0;
	if ((c->a = archive_read_new()) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	archive_read_support_filter_all(c->a);
	archive_read_support_format_tar(c->a);
	archive_read_support_format_zip(c->a);
	c->opens++;
	if (archive_read_open_filename(c->a, c->path, 1 << 20) != ARCHIVE_OK)
		return fail(c, d);
	return 0;
}

int
archive_cursor_open(struct archive_cursor *c, const char *path,
    struct diag *d)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	return reopen(c, d);
}

int
archive_cursor_next(struct archive_cursor *c, struct archive_entry **e,
    struct diag *d)
{
	int r = archive_read_next_header(c->a, e);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return fail(c, d);
	if (c->in_entry)
		c->entry++;
	c->in_entry = 1;
	c->pos = 0;
	return 1;
}

/* Make entry at off the next byte to read. */
static int
seek_to(struct archive_cursor *c, size_t entry, uint64_t off, struct diag *d)
{
	struct archive_entry *e;
	unsigned char skip[SKIP_CHUNK];

	if (!c->in_entry || entry < c->entry ||
	    (entry == c->entry && off < c->pos)) {
		if (reopen(c, d) == -1)
			return -1;
	}
	while (!c->in_entry || c->entry < entry) {
		int r = archive_cursor_next(c, &e, d);

		if (r == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: entry %zu is "
			    "gone: the archive changed while it was read",
			    c->path, entry);
		if (r == -1)
			return -1;
	}
	while (c->pos < off) {
		uint64_t left = off - c->pos;
		la_ssize_t n = archive_read_data(c->a, skip, left < sizeof skip
		    ? (size_t)left : sizeof skip);

		if (n < 0)
			return fail(c, d);
		if (n == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: entry %zu ends "
			    "before offset %llu", c->path, entry,
			    (unsigned long long)off);
		c->pos += (uint64_t)n;
	}
	return 0;
}

ssize_t
archive_cursor_read(struct archive_cursor *c, size_t entry, uint64_t off,
    void *buf, size_t n, struct diag *d)
{
	la_ssize_t r;

	if (seek_to(c, entry, off, d) == -1)
		return -1;
	if ((r = archive_read_data(c->a, buf, n)) < 0)
		return fail(c, d);
	c->pos += (uint64_t)r;
	return (ssize_t)r;
}

int
archive_cursor_read_full(struct archive_cursor *c, size_t entry,
    uint64_t off, void *buf, size_t n, const char *what, struct diag *d)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = archive_cursor_read(c, entry, off, p, n, d);

		if (r == -1)
			return -1;
		if (r == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s ends %zu "
			    "bytes short", c->path, what, n);
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

void
archive_cursor_close(struct archive_cursor *c)
{
	if (c->a != NULL)
		archive_read_free(c->a);
	memset(c, 0, sizeof *c);
}
