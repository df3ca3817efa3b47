/* SPDX-License-Identifier: ISC */
/*
 * io.h - whole reads and writes with errors that name the file.
 */
#ifndef BN_IO_H
#define BN_IO_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "diag.h"

/* Open path for reading if it is a regular file (a FIFO is refused at
 * once, never waited on); its status in *st.  The fd, or -1. */
int io_open_regular(const char *path, struct stat *st, struct diag *d);

/* Read all of path (at most limit bytes) into a NUL-terminated buffer. */
int io_slurp(const char *path, size_t limit, char **buf, size_t *len,
    struct diag *d);

/* Read exactly n bytes at off from fd; a short file is an input error. */
int io_pread_full(int fd, void *buf, size_t n, uint64_t off,
    const char *path, struct diag *d);

/* Read up to n bytes; returns the count (short only at end of file) or
 * -1 on a read error. */
ssize_t io_read_some(FILE *fp, void *buf, size_t n, const char *name,
    struct diag *d);

/* Write exactly n bytes. */
int io_write_full(FILE *fp, const void *buf, size_t n, const char *name,
    struct diag *d);

/* Flush fp and report a pending write error. */
int io_flush(FILE *fp, const char *name, struct diag *d);

/* malloc that records "out of memory" naming what it was for. */
void *io_alloc(size_t n, const char *what, struct diag *d);

/* "path" without its last component ("." if none), into buf. */
const char *io_dirname(const char *path, char *buf, size_t len);

/* Join dir and name into buf; -1 if it does not fit. */
int io_join(const char *dir, const char *name, char *buf, size_t len,
    struct diag *d);

/* a and b joined in a new string; NULL when out of memory. */
char *io_concat(const char *a, const char *b);

#endif
