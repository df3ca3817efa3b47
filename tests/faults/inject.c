/* SPDX-License-Identifier: ISC */
/*
 * inject.c - fault injection for the tests, loaded with LD_PRELOAD:
 * BN_FAIL="CALL:N" makes the Nth call (from 1) of CALL fail, where CALL is
 * malloc (also calloc, realloc), read, write, pread, pwrite, open, rename,
 * ftruncate or fsync; failing allocations return NULL, failing I/O sets errno
 * (ENOMEM, EIO, ENOSPC).  Counts are kept per process.  Test code only:
 * the tools themselves have no such hooks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static const char *want_call;
static long want_n = -1;
static long counts[16];

enum { C_MALLOC, C_READ, C_WRITE, C_PREAD, C_PWRITE, C_OPEN, C_RENAME,
    C_FTRUNCATE, C_FSYNC };
static const char *const names[] = { "malloc", "read", "write", "pread",
    "pwrite", "open", "rename", "ftruncate", "fsync" };

static int
fail_now(int call)
{
	if (want_n < 0) {
		const char *e = getenv("BN_FAIL");
		const char *colon = e ? strchr(e, ':') : NULL;
		static char buf[32];

		want_n = 0;
		if (colon == NULL || (size_t)(colon - e) >= sizeof buf)
			return 0;
		memcpy(buf, e, (size_t)(colon - e));
		buf[colon - e] = '\0';
		want_call = buf;
		want_n = atol(colon + 1);
	}
	if (want_call == NULL || strcmp(want_call, names[call]) != 0)
		return 0;
	return ++counts[call] == want_n;
}

#define REAL(ret, name, args) \
	static ret (*real_##name) args; \
	if (real_##name == NULL) \
		real_##name = (ret (*) args)dlsym(RTLD_NEXT, #name)

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *
malloc(size_t n)
{
	if (fail_now(C_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
	if (fail_now(C_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
	if (fail_now(C_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}

ssize_t
read(int fd, void *buf, size_t n)
{
	REAL(ssize_t, read, (int, void *, size_t));
	if (fail_now(C_READ)) {
		errno = EIO;
		return -1;
	}
	return real_read(fd, buf, n);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, write, (int, const void *, size_t));
	if (fd > 2 || fd == 1) {
		if (fail_now(C_WRITE)) {
			errno = ENOSPC;
			return -1;
		}
	}
	return real_write(fd, buf, n);
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pread, (int, void *, size_t, off_t));
	if (fail_now(C_PREAD)) {
		errno = EIO;
		return -1;
	}
	return real_pread(fd, buf, n, off);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
	if (fail_now(C_PWRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return real_pwrite(fd, buf, n, off);
}

int
rename(const char *a, const char *b)
{
	REAL(int, rename, (const char *, const char *));
	if (fail_now(C_RENAME)) {
		errno = EIO;
		return -1;
	}
	return real_rename(a, b);
}

int
ftruncate(int fd, off_t len)
{
	REAL(int, ftruncate, (int, off_t));
	if (fail_now(C_FTRUNCATE)) {
		errno = ENOSPC;
		return -1;
	}
	return real_ftruncate(fd, len);
}

/* With _FILE_OFFSET_BITS=64 the tools call the 64-bit names. */
ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pread64, (int, void *, size_t, off_t));
	if (fail_now(C_PREAD)) {
		errno = EIO;
		return -1;
	}
	return real_pread64(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t));
	if (fail_now(C_PWRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return real_pwrite64(fd, buf, n, off);
}

int
ftruncate64(int fd, off_t len)
{
	REAL(int, ftruncate64, (int, off_t));
	if (fail_now(C_FTRUNCATE)) {
		errno = ENOSPC;
		return -1;
	}
	return real_ftruncate64(fd, len);
}

int
fsync(int fd)
{
	REAL(int, fsync, (int));
	if (fail_now(C_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return real_fsync(fd);
}
