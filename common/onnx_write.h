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
 * the manifest (4096-aligned), and the small model is written at the end.
 *
 * With a path, both files are written as outfile.h says: under temporary
 * names renamed (after an fsync) only when everything has been written,
 * so a failed run leaves no model; PATH may also be a character device or
 * FIFO for an inline model.  An inline model that replaces a file removes
 * the PATH_data the old one may have used.
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

struct onnx_out {
	/* set by the caller */
	const char *path;	/* NULL: standard output */
	int force_external;
	struct cleanup *cleanup;	/* temporaries, for a signal; or NULL */
	/* state */
	int external;
	const Tstream__StreamHeader *h;
	struct outfile model, data;
	FILE *fp;		/* the model's stream */
	char *data_location;
	uint64_t *offsets;
	uint64_t data_size, model_size;
	unsigned char *buf;
};

/* Plan the output of model m (graph g, weights from header h) and start
 * writing it. */
int onnx_out_begin(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, const Tstream__StreamHeader *h, struct diag *d);

/* Copy the current tensor's payload from r into the model. */
int onnx_out_tensor(struct onnx_out *o, struct tstream_reader *r,
    const Tstream__TensorInfo *t, struct diag *d);

/* Complete the model once every tensor has been written. */
int onnx_out_finish(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, struct diag *d);

/* Remove temporary files and free everything (also before begin). */
void onnx_out_close(struct onnx_out *o);

#endif
