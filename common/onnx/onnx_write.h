/* SPDX-License-Identifier: ISC */
/*
 * onnx_write.h - write an ONNX model whose weights arrive one tensor at a
 * time from a stream, never holding them in memory.
 *
 * Inline: the model is written front to back as the tensors arrive; its
 * graph's length is planned from the manifest, so each weight goes out
 * as an initializer record with raw_data the moment it is read.
 * External (weights past the 2 GiB protobuf limit, or asked for): each
 * weight goes to a data file beside the model at an offset planned from
 * the manifest (4096-aligned; a new file past ONNX_DATA_FILE_LIMIT), and
 * the small model is written at the end.
 *
 * With a path, both files are written as outfile.h says: under temporary
 * names renamed (after an fsync) only when everything has been written,
 * so a failed run leaves no model; PATH may also be a character device or
 * FIFO for an inline model.  A model that replaces a file removes the
 * data files the old one may have used and the new one does not.
 */
#ifndef BN_ONNX_WRITE_H
#define BN_ONNX_WRITE_H

#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "onnx_graph.h"
#include "outfile.h"
#include "tstream.h"

/* protobuf cannot hold 2 GiB; keep a margin for the graph */
#define ONNX_INLINE_LIMIT	((UINT64_C(2) << 30) - (UINT64_C(16) << 20))
#define ONNX_DATA_ALIGN		4096u
#define ONNX_DATA_SUFFIX	"_data"
/* External data goes in files of at most this many bytes (a weight is
 * never split, so one larger weight has a file of its own): browsers
 * cannot fetch a file of 2 GiB into memory, and transformers.js loads
 * PATH_data, PATH_data_1, ... as it is told their count. */
#define ONNX_DATA_FILE_LIMIT	(UINT64_C(1) << 30)
#define ONNX_MAX_DATA_FILES	64u

/* One initializer the writer streams in: bytes [from, from + len) of the
 * payload of manifest entry `entry`, with its own name and dims (a
 * payload is one initializer, or several pieces of its rows). */
struct onnx_weight {
	const char *name;
	size_t entry;
	uint64_t from, len;
	int type;			/* ONNX data type */
	size_t rank;
	int64_t dims[TSTREAM_MAX_RANK];
};

struct onnx_out {
	/* set by the caller */
	const char *path;	/* NULL: standard output */
	int force_external;
	uint64_t data_file_limit;	/* 0: ONNX_DATA_FILE_LIMIT */
	struct cleanup *cleanup;	/* temporaries, for a signal; or NULL */
	int finals_in_cleanup;	/* files committed stay in it (a folder of
				 * ours that goes as a whole) */
	const struct onnx_weight *weights;	/* in payload order */
	size_t n_weights;
	/* state */
	int external;
	const Tstream__StreamHeader *h;
	struct outfile model;
	struct outfile data[ONNX_MAX_DATA_FILES];
	size_t n_data;		/* data files, 0 when inline */
	uint64_t data_size[ONNX_MAX_DATA_FILES];
	FILE *fp;		/* the model's stream */
	char *data_base;	/* "model.onnx": data files are named from it */
	size_t *first;		/* per manifest entry, its first weight */
	unsigned *file_of;	/* per weight: data file and offset */
	uint64_t *offsets;
	uint64_t model_size;
	unsigned char *buf;
};

/* The name of data file i of a model named base: base_data, then
 * base_data_1, base_data_2, ...; NULL if it does not fit in len. */
const char *onnx_data_name(const char *base, unsigned i, char *buf,
    size_t len);

/* The weights of header h as one initializer per manifest entry, named
 * and shaped as its layout; w has room for h->n_manifest. */
void onnx_weights_whole(const Tstream__StreamHeader *h,
    struct onnx_weight *w);

/* Plan the output of model m (graph g, weights from header h, as
 * o->weights divides them) and start writing it. */
int onnx_out_begin(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, const Tstream__StreamHeader *h, struct diag *d);

/* Copy the current tensor's payload from r into the model. */
int onnx_out_tensor(struct onnx_out *o, struct tstream_reader *r,
    const Tstream__TensorInfo *t, struct diag *d);

/* Complete the model once every tensor has been written: the data files
 * and then the model take their names. */
int onnx_out_finish(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, struct diag *d);

/* Remove temporary files and free everything (also before begin). */
void onnx_out_close(struct onnx_out *o);

#endif
