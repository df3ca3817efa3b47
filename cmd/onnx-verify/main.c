/* SPDX-License-Identifier: ISC */
/*
 * onnx-verify - check an ONNX model's structure, shapes and data, and
 * optionally that its weights equal a tensor stream bit for bit.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "bitnet_verify.h"
#include "cli.h"
#include "diag.h"
#include "io.h"
#include "onnx_check.h"
#include "onnx_read.h"
#include "onnx_report.h"
#include "tstream.h"

struct options {
	const char *model;
	const char *against;
	int quiet;
	int progress;
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: onnx-verify [--against STREAM] [--progress] [--quiet] "
	    "MODEL\n"
	    "Checks the ONNX model MODEL (and its external data) and prints "
	    "a summary.\n"
	    "  -a, --against STREAM  also check that every tensor of the "
	    "stream STREAM\n"
	    "                        ('-' for standard input) equals its "
	    "initializer\n"
	    "      --progress        report the comparison's progress on "
	    "stderr\n"
	    "                        (default: when a terminal)\n"
	    "  -q, --quiet           print nothing when all is well\n"
	    "  -h, --help            this text\n"
	    "  -V, --version         the version\n");
	exit(status);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "against", required_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "progress", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "a:qhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a': o->against = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'P': o->progress = 1; break;
		case 'h': usage(0);
		case 'V': cli_print_version("onnx-verify"); exit(0);
		default: usage(BN_EXIT_USAGE);
		}
	}
	if (argc - optind != 1)
		usage(BN_EXIT_USAGE);
	o->model = argv[optind];
}

static int
against(const struct onnx_model *m, const struct options *o, struct diag *d)
{
	struct tstream_reader r;
	struct progress p;
	const char *name;
	size_t checked = 0;
	FILE *in;
	int rc;

	if ((in = cli_open_input(o->against, &name, d)) == NULL)
		return -1;
	rc = tstream_reader_open(&r, in, name, d);
	if (rc == 0) {
		tstream_progress_init(&p, progress_wanted(o->progress,
		    o->quiet), "onnx-verify", r.header);
		r.progress = &p;
		rc = bitnet_verify_graph(m, r.header, d);
		if (rc >= 0 && !o->quiet)
			printf(rc == 0 ? "against    the graph is the one %s's "
			    "config builds\n" : "against    graph not compared: "
			    "%s holds a selection of tensors, not a model or "
			    "part\n", name);
		if (rc >= 0)
			rc = onnx_compare_stream(m, &r, &checked, d);
	}
	if (rc == 0 && !o->quiet)
		printf("against    %zu tensors of %s equal their initializers "
		    "bit for bit\n", checked, name);
	tstream_reader_close(&r);
	if (in != stdin)
		fclose(in);
	return rc;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct onnx_model m;
	struct diag d = { 0 };
	int rc;

	cli_init();
	parse_args(argc, argv, &o);
	rc = onnx_model_open(&m, o.model, &d);
	if (rc == 0)
		rc = onnx_check_model(&m, &d);
	if (rc == 0 && !o.quiet)
		rc = onnx_print_summary(stdout, &m, &d);
	if (rc == 0 && o.against != NULL)
		rc = against(&m, &o, &d);
	if (rc == 0 && !o.quiet)
		printf("ok\n");
	onnx_model_close(&m);
	if (rc == 0)
		rc = io_flush(stdout, "stdout", &d);
	if (rc == -1) {
		fflush(stdout);
		diag_exit(&d);
	}
	return 0;
}
