/* SPDX-License-Identifier: ISC */
/*
 * gguf.h - the GGUF v3 files of llama.cpp / bitnet.cpp: a header, typed
 * key-value metadata, tensor descriptions, then aligned tensor data.
 * Everything is checked against the file before any data is read.
 */
#ifndef BN_GGUF_H
#define BN_GGUF_H

#include <jansson.h>
#include <stdint.h>

#include "diag.h"
#include "tstream.h"

/* Limits (gguf-read(1)). */
#define GGUF_MAX_TENSORS	100000u
#define GGUF_MAX_KV		100000u
#define GGUF_MAX_STRING		(1u << 20)	/* one string */
#define GGUF_MAX_ARRAY		(16u << 20)	/* elements of one array */
#define GGUF_MAX_METADATA	(256u << 20)	/* metadata bytes in all */


struct gguf_tensor {
	char *name;
	uint32_t type;
	uint64_t dims[TSTREAM_MAX_RANK];	/* ggml order: dims[0] fastest */
	uint32_t n_dims;
	uint64_t offset;	/* from the start of the data */
	uint64_t size;		/* bytes */
};

struct gguf_file {
	char *path;
	int fd;
	uint64_t file_size;
	uint32_t version;
	json_t *kv;		/* metadata: key -> value (arrays as lists) */
	struct gguf_tensor *tensors;
	size_t n_tensors;
	uint64_t data_start;
};

int gguf_open(struct gguf_file *g, const char *path, struct diag *d);
void gguf_close(struct gguf_file *g);

/* Bytes that n values of ggml type t take (ggml_types.h); -1 for a type
 * not read here or a count that is not whole blocks. */
int gguf_type_size(uint32_t t, uint64_t n, uint64_t *out);

#endif
