/* SPDX-License-Identifier: ISC */
/*
 * reader_cli.h - the readers of a model (st-read, gguf-read): one
 * interface every model source implements (hf_input.h for Hugging Face
 * folders, files and archives, gguf_model.h for GGUF), and the command
 * line and main they share: selection, --list, --json, progress, one
 * MODEL.  A new source format is a module with a struct model_source and
 * a cmd/ front end that gives its usage text.
 */
#ifndef BN_READER_CLI_H
#define BN_READER_CLI_H

#include "diag.h"
#include "selection.h"
#include "tstream.h"

struct reader_options {
	const char *model;
	const char *config;	/* -c, where the reader takes one */
	struct selection sel;
	int list, json, progress, quiet;
};

/* The --help lines of the options all readers share. */
#define READER_OPTIONS_HELP \
	"  -t, --tensors GLOB   only tensors whose name matches GLOB " \
	"(repeatable)\n" \
	"  -l, --layers LIST    only tensors of these layers, e.g. 3 or " \
	"0-3,29\n" \
	"      --list           print the manifest instead of writing the " \
	"stream\n" \
	"      --json           with --list, print it as JSON\n" \
	"      --progress       report progress on stderr (default: when a " \
	"terminal)\n" \
	"  -q, --quiet          no progress report\n" \
	"  -h, --help           this text\n" \
	"  -V, --version        the version\n"

/* A model source: its state is `size` zeroed bytes that reader_main
 * allocates. */
struct model_source {
	const char *prog;		/* the tool, for messages */
	int takes_config;		/* -c/--config */
	size_t size;
	/* Open model (config: -c's file, or NULL). */
	int (*open)(void *src, const char *model, const char *config,
	    struct diag *d);
	/* Keep only the tensors s selects (s is not empty). */
	int (*select)(void *src, const struct selection *s, struct diag *d);
	/* The number of tensors, then the header: manifest has room for
	 * that many + 1. */
	size_t (*count)(const void *src);
	void (*header)(void *src, Tstream__StreamHeader *h,
	    Tstream__TensorInfo **manifest);
	/* Write every tensor of the manifest to w. */
	int (*write)(void *src, struct tstream_writer *w, struct diag *d);
	void (*close)(void *src);
	/* A note for the user (NULL: none), which reader_main prints once
	 * the output is written, unless -q; the member itself may be NULL. */
	const char *(*note)(const void *src);
};

/* A reader's whole main: options, open, select, then the manifest
 * (--list) or the stream on standard output.  Returns the exit status;
 * errors are printed. */
int reader_main(const struct model_source *src, int argc, char **argv,
    void (*usage)(int));

/* Parse argv; with_config allows -c/--config.  usage(status) prints the
 * tool's usage and exits; errors in the options exit with status 2. */
void reader_options_parse(int argc, char **argv, const char *prog,
    int with_config, void (*usage)(int), struct reader_options *o);

#endif
