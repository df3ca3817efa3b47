/* SPDX-License-Identifier: ISC */
/*
 * reader_cli.h - the command line and main that the readers of a model
 * (st-read, gguf-read) share: selection, --list, --json, progress, one
 * MODEL, over any model source (model_source.h).  A new source format is
 * a module with a struct model_source and a cmd/ front end that gives its
 * usage text.
 */
#ifndef BN_READER_CLI_H
#define BN_READER_CLI_H

#include "diag.h"
#include "model_source.h"
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
