/*
 * tern-dequant - decode the ternary weights of a tensor stream and write
 * every tensor as float32.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dequant.h"
#include "diag.h"
#include "tstream.h"
#include "version.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tern-dequant [--progress | -q] [FILE]\n"
	    "Reads a tensor stream (FILE, or standard input) and writes it "
	    "with every\n"
	    "tensor as float32: packed ternary weights decoded and scaled "
	    "as the model's\n"
	    "quantization_config.linear_class says, bf16 and f16 widened.\n"
	    "      --progress  report progress on stderr (default: when a "
	    "terminal)\n"
	    "  -q, --quiet     no progress report\n"
	    "  -h, --help      this text\n"
	    "  -V, --version   the version\n");
	exit(status);
}

static const char *
parse_args(int argc, char **argv, int *progress)
{
	static const struct option longopts[] = {
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, want = 0, quiet = 0;

	while ((ch = getopt_long(argc, argv, "qhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'P': want = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(0);
		case 'V': cli_print_version("tern-dequant"); exit(0);
		default: usage(BN_EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(BN_EXIT_USAGE);
	*progress = progress_wanted(want, quiet);
	return optind < argc ? argv[optind] : NULL;
}

/* The output header: every manifest entry as float32, and us appended. */
static Tstream__StreamHeader *
output_header(const Tstream__StreamHeader *in, struct diag *d)
{
	Tstream__StreamHeader *h = tstream_header_copy(in, d);

	if (h == NULL)
		return NULL;
	for (size_t i = 0; i < h->n_manifest; i++) {
		Tstream__TensorInfo *t = h->manifest[i], out;
		uint64_t shape[TSTREAM_MAX_RANK];

		if (dequant_info(t, &out, shape, d) == -1)
			goto fail;
		t->dtype = out.dtype;
		t->encoding = out.encoding;
		t->payload_length = out.payload_length;
		t->has_scale = 0;
	}
	if (tstream_header_add_producer(h, "tern-dequant " BN_VERSION
	    " (to f32)", d) == 0)
		return h;
fail:
	tstream__stream_header__free_unpacked(h, NULL);
	return NULL;
}

static int
convert(struct tstream_reader *r, struct diag *d)
{
	const Tstream__TensorInfo *in;
	Tstream__StreamHeader *h;
	struct tstream_writer w;
	int rc;

	if (dequant_check_stream(r->header, d) == -1)
		return diag_prefix(d, "%s", r->name);
	if ((h = output_header(r->header, d)) == NULL)
		return -1;
	rc = tstream_writer_open(&w, stdout, "stdout", h, d);
	while (rc == 0 && (rc = tstream_next_tensor(r, &in, d)) == 1)
		rc = dequant_tensor(r, in, &w, d);
	if (rc == 0 && r->trailer != NULL) {	/* pass late side files on */
		w.late_side_files = r->trailer->side_files;
		w.n_late_side_files = r->trailer->n_side_files;
	}
	if (rc == 0)
		rc = tstream_writer_finish(&w, d);
	tstream_writer_close(&w);
	tstream__stream_header__free_unpacked(h, NULL);
	return rc;
}

int
main(int argc, char **argv)
{
	struct tstream_reader r;
	struct progress p;
	int show;
	const char *path = parse_args(argc, argv, &show), *name;
	struct diag d = { 0 };
	FILE *in;
	int rc;

	cli_init();
	if (cli_refuse_tty_stdout("a tensor stream", &d) == -1 ||
	    (in = cli_open_input(path, &name, &d)) == NULL)
		diag_exit(&d);
	cli_stream_stdout();
	rc = tstream_reader_open(&r, in, name, &d);
	if (rc == 0) {
		tstream_progress_init(&p, show, "tern-dequant", r.header);
		r.progress = &p;
		rc = convert(&r, &d);
	}
	tstream_reader_close(&r);
	if (in != stdin)
		fclose(in);
	if (rc == -1)
		diag_exit(&d);
	return 0;
}
