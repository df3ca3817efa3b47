/* SPDX-License-Identifier: ISC */
/*
 * onnx-emit - build the ONNX model of a BitNet decoder (or its bundle
 * folder) from a tensor stream, streaming the weights into it.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet_graph.h"
#include "bundle.h"
#include "cleanup.h"
#include "cli.h"
#include "diag.h"
#include "onnx_graph.h"
#include "onnx_write.h"
#include "tstream.h"
#include "version.h"

struct options {
	const char *input;
	const char *output;
	int external;
	uint64_t split_data;
	uint64_t table_piece;
	int act_quant;
	int accuracy_level;
	int gqa;
	int last_logits;
	const char *bundle;
	int force;
	int progress, quiet;
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: onnx-emit [-o PATH | --bundle DIR [--force]] "
	    "[--external-data | --split-data SIZE]\n"
	    "                 [--no-act-quant] [--accuracy-level N] [--gqa]\n"
	    "                 [--last-logits] [--table-piece SIZE]\n"
	    "                 [--progress | -q] [FILE]\n"
	    "Reads a tensor stream (FILE, or standard input) of a BitNet "
	    "model or part,\n"
	    "float32 with projections in f32, int8 or q2 (by tern-dequant), "
	    "and writes\n"
	    "its ONNX model (opset 17) to standard output or PATH.\n"
	    "  -o, --output PATH    write PATH atomically (and PATH_data "
	    "when external)\n"
	    "  -b, --bundle DIR     write the model folder transformers.js "
	    "loads: DIR/onnx/,\n"
	    "                       config.json and the tokenizer files; "
	    "DIR - sends it\n"
	    "                       as a tar stream to standard output\n"
	    "  -f, --force          overwrite the files of an existing "
	    "bundle\n"
	    "  -e, --external-data  weights in PATH_data even when under "
	    "2 GiB (PATH_data_1,\n"
	    "                       ... past 1G each; always for a bundle)\n"
	    "      --split-data SIZE  external data in files of at most SIZE "
	    "(k, M, G)\n"
	    "      --no-act-quant   leave out the int8 activation "
	    "quantization\n"
	    "                       (a different, unquantized model; not "
	    "with int8)\n"
	    "      --accuracy-level N  MatMulNBits accuracy_level of q2 "
	    "projections,\n"
	    "                       0 to 4 (default 0: float32 "
	    "activations;\n"
	    "                       q2s ones always run at 4)\n"
	    "      --gqa            attention as onnxruntime's "
	    "GroupQueryAttention\n"
	    "                       (rows without left padding)\n"
	    "      --last-logits    logits of the last position only "
	    "[batch, 1, vocab]\n"
	    "      --table-piece SIZE  the embedding and head in pieces of "
	    "rows of at most\n"
	    "                       SIZE as float32 (k, M, G; default 128M)\n"
	    "      --progress       report progress on stderr (default: "
	    "when a terminal)\n"
	    "  -q, --quiet          no progress report\n"
	    "  -h, --help           this text\n"
	    "  -V, --version        the version\n");
	exit(status);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "external-data", no_argument, NULL, 'e' },
		{ "split-data", required_argument, NULL, 'S' },
		{ "table-piece", required_argument, NULL, 'T' },
		{ "no-act-quant", no_argument, NULL, 'Q' },
		{ "accuracy-level", required_argument, NULL, 'A' },
		{ "gqa", no_argument, NULL, 'G' },
		{ "last-logits", no_argument, NULL, 'L' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	o->act_quant = 1;
	o->accuracy_level = -1;		/* not given: 0 */
	o->table_piece = BITNET_TABLE_PIECE;
	while ((ch = getopt_long(argc, argv, "o:b:feqhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'o': o->output = optarg; break;
		case 'e': o->external = 1; break;
		case 'S':
			if (cli_parse_bytes(optarg, ONNX_DATA_ALIGN,
			    UINT64_C(1) << 40, &o->split_data) == -1)
				errx(BN_EXIT_USAGE, "--split-data takes a size "
				    "of 4k to 1024G (digits and k, M or G), "
				    "not '%s'", optarg);
			break;
		case 'b': o->bundle = optarg; break;
		case 'f': o->force = 1; break;
		case 'T':
			if (cli_parse_bytes(optarg, 1, UINT64_C(1) << 40,
			    &o->table_piece) == -1)
				errx(BN_EXIT_USAGE, "--table-piece takes a size "
				    "of 1 to 1024G (digits and k, M or G), not "
				    "'%s'", optarg);
			break;
		case 'Q': o->act_quant = 0; break;
		case 'G': o->gqa = 1; break;
		case 'L': o->last_logits = 1; break;
		case 'A':
			if (optarg[0] < '0' || optarg[0] > '4' || optarg[1])
				errx(BN_EXIT_USAGE, "--accuracy-level takes 0 "
				    "to 4, not '%s'", optarg);
			o->accuracy_level = optarg[0] - '0';
			break;
		case 'P': o->progress = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(0);
		case 'V': cli_print_version("onnx-emit"); exit(0);
		default: usage(BN_EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(BN_EXIT_USAGE);
	if (o->bundle != NULL && o->output != NULL)
		errx(BN_EXIT_USAGE, "-o and --bundle both name the output; "
		    "give one");
	if (o->force && o->bundle == NULL)
		errx(BN_EXIT_USAGE, "--force goes with --bundle");
	if (o->gqa && o->last_logits)
		errx(BN_EXIT_USAGE, "--gqa takes batches padded on the right, "
		    "and --last-logits reads each row's last column, its last "
		    "token only when padded on the left: give one of them");
	if (o->split_data && o->external)
		errx(BN_EXIT_USAGE, "--split-data writes external data "
		    "already; give it without --external-data");
	if (o->external && o->bundle != NULL)
		errx(BN_EXIT_USAGE, "--external-data goes with -o or standard "
		    "output: a bundle's weights are always external data");
	o->input = optind < argc ? argv[optind] : NULL;
}

static int
copy_weights(struct tstream_reader *r, struct onnx_out *out, struct diag *d)
{
	const Tstream__TensorInfo *t;
	int rc;

	while ((rc = tstream_next_tensor(r, &t, d)) == 1)
		if (onnx_out_tensor(out, r, t, d) == -1)
			return -1;
	return rc;
}

/* Write the model of r's stream to out (its path already set); with a
 * bundle b, its other files go in before the model takes its name. */
static int
emit_model(struct tstream_reader *r, const struct options *o,
    struct onnx_out *out, struct bundle *b, struct diag *d)
{
	struct bitnet_graph_opts go = { .act_quant = o->act_quant,
	    .accuracy_level = o->accuracy_level, .gqa = o->gqa,
	    .last_logits = o->last_logits, .table_piece = o->table_piece };
	const char *who = o->act_quant ? "onnx-emit " BN_VERSION :
	    "onnx-emit " BN_VERSION " (no activation quantization)";
	struct bitnet_part part;
	struct onnx_weight *weights = NULL;
	struct onnx_graph g;
	long n;
	Onnx__ModelProto m;
	char what[128];
	int rc;

	if (bitnet_plan(r->header, &part, d) == -1 ||
	    bitnet_graph_refuse_opts(r->header, &go, d) == -1)
		return diag_prefix(d, "%s", r->name);
	og_init(&g, "bitnet");
	rc = bitnet_graph_build(&g, r->header, &part, &go, d);
	if (rc == 0)
		rc = bitnet_graph_model(&g, &m, r->header, who, d);
	if (rc == 0 && (n = bitnet_graph_weights(&g, r->header, &go,
	    &weights, d)) == -1)
		rc = -1;
	if (rc == 0) {
		out->weights = weights;
		out->n_weights = (size_t)n;
		rc = onnx_out_begin(out, &m, &g, r->header, d);
	}
	if (rc == 0)
		rc = copy_weights(r, out, d);
	if (rc == 0 && b != NULL)
		rc = bundle_finish(b, r->header, r->trailer,
		    (unsigned)out->n_data, d);
	if (rc == 0)
		rc = onnx_out_finish(out, &m, &g, d);
	if (rc == 0 && !o->quiet)
		fprintf(stderr, "onnx-emit: wrote the %s\n",
		    bitnet_part_describe(&part, what, sizeof what));
	if (rc == 0 && !o->quiet && b != NULL && !bundle_has_tokenizer(b))
		fprintf(stderr, "onnx-emit: note: the bundle has no "
		    "tokenizer.json (the stream carries none); transformers.js "
		    "needs the model's own beside config.json\n");
	og_free(&g);
	return rc;
}

/* The tar stream of a bundle on standard output; a reader that goes away
 * ends us by SIGPIPE as any filter, once the temporary folder is gone. */
static int
send_tar(struct bundle *b, struct diag *d)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = bundle_write_tar(b, STDOUT_FILENO, d);
	if (rc == -1 && errno == EPIPE) {
		bundle_close(b);
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	signal(SIGPIPE, SIG_DFL);
	return rc;
}

static int
emit(struct tstream_reader *r, const struct options *o, struct cleanup *c,
    struct diag *d)
{
	struct onnx_out out = { .path = o->output, .cleanup = c,
	    .force_external = o->external || o->split_data,
	    .data_file_limit = o->split_data };
	struct bundle b = { 0 };
	int rc = 0;

	if (o->bundle != NULL) {
		rc = bundle_open(&b, o->bundle, o->force, r->header, c, d);
		out.path = b.model_path;
		out.force_external = 1;
		out.finals_in_cleanup = b.temporary;
	}
	if (rc == 0)
		rc = emit_model(r, o, &out, o->bundle ? &b : NULL, d);
	if (rc == 0 && b.temporary)
		rc = send_tar(&b, d);
	onnx_out_close(&out);
	bundle_close(&b);
	if (rc == -1)
		cleanup_run(c);
	return rc;
}

/* The temporary files and folders of this run: a signal removes them,
 * then ends the process as it would have without them. */
static struct cleanup temporaries;

static void
on_signal(int sig)
{
	cleanup_run(&temporaries);
	cleanup_die(sig);
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct tstream_reader r;
	struct progress p;
	struct diag d = { 0 };
	const char *name;
	FILE *in;
	int rc;

	cli_init();
	cleanup_on_signals(on_signal);
	parse_args(argc, argv, &o);
	if ((o.output == NULL && (o.bundle == NULL ||
	    strcmp(o.bundle, "-") == 0) &&
	    cli_refuse_tty_stdout("an ONNX model", &d) == -1) ||
	    (in = cli_open_input(o.input, &name, &d)) == NULL)
		diag_exit(&d);
	rc = tstream_reader_open(&r, in, name, &d);
	if (rc == 0) {
		tstream_progress_init(&p, progress_wanted(o.progress, o.quiet),
		    "onnx-emit", r.header);
		r.progress = &p;
		rc = emit(&r, &o, &temporaries, &d);
	}
	tstream_reader_close(&r);
	if (in != stdin)
		fclose(in);
	if (rc == -1)
		diag_exit(&d);
	return 0;
}
