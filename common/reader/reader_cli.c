/* SPDX-License-Identifier: ISC */
#include "reader_cli.h"

#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io.h"
#include "manifest_print.h"
#include "version.h"

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
	int ch;

	while ((ch = getopt_long(argc, argv, "c:t:l:qhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (!with_config)	/* the model carries its own */
				errx(BN_EXIT_USAGE, "--config is st-read's; "
				    "%s reads the config from the model",
				    prog);
			o->config = optarg;
			break;
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

/* --list, or the stream. */
static int
reader_output(const struct model_source *src, void *st,
    const struct reader_options *o, struct diag *d)
{
	struct model_pick pick;
	struct tstream_writer w;
	struct progress p;
	int rc = model_pick(src, st, &o->sel, &pick, d);

	cli_stream_stdout();
	if (rc == 0 && o->list) {
		rc = manifest_list(stdout, &pick.header, o->json, d);
	} else if (rc == 0) {
		tstream_progress_init(&p, progress_wanted(o->progress,
		    o->quiet), src->prog, &pick.header);
		rc = tstream_writer_open(&w, stdout, "stdout", &pick.header, d);
		w.progress = &p;
		if (rc == 0)
			rc = model_pick_write(src, st, &pick, &w, d);
		if (rc == 0)
			rc = tstream_writer_finish(&w, d);
		tstream_writer_close(&w);
	}
	model_pick_free(&pick);
	return rc;
}

int
reader_main(const struct model_source *src, int argc, char **argv,
    void (*usage)(int))
{
	struct reader_options o = { 0 };
	struct diag d = { 0 };
	const char *note;
	void *st;
	int rc;

	cli_init();
	reader_options_parse(argc, argv, src->prog, src->takes_config, usage,
	    &o);
	if (!o.list && cli_refuse_tty_stdout("a tensor stream", &d) == -1)
		diag_exit(&d);
	if ((st = io_alloc(src->size, src->prog, &d)) == NULL)
		diag_exit(&d);
	memset(st, 0, src->size);
	if (src->open(st, o.model, o.config, &d) == -1)
		diag_exit(&d);
	rc = reader_output(src, st, &o, &d);
	/* the note once the output is whole: a failure stays one line */
	note = rc == 0 && src->note != NULL && !o.quiet ? src->note(st) : NULL;
	if (note != NULL)
		fprintf(stderr, "%s: note: %s\n", src->prog, note);
	src->close(st);
	free(st);
	selection_free(&o.sel);
	if (rc == -1)
		diag_exit(&d);
	return 0;
}
