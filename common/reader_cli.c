/* SPDX-License-Identifier: ISC */
#include "reader_cli.h"

#include <err.h>
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

static void
add_selector(struct reader_options *o, int ch, const char *arg)
{
	struct diag d = { 0 };
	int rc = ch == 't' ? selection_add_glob(&o->sel, arg, &d) :
	    selection_add_layers(&o->sel, arg, &d);

	if (rc == -1)
		diag_exit(&d);
}

void
reader_options_parse(int argc, char **argv, const char *prog,
    int with_config, void (*usage)(int), struct reader_options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "tensors", required_argument, NULL, 't' },
		{ "layers", required_argument, NULL, 'l' },
		{ "list", no_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'J' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct option *lo = with_config ? longopts : longopts + 1;
	int ch;

	while ((ch = getopt_long(argc, argv, with_config ? "c:t:l:qhV" :
	    "t:l:qhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 't':
		case 'l': add_selector(o, ch, optarg); break;
		case 'L': o->list = 1; break;
		case 'J': o->json = 1; break;
		case 'P': o->progress = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(0); exit(0);
		case 'V': cli_print_version(prog); exit(0);
		default: usage(BN_EXIT_USAGE); exit(BN_EXIT_USAGE);
		}
	}
	if (argc - optind != 1) {
		usage(BN_EXIT_USAGE);
		exit(BN_EXIT_USAGE);
	}
	if (o->json && !o->list)
		errx(BN_EXIT_USAGE, "--json goes with --list");
	o->model = argv[optind];
}

int
reader_write_stream(const Tstream__StreamHeader *h,
    const struct reader_options *o, const char *prog,
    int (*tensors)(void *ctx, struct tstream_writer *w, struct diag *d),
    void *ctx, struct diag *d)
{
	struct tstream_writer w;
	struct progress p;
	int rc;

	tstream_progress_init(&p, progress_wanted(o->progress, o->quiet),
	    prog, h);
	rc = tstream_writer_open(&w, stdout, "stdout", h, d);
	w.progress = &p;
	if (rc == 0)
		rc = tensors(ctx, &w, d);
	if (rc == 0)
		rc = tstream_writer_finish(&w, d);
	tstream_writer_close(&w);
	return rc;
}
