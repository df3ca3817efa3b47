/* SPDX-License-Identifier: ISC */
/*
 * tstream-info - show what a tensor stream holds, check every payload's
 * checksum, and optionally extract the tensors as .npy files.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "cli.h"
#include "diag.h"
#include "dtype.h"
#include "io.h"
#include "manifest_print.h"
#include "npy.h"
#include "outfile.h"
#include "tstream.h"

struct options {
	const char *path;
	const char *extract;
	struct cleanup *cleanup;	/* the .npy being written */
	int header_only;
	int config;
	int json;
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: tstream-info [--header | --config] [--json] "
	    "[--extract DIR] [FILE]\n"
	    "Shows the tensor stream in FILE (or standard input): its "
	    "producers, model\n"
	    "config, side files and manifest, then reads every tensor and "
	    "prints its\n"
	    "CRC-32C once checked.  Exits non-zero if anything is wrong.\n"
	    "  -H, --header        stop after the header (no payloads read)\n"
	    "      --config        print only the config.json the stream "
	    "carries\n"
	    "  -j, --json          print JSON instead of text\n"
	    "  -x, --extract DIR   also write each tensor as DIR/NAME.npy\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       the version\n");
	exit(status);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "header", no_argument, NULL, 'H' },
		{ "config", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "extract", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "Hjx:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'H': o->header_only = 1; break;
		case 'C': o->config = 1; break;
		case 'j': o->json = 1; break;
		case 'x': o->extract = optarg; break;
		case 'h': usage(0);
		case 'V': cli_print_version("tstream-info"); exit(0);
		default: usage(BN_EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(BN_EXIT_USAGE);
	if (o->config + o->header_only > 1 || (o->config && o->extract))
		errx(BN_EXIT_USAGE, "--config goes alone");
	o->path = optind < argc ? argv[optind] : NULL;
}

static const char *
npy_descr(Tstream__DType t)
{
	switch (t) {
	case TSTREAM__DTYPE__F32: return "<f4";
	case TSTREAM__DTYPE__F16: return "<f2";
	case TSTREAM__DTYPE__BF16: return "<u2";	/* numpy has no bf16 */
	case TSTREAM__DTYPE__I8: return "|i1";
	case TSTREAM__DTYPE__I32: return "<i4";
	case TSTREAM__DTYPE__I64: return "<i8";
	case TSTREAM__DTYPE__F64: return "<f8";
	default: return "|u1";
	}
}

/* Start DIR/NAME.npy for t (outfile.h: a temporary renamed when whole). */
static int
open_npy(const char *dir, const Tstream__TensorInfo *t, struct outfile *f,
    struct cleanup *c, struct diag *d)
{
	struct tstream_layout l;	/* the payload's array as stored */
	char path[4096];

	if (strchr(t->name, '/') != NULL || t->name[0] == '.')
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': name not "
		    "usable as a file name", t->name);
	if (snprintf(path, sizeof path, "%s/%s.npy", dir, t->name) >=
	    (int)sizeof path)
		return diag_fail(d, BN_EXIT_INPUT, "%s/%s.npy: path too long",
		    dir, t->name);
	if (tstream_layout(t, &l) == -1)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': no layout "
		    "for its encoding", t->name);
	if (outfile_target(f, path, 0, c, d) == -1 ||
	    outfile_create(f, d) == -1 ||
	    outfile_stdio(f, TSTREAM_CHUNK, d) == NULL)
		return -1;
	return npy_write_header(f->fp, f->tmp, npy_descr(l.dtype), l.dims,
	    l.rank, d);
}

/* Read the payload of t, copying it to DIR/NAME.npy if dir is set. */
static int
read_tensor(struct tstream_reader *r, const Tstream__TensorInfo *t,
    const struct options *o, void *buf, struct diag *d)
{
	struct outfile f = { .fd = -1 };
	int out = o->extract != NULL, rc = 0;

	if (out && open_npy(o->extract, t, &f, o->cleanup, d) == -1)
		rc = -1;
	for (uint64_t left = t->payload_length; rc == 0 && left > 0;) {
		size_t n = left < TSTREAM_CHUNK ? (size_t)left : TSTREAM_CHUNK;

		rc = tstream_read_payload(r, buf, n, d);
		if (rc == 0 && out)
			rc = io_write_full(f.fp, buf, n, f.tmp, d);
		left -= n;
	}
	if (out && rc == 0)
		rc = outfile_commit(&f, d);
	if (out)
		outfile_discard(&f);
	return rc;
}

