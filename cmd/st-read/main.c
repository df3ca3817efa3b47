/* SPDX-License-Identifier: ISC */
/*
 * st-read - read a Hugging Face BitNet model and write a tensor stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "hf_input.h"
#include "hf_model.h"
#include "io.h"
#include "manifest_print.h"
#include "reader_cli.h"
#include "selection.h"
#include "tstream.h"
#include "version.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: st-read [--config FILE] [--tensors GLOB]... "
	    "[--layers LIST]\n"
	    "               [--list [--json]] [--progress | -q] MODEL\n"
	    "MODEL is a folder (config.json + model.safetensors or "
	    "model.safetensors.index.json\n"
	    "and shards), a .safetensors file, an index .json file, an "
	    "archive of a folder\n"
	    "(.tar, .tar.gz, .tar.zst, .tar.xz, .zip; its entries in any "
	    "order), or - or a\n"
	    "pipe for a safetensors file read in one pass (with "
	    "--config).\n"
	    "  -c, --config FILE    config.json to use (default: beside "
	    "the weights)\n"
	    READER_OPTIONS_HELP);
	exit(status);
}

struct st_ctx {
	struct hf_model *m;
	struct hf_input *in;
};

static int
write_tensors(void *ctx, struct tstream_writer *w, struct diag *d)
{
	struct st_ctx *c = ctx;

	return hf_input_write(c->in, c->m, w, d);
}


int
main(int argc, char **argv)
{
	struct reader_options o = { 0 };
	Tstream__StreamHeader h;
	Tstream__TensorInfo **manifest;
	char *producer = "st-read " BN_VERSION;
	struct hf_model m;
	struct hf_input in;
	struct diag d = { 0 };
	int rc;

	memset(&in, 0, sizeof in);
	cli_init();
	reader_options_parse(argc, argv, "st-read", 1, usage, &o);
	if (!o.list && cli_refuse_tty_stdout("a tensor stream", &d) == -1)
		diag_exit(&d);
	if (hf_input_open(&in, &m, o.model, o.config, &d) == -1 ||
	    (!selection_is_empty(&o.sel) &&
	    hf_model_select(&m, &o.sel, &d) == -1))
		diag_exit(&d);
	if ((manifest = io_alloc((m.n_tensors + 1) * sizeof *manifest,
	    "manifest", &d)) == NULL)
		diag_exit(&d);
	hf_model_header(&m, &h, manifest);
	h.producers = &producer;
	h.n_producers = 1;
	cli_stream_stdout();
	rc = o.list ? manifest_list(stdout, &h, o.json, &d) :
	    reader_write_stream(&h, &o, "st-read", write_tensors,
	    &(struct st_ctx){ &m, &in }, &d);
	free(manifest);
	hf_model_close(&m);
	hf_input_close(&in);
	selection_free(&o.sel);
	if (rc == -1)
		diag_exit(&d);
	return 0;
}
