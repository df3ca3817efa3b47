/* SPDX-License-Identifier: ISC */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
io_open_regular(const char *path, struct stat *st, struct diag *d)
{
	int fd;

	/* O_NONBLOCK: a FIFO is refused below instead of waiting for a
	 * writer; it changes nothing for a regular file */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return diag_errno(d, "%s", path);
	if (fstat(fd, st) == -1) {
		diag_errno(d, "%s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return diag_fail(d, BN_EXIT_INPUT, "%s: not a regular file",
		    path);
	}
	return fd;
}

int
io_slurp(const char *path, size_t limit, char **buf, size_t *len,
    struct diag *d)
{
	struct stat st;
	char *p;
	int fd;

	if ((fd = io_open_regular(path, &st, d)) == -1)
		return -1;
	if ((uint64_t)st.st_size > limit) {
		close(fd);
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: %lld bytes, more than the limit of %zu", path,
		    (long long)st.st_size, limit);
	}
	if ((p = io_alloc((size_t)st.st_size + 1, path, d)) == NULL) {
		close(fd);
		return -1;
	}
	if (io_pread_full(fd, p, (size_t)st.st_size, 0, path, d) == -1) {
		free(p);
		close(fd);
		return -1;
	}
	close(fd);
	p[st.st_size] = '\0';
	*buf = p;
	*len = (size_t)st.st_size;
	return 0;
}

int
io_pread_full(int fd, void *buf, size_t n, uint64_t off, const char *path,
    struct diag *d)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return diag_errno(d, "%s: read at offset %llu", path,
			    (unsigned long long)off);
		if (r == 0)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: file ends at offset %llu, %zu bytes short",
			    path, (unsigned long long)off, n);
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

ssize_t
io_read_some(FILE *fp, void *buf, size_t n, const char *name, struct diag *d)
{
	size_t got = fread(buf, 1, n, fp);

	if (got < n && ferror(fp))
		return diag_errno(d, "%s: read", name);
	return (ssize_t)got;
}

int
io_write_full(FILE *fp, const void *buf, size_t n, const char *name,
    struct diag *d)
{
	if (n > 0 && fwrite(buf, 1, n, fp) != n)
		return diag_errno(d, "%s: write", name);
	return 0;
}

int
io_flush(FILE *fp, const char *name, struct diag *d)
{
	if (fflush(fp) == EOF || ferror(fp))
		return diag_errno(d, "%s: write", name);
	return 0;
}

void *
io_alloc(size_t n, const char *what, struct diag *d)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		diag_fail(d, BN_EXIT_IO, "%s: out of memory (%zu bytes)", what,
		    n);
	return p;
}

const char *
io_dirname(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(buf, len, ".");
		return buf;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;	/* "/file" lives in "/" */
	snprintf(buf, len, "%.*s", (int)n, path);
	return buf;
}

int
io_join(const char *dir, const char *name, char *buf, size_t len,
    struct diag *d)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return diag_fail(d, BN_EXIT_INPUT, "%s/%s: path too long",
		    dir, name);
	return 0;
}

char *
io_concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s != NULL) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}
