/* SPDX-License-Identifier: ISC */
/*
 * model_source.h - a model format as st-read and gguf-read read it, and
 * the core that every format shares.  A source only opens its model,
 * hands over its tensor table (the manifest entries in stream order,
 * the config and side files the header carries) and writes the payloads
 * of the tensors it is given; the core chooses them (--tensors,
 * --layers), makes the header and asks for them in order.  A new format
 * is a module with one struct model_source (hf_input.h for Hugging Face
 * folders, files and archives, gguf_model.h for GGUF).
 */
#ifndef BN_MODEL_SOURCE_H
#define BN_MODEL_SOURCE_H

#include <stddef.h>

#include "diag.h"
#include "selection.h"
#include "tstream.h"

/* A source's tensors as it keeps them: n rows of size bytes from rows,
 * in stream order, each holding its manifest entry at info_offset. */
struct model_rows {
	void *rows;
	size_t n, size, info_offset;
};
/* The rows of array[0 .. n - 1], of struct type with the entry member. */
#define MODEL_ROWS(array, count, type, member) \
	((struct model_rows){ (array), (count), sizeof(type), \
	    offsetof(type, member) })

/* What an open model holds: valid until its source is closed. */
struct model_table {
	char *path;			/* the header's source */
	char *config_json;
	Tstream__ModelConfig *config;
	Tstream__SideFile **side_files;
	size_t n_side_files;
	struct model_rows tensors;
};

/* The manifest entry of tensor i of t. */
Tstream__TensorInfo *model_table_entry(const struct model_table *t,
    size_t i);

/* A model source: its state is `size` zeroed bytes that the caller
 * allocates. */
struct model_source {
	const char *prog;		/* the tool, for messages */
	int takes_config;		/* -c/--config */
	size_t size;
	/* Open model (config: -c's file, or NULL). */
	int (*open)(void *src, const char *model, const char *config,
	    struct diag *d);
	/* Its table (the source owns what it points to). */
	void (*table)(void *src, struct model_table *t);
	/* Write tensors kept[0 .. n - 1] of the table to w, in that order
	 * (the order of the table). */
	int (*write)(void *src, const size_t *kept, size_t n,
	    struct tstream_writer *w, struct diag *d);
	void (*close)(void *src);
	/* A note for the user (NULL: none), printed once the output is
	 * written, unless -q; the member itself may be NULL. */
	const char *(*note)(const void *src);
};

/* The tensors an open source gives under a selection, and the header
 * they make. */
struct model_pick {
	struct model_table table;
	size_t *kept;
	size_t n_kept;
	Tstream__TensorInfo **manifest;
	Tstream__StreamHeader header;	/* points into the above */
	char producer[64];
	char *producers[1];
};

/* The table of src (open, state st), the tensors sel keeps (every one
 * when sel is NULL or empty; a selection that keeps none, or names a
 * layer the model has not, is an error) and the header, produced by
 * src->prog. */
int model_pick(const struct model_source *src, void *st,
    const struct selection *sel, struct model_pick *p, struct diag *d);

/* Write p's tensors to w (opened on p->header). */
int model_pick_write(const struct model_source *src, void *st,
    const struct model_pick *p, struct tstream_writer *w, struct diag *d);

void model_pick_free(struct model_pick *p);

#endif
