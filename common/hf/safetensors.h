/* SPDX-License-Identifier: ISC */
/*
 * safetensors.h - the safetensors file format: an 8-byte little-endian
 * header length, a JSON header, then the tensor data.  Every entry is
 * checked against the file before any data is read.
 */
#ifndef BN_SAFETENSORS_H
#define BN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "dtype.h"
#include "tstream.h"

#define ST_MAX_HEADER	(16u << 20)	/* JSON header bytes */

struct st_tensor {
	char *name;
	bn_dtype dtype;
	uint64_t shape[TSTREAM_MAX_RANK];
	size_t rank;
	uint64_t begin, end;	/* data_offsets, from the start of the data */
};

struct st_file {
	char *path;
	int fd;
	/* Where fd is -1: reads n bytes at offset off of the file (an entry
	 * of an archive, read again as needed), or NULL in a one-pass read. */
	int (*pread)(void *ctx, void *buf, size_t n, uint64_t off,
	    struct diag *d);
	void *pread_ctx;
	uint64_t order;		/* the entry's place in its archive, or 0 */
	uint64_t file_size;
	uint64_t data_start;	/* 8 + header length */
	struct st_tensor *tensors;
	size_t n_tensors;
};

/* Open path and read and check its header. */
int st_open(struct st_file *f, const char *path, struct diag *d);

/* Parse and check a JSON header of len bytes for data_size bytes of data;
 * fills f->tensors (path is for messages). */
int st_parse_header(struct st_file *f, const char *json, size_t len,
    uint64_t data_size, const char *path, struct diag *d);

/* The tensor called name, or NULL. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);

/* True when the data of f can be read at any offset (st_read_data). */
int st_can_read(const struct st_file *f);

/* Read n bytes at offset off within tensor t. */
int st_read_data(const struct st_file *f, const struct st_tensor *t,
    uint64_t off, void *buf, size_t n, struct diag *d);

void st_close(struct st_file *f);

#endif
