/* SPDX-License-Identifier: ISC */
#include "st_onepass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

static int
read_exact(struct st_onepass *s, void *buf, size_t n, const char *what,
    struct diag *d)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = s->src->read(s->src->ctx, (char *)buf + done,
		    n - done, d);
		if (r < 0)
			return diag_prefix(d, "%s", s->name);
		if (r == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: file ends in %s, "
			    "%zu bytes short", s->name, what, n - done);
		done += (size_t)r;
	}
	return 0;
}

int
st_onepass_open(struct st_onepass *s, struct byte_source *src,
    const char *name, uint64_t size, struct st_file *f, struct diag *d)
{
	unsigned char lenbuf[8];
	uint64_t hlen = 0;
	char *json;
	int rc;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	s->src = src;
	s->name = name;
	s->pos = 0;
	if ((f->path = strdup(name)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (read_exact(s, lenbuf, 8, "the header length", d) == -1)
		return -1;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | lenbuf[i];
	if (hlen > ST_MAX_HEADER)
		return diag_fail(d, BN_EXIT_INPUT, "%s: header length %llu is "
		    "more than the limit of %u", name, (unsigned long long)hlen,
		    ST_MAX_HEADER);
	if (size != UINT64_MAX && hlen > size - (size < 8 ? size : 8))
		return diag_fail(d, BN_EXIT_INPUT, "%s: header length %llu runs "
		    "past the end of the file (%llu bytes)", name,
		    (unsigned long long)hlen, (unsigned long long)size);
	if ((json = io_alloc(hlen, name, d)) == NULL)
		return -1;
	rc = read_exact(s, json, hlen, "the header", d);
	if (rc == 0)
		rc = st_parse_header(f, json, hlen, size == UINT64_MAX ?
		    UINT64_MAX : size - 8 - hlen, name, d);
	free(json);
	f->data_start = 8 + hlen;
	f->file_size = size;
	return rc;
}

int
st_onepass_seek(struct st_onepass *s, uint64_t off, struct diag *d)
{
	char buf[65536];

	if (off < s->pos)
		return diag_fail(d, BN_EXIT_INPUT, "%s: data offset %llu is "
		    "behind the position %llu of a one-pass read", s->name,
		    (unsigned long long)off, (unsigned long long)s->pos);
	while (s->pos < off) {
		size_t n = off - s->pos < sizeof buf ? (size_t)(off - s->pos) :
		    sizeof buf;
		if (read_exact(s, buf, n, "the data", d) == -1)
			return -1;
		s->pos += n;
	}
	return 0;
}

int
st_onepass_read(struct st_onepass *s, void *buf, size_t n, const char *what,
    struct diag *d)
{
	if (read_exact(s, buf, n, what, d) == -1)
		return -1;
	s->pos += n;
	return 0;
}

ssize_t
st_onepass_read_stdio(void *ctx, void *buf, size_t n, struct diag *d)
{
	size_t got = fread(buf, 1, n, ctx);

	if (got < n && ferror((FILE *)ctx))
		return diag_errno(d, "read");
	return (ssize_t)got;
}

int
st_peek(struct st_peeked *p, FILE *fp, const char *name, struct diag *d)
{
	p->fp = fp;
	p->pos = 0;
	p->len = fread(p->head, 1, sizeof p->head, fp);
	if (p->len < sizeof p->head && ferror(fp))
		return diag_errno(d, "%s: read", name);
	return 0;
}

ssize_t
st_onepass_read_peeked(void *ctx, void *buf, size_t n, struct diag *d)
{
	struct st_peeked *p = ctx;

	if (p->pos < p->len) {
		size_t k = p->len - p->pos < n ? p->len - p->pos : n;

		memcpy(buf, p->head + p->pos, k);
		p->pos += k;
		return (ssize_t)k;
	}
	return st_onepass_read_stdio(p->fp, buf, n, d);
}