static int
print_tensors(struct tstream_reader *r, const struct options *o,
    json_t *jt, struct diag *d)
{
	const Tstream__TensorInfo *t;
	void *buf = io_alloc(TSTREAM_CHUNK, "payload buffer", d);
	int rc = buf ? 0 : -1;

	while (rc == 0 && (rc = tstream_next_tensor(r, &t, d)) == 1) {
		rc = read_tensor(r, t, o, buf, d);
		if (rc == 0 && jt != NULL) {
			json_t *j = manifest_tensor_json(t);
			char crc[9];

			snprintf(crc, sizeof crc, "%08x", r->crc);
			json_object_set_new(j, "crc32c", json_string(crc));
			json_array_append_new(jt, j);
		} else if (rc == 0) {
			printf("crc32c %08x  ", r->crc);
			manifest_print_tensor(stdout, t);
		}
	}
	free(buf);
	if (rc == 0 && jt == NULL)
		printf("trailer ok: %llu tensors, %llu payload bytes\n",
		    (unsigned long long)r->count,
		    (unsigned long long)r->payload_bytes);
	for (size_t i = 0; rc == 0 && jt == NULL &&
	    i < r->trailer->n_side_files; i++)
		printf("side file  %s (%zu bytes, in the trailer)\n",
		    r->trailer->side_files[i]->name,
		    r->trailer->side_files[i]->content.len);
	return rc;
}

static int
show_json(struct tstream_reader *r, const struct options *o, struct diag *d)
{
	json_t *j = manifest_header_json(r->header);
	json_t *read = json_array();
	int rc = 0;

	if (!o->header_only) {
		rc = print_tensors(r, o, read, d);
		json_object_set_new(j, "read", read);
		json_object_set_new(j, "complete", json_boolean(rc == 0));
	} else {
		json_decref(read);
	}
	if (rc == 0 && json_dumpf(j, stdout, JSON_INDENT(2)) == -1)
		rc = diag_fail(d, BN_EXIT_IO, "stdout: cannot write JSON");
	if (rc == 0)
		putchar('\n');
	json_decref(j);
	return rc;
}

static int
show(struct tstream_reader *r, const struct options *o, struct diag *d)
{
	const Tstream__StreamHeader *h = r->header;

	if (o->extract != NULL && mkdir(o->extract, 0777) == -1 &&
	    errno != EEXIST)
		return diag_errno(d, "%s", o->extract);
	if (o->config) {
		fputs(h->config_json ? h->config_json : "", stdout);
		return 0;
	}
	if (o->json)
		return show_json(r, o, d);
	manifest_print_summary(stdout, h);
	if (o->header_only) {
		manifest_print_text(stdout, h);
		return 0;
	}
	return print_tensors(r, o, NULL, d);
}

/* The .npy being written: a signal removes it, then ends the process as
 * it would have without it. */
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
	struct options o = { .cleanup = &temporaries };
	struct tstream_reader r;
	struct diag d = { 0 };
	const char *name;
	FILE *in;
	int rc;

	cli_init();
	cleanup_on_signals(on_signal);
	parse_args(argc, argv, &o);
	if ((in = cli_open_input(o.path, &name, &d)) == NULL)
		diag_exit(&d);
	rc = tstream_reader_open(&r, in, name, &d);
	if (rc == 0)
		rc = show(&r, &o, &d);
	if (rc == 0)
		rc = io_flush(stdout, "stdout", &d);
	tstream_reader_close(&r);
	if (in != stdin)
		fclose(in);
	if (rc == -1) {
		fflush(stdout);
		diag_exit(&d);
	}
	return 0;
}
