/* SPDX-License-Identifier: ISC */
/*
 * bundle.h - the model folder that transformers.js and the ONNX model
 * hubs load:
 *
 *   config.json               the stream's config, model_type "llama" (see
 *                             onnx-emit(1)) and transformers.js_config
 *   generation_config.json,   the stream's side files of these names,
 *   tokenizer.json,           where present
 *   tokenizer_config.json,
 *   special_tokens_map.json
 *   onnx/model{,_int8,_q2}.onnx  and its external data files,
 *                             .onnx_data, .onnx_data_1, ... (onnx_write.h)
 *
 * written into a folder, or into a temporary one sent as a tar stream
 * (libarchive) and removed.  Files of a folder are never overwritten
 * without force.
 */
#ifndef BN_BUNDLE_H
#define BN_BUNDLE_H

#include <stdio.h>

#include "cleanup.h"
#include "diag.h"
#include "tstream.h"

#define BUNDLE_MAX_FILES 80

struct bundle {
	char *dir;
	int force;
	int temporary;			/* dir is ours, for a tar stream */
	const char *suffix;		/* "", "_int8" or "_q2" */
	char *model_path;		/* dir/onnx/model{suffix}.onnx */
	char *files[BUNDLE_MAX_FILES];	/* written, relative to dir */
	size_t n_files;
	struct cleanup *cleanup;	/* what a failure removes; or NULL */
};

/* Prepare the folder dir ("-": a temporary one) for the model of stream
 * header h: pick the file name by the projections' form, refuse files
 * that exist unless force, make dir and dir/onnx.  The folders it makes,
 * and for "-" every file, go in the cleanup table c (may be NULL). */
int bundle_open(struct bundle *b, const char *dir, int force,
    const Tstream__StreamHeader *h, struct cleanup *c, struct diag *d);

/* Once the model's weights are written (before it is renamed to
 * b->model_path, so that a failure here leaves no model): write
 * config.json and the side files of the header and the trailer t (may be
 * NULL); n_data is the model's count of external data files. */
int bundle_finish(struct bundle *b, const Tstream__StreamHeader *h,
    const Tstream__Trailer *t, unsigned n_data, struct diag *d);

/* Does the folder hold a tokenizer.json (written now, or before)? */
int bundle_has_tokenizer(const struct bundle *b);

/* Send the folder's files as a tar stream to fd. */
int bundle_write_tar(struct bundle *b, int fd, struct diag *d);

/* Remove a temporary folder and free b. */
void bundle_close(struct bundle *b);

#endif
