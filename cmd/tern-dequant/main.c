/* SPDX-License-Identifier: ISC */
/*
 * tern-dequant - decode the ternary weights of a tensor stream and write
 * every tensor as float32, or the ternary weights in a compact form (and
 * the embedding and head as the table form says).
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "compact.h"
#include "diag.h"
#include "onnx_types.h"
#include "recode.h"
#include "tstream.h"
#include "version.h"

struct options {
	const char *input;
	struct recode_opts form;
	int progress;
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tern-dequant [--to f32|int8|q2|q2s] [--block-size N] "
	    "[--embed TYPE]\n"
	    "                    [--progress | -q] [FILE]\n"
	    "Reads a tensor stream (FILE, or standard input) and writes it "
	    "with packed\n"
	    "ternary weights decoded and scaled as the model's\n"
	    "quantization_config.linear_class says, bf16 and f16 widened to "
	    "float32.\n"
	    "      --to FORM        ternary weights as f32 (default), int8 "
	    "(for\n"
	    "                       MatMulInteger), q2 (2-bit codes for "
	    "MatMulNBits)\n"
	    "                       or q2s (q2 with each block's last "
	    "code a zero,\n"
	    "                       exact at MatMulNBits' accuracy level "
	    "4)\n"
	    "      --block-size N   q2 and q2s codes per block along the "
	    "input axis:\n"
	    "                       a power of two from 16 to 256 (default "
	    "%u)\n"
	    "      --embed TYPE     with int8, q2 or q2s, a bf16 or f16 "
	    "embedding (and untied\n"
	    "                       head) stored as f16 (default), f32 or "
	    "keep (as the source\n"
	    "                       has it); q8 or q4: any float one in 8- "
	    "or 4-bit\n"
	    "                       blocks of 32, q4-256 in 4-bit blocks of "
	    "256 (faster\n"
	    "                       head, less exact); int8: in int8 rows, "
	    "one scale a row\n"
	    "                       (a MatMulInteger head)\n"
	    "      --progress       report progress on stderr (default: when "
	    "a terminal)\n"
	    "  -q, --quiet          no progress report\n"
	    "  -h, --help           this text\n"
	    "  -V, --version        the version\n", COMPACT_DEFAULT_BLOCK);
	exit(status);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "embed", required_argument, NULL, 'e' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, want = 0, quiet = 0, block = 0;
	const struct tstream_encoding *e;
	char *end, names[64];
	unsigned long bs;

	o->form.form = TSTREAM__ENCODING__PLAIN;
	o->form.block_size = COMPACT_DEFAULT_BLOCK;
	while ((ch = getopt_long(argc, argv, "qhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if ((e = tstream_encoding_by_form(optarg)) == NULL)
				errx(BN_EXIT_USAGE, "--to takes one of %s, "
				    "not '%s'", tstream_encoding_forms(", ",
				    names, sizeof names), optarg);
			o->form.form = e->id;
			break;
		case 'b':
			bs = strtoul(optarg, &end, 10);
			if (*end != '\0' || !tstream_block_ok(bs) ||
			    bs > ONNX_NBITS_MAX_BLOCK)
				errx(BN_EXIT_USAGE, "--block-size "
				    "takes a power of two from %u to %u (what "
				    "onnxruntime's MatMulNBits loads), not "
				    "'%s'", TSTREAM_MIN_BLOCK,
				    ONNX_NBITS_MAX_BLOCK, optarg);
			o->form.block_size = (uint32_t)bs;
			block = 1;
			break;
		case 'e':
			if ((o->form.table = recode_table_form_by_name(
			    optarg)) == NULL)
				errx(BN_EXIT_USAGE, "--embed takes %s, not "
				    "'%s'", recode_table_form_names(", ", " or ",
				    names, sizeof names), optarg);
			break;
		case 'P': want = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(0);
		case 'V': cli_print_version("tern-dequant"); exit(0);
		default: usage(BN_EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(BN_EXIT_USAGE);
	/* an option that would change nothing is refused, not ignored */
	if (o->form.table && o->form.form == TSTREAM__ENCODING__PLAIN)
		errx(BN_EXIT_USAGE, "--embed chooses how the compact forms "
		    "(--to int8, q2 or q2s) store the embedding and head; with "
		    "--to f32 every tensor is float32");
	if (block && !tstream_encoding_of(o->form.form)->blocked)
		errx(BN_EXIT_USAGE, "--block-size is the q2 forms'; --to %s "
		    "has no blocks", tstream_encoding_of(o->form.form)->form);
	o->progress = progress_wanted(want, quiet);
	o->input = optind < argc ? argv[optind] : NULL;
}

static int
convert(struct tstream_reader *r, const struct recode_opts *o,
    struct diag *d)
{
	char who[64];
	const Tstream__TensorInfo *in;
	Tstream__StreamHeader *h;
	struct recode_plan *plan;
	struct tstream_writer w;
	int rc;

	snprintf(who, sizeof who, "tern-dequant %s (to %s)", BN_VERSION,
	    tstream_encoding_of(o->form)->form);
	if ((plan = recode_plan_stream(r->header, o, r->name, who, &h,
	    d)) == NULL)
		return -1;
	rc = tstream_writer_open(&w, stdout, "stdout", h, d);
	while (rc == 0 && (rc = tstream_next_tensor(r, &in, d)) == 1)
		rc = recode_tensor(plan, r, &w, d);
	if (rc == 0 && r->trailer != NULL) {	/* pass late side files on */
		w.late_side_files = r->trailer->side_files;
		w.n_late_side_files = r->trailer->n_side_files;
	}
	if (rc == 0)
		rc = tstream_writer_finish(&w, d);
	tstream_writer_close(&w);
	tstream__stream_header__free_unpacked(h, NULL);
	recode_plan_free(plan);
	return rc;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct tstream_reader r;
	struct progress p;
	const char *name;
	struct diag d = { 0 };
	FILE *in;
	int rc;

	cli_init();
	parse_args(argc, argv, &o);
	if (cli_refuse_tty_stdout("a tensor stream", &d) == -1 ||
	    (in = cli_open_input(o.input, &name, &d)) == NULL)
		diag_exit(&d);
	cli_stream_stdout();
	rc = tstream_reader_open(&r, in, name, &d);
	if (rc == 0) {
		tstream_progress_init(&p, o.progress, "tern-dequant", r.header);
		r.progress = &p;
		rc = convert(&r, &o.form, &d);
	}
	tstream_reader_close(&r);
	if (in != stdin)
		fclose(in);
	if (rc == -1)
		diag_exit(&d);
	return 0;
}
