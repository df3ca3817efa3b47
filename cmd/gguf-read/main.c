/* SPDX-License-Identifier: ISC */
/*
 * gguf-read - read a bitnet.cpp GGUF model and write a tensor stream.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "diag.h"
#include "gguf_model.h"
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
	    "usage: gguf-read [--tensors GLOB]... [--layers LIST] "
	    "[--list [--json]]\n"
	    "                 [--progress | -q] MODEL.gguf\n"
	    "Reads a bitnet.cpp GGUF v3 model (architecture bitnet-b1.58 "
	    "or bitnet-25;\n"
	    "F32, F16 and I2_S tensors) and writes it as a tensor stream.\n"
	    "Names are the Hugging Face ones.\n"
	    READER_OPTIONS_HELP);
	exit(status);
}

static int
write_tensors(void *ctx, struct tstream_writer *w, struct diag *d)
{
	const struct gguf_model *m = ctx;
	void *buf = io_alloc(TSTREAM_CHUNK, "payload buffer", d);
	int rc = buf ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < m->n_items; i++)
		rc = gguf_model_write_tensor(m, i, w, buf, d);
	free(buf);
	return rc;
}

int
main(int argc, char **argv)
{
	struct reader_options o = { 0 };
	Tstream__StreamHeader h;
	Tstream__TensorInfo **manifest;
	char *producer = "gguf-read " BN_VERSION;
	struct gguf_model m;
	struct diag d = { 0 };
	int rc;

	cli_init();
	reader_options_parse(argc, argv, "gguf-read", 0, usage, &o);
	if (!o.list && cli_refuse_tty_stdout("a tensor stream", &d) == -1)
		diag_exit(&d);
	if (gguf_model_open(&m, o.model, &d) == -1 ||
	    (!selection_is_empty(&o.sel) &&
	    gguf_model_select(&m, &o.sel, &d) == -1))
		diag_exit(&d);
	if ((manifest = io_alloc((m.n_items + 1) * sizeof *manifest,
	    "manifest", &d)) == NULL)
		diag_exit(&d);
	gguf_model_header(&m, &h, manifest);
	h.producers = &producer;
	h.n_producers = 1;
	cli_stream_stdout();
	rc = o.list ? manifest_list(stdout, &h, o.json, &d) :
	    reader_write_stream(&h, &o, "gguf-read", write_tensors, &m, &d);
	free(manifest);
	gguf_model_close(&m);
	selection_free(&o.sel);
	if (rc == -1)
		diag_exit(&d);
	return 0;
}
