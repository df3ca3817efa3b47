/* SPDX-License-Identifier: ISC */
#include "hf_input.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_onepass.h"
#include "io.h"

int
hf_input_write(struct hf_input *in, struct hf_model *m, const size_t *kept,
    size_t n, struct tstream_writer *w, struct diag *d)
{
	void *buf;
	int rc = 0;

	if (in->one_pass) {
		rc = hf_onepass_write(m, kept, n, &in->s, w, d);
		if (rc == 0 && in->x.a != NULL &&
		    (rc = hf_archive_finish(&in->x, d)) == 0) {
			w->late_side_files = in->x.late;
			w->n_late_side_files = in->x.n_late;
		}
		return rc;
	}
	if ((buf = io_alloc(TSTREAM_CHUNK, "payload buffer", d)) == NULL)
		return -1;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = hf_model_write_tensor(m, kept[i], w, buf, d);
	free(buf);
	return rc;
}

/* The config of a one-pass read: --config, or one met before the weights
 * (in an archive). */
static int
one_pass_config(struct hf_input *in, const char *model, const char *config,
    char **text, size_t *len, const char **name, struct diag *d)
{
	if (config != NULL) {
		*name = config;
		return io_slurp(config, HF_MAX_CONFIG, text, len, d);
	}
	if (in->x.config_text == NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: no config.json before "
		    "the weights, and an archive read through a pipe is read "
		    "once; give config.json with --config, or the archive as a "
		    "file", model);
	*name = "config.json";
	*text = in->x.config_text;
	*len = in->x.config_len;
	in->x.config_text = NULL;	/* adopted by the model */
	return 0;
}

/* A pipe not named as an archive: its first bytes say whether it is one
 * (read with libarchive) or a safetensors file (which needs --config). */
static int
open_pipe(struct hf_input *in, const char *model, const char *config,
    const char **what, struct byte_source **src, struct diag *d)
{
	FILE *fp = stdin;

	if (strcmp(model, "-") != 0 &&
	    (fp = in->pipe = fopen(model, "rb")) == NULL)
		return diag_errno(d, "%s", model);
	*what = in->pipe ? model : "<stdin>";
	if (st_peek(&in->peek, fp, *what, d) == -1)
		return -1;
	in->stdin_src.ctx = &in->peek;
	in->stdin_src.read = st_onepass_read_peeked;
	if (hf_archive_sniff(in->peek.head, in->peek.len))
		return hf_archive_open_source(&in->x, *what, &in->stdin_src,
		    d);
	if (config == NULL)
		return diag_fail(d, BN_EXIT_USAGE, "%s: reading a safetensors "
		    "file from a pipe needs --config", strcmp(model, "-") ?
		    model : "standard input");
	*src = &in->stdin_src;
	return 0;
}

static int
open_one_pass(struct hf_input *in, struct hf_model *m, const char *model,
    const char *config, struct diag *d)
{
	const char *what = model, *cname = NULL;
	uint64_t size = UINT64_MAX;
	struct byte_source *src = &in->x.src;
	struct st_file f;
	char *text = NULL, dir[4096];
	size_t len;
	int rc;

	in->one_pass = 1;
	if (hf_archive_is_archive(model))
		rc = hf_archive_open(&in->x, model, d);
	else
		rc = open_pipe(in, model, config, &what, &src, d);
	if (rc == -1)
		return -1;
	if (in->x.a != NULL)	/* an archive: its weights entry's size */
		size = in->x.weights_size;
	if (one_pass_config(in, model, config, &text, &len, &cname, d) == -1)
		return -1;
	rc = st_onepass_open(&in->s, src, what, size, &f, d);
	if (rc == 0)
		rc = hf_model_open_stream(m, what, text, len, cname, &f, d);
	else
		free(text);
	st_close(&f);
	if (rc == 0 && in->x.a != NULL)
		return hf_archive_give_side_files(&in->x, m, d);
	if (rc == 0)	/* standard input: side files beside --config */
		return hf_model_load_side_files(m, io_dirname(config, dir,
		    sizeof dir), d);
	return rc;
}

/* True when model names standard input or a pipe (a FIFO, /dev/stdin on
 * a pipe, a shell's <(...)), which can only be read front to back. */
static int
is_pipe(const char *model)
{
	struct stat st;

	if (strcmp(model, "-") == 0)
		return 1;
	return stat(model, &st) == 0 && (S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode));
}

int
hf_input_open(struct hf_input *in, struct hf_model *m, const char *model,
    const char *config, struct diag *d)
{
	int archive = hf_archive_is_archive(model);

	memset(in, 0, sizeof *in);
	memset(m, 0, sizeof *m);
	if (is_pipe(model))
		return open_one_pass(in, m, model, config, d);
	if (archive) {
		if (hf_archive_open_model(&in->x, m, model, config, d) == -1)
			return -1;
		hf_model_sort_by_file(m);	/* read the archive once */
		return 0;
	}
	return hf_model_open(m, model, config, d);
}

void
hf_input_close(struct hf_input *in)
{
	hf_archive_close(&in->x);
	if (in->pipe != NULL)
		fclose(in->pipe);
	in->pipe = NULL;
}

/* --- the model source ------------------------------------------------ */

struct hf_source {
	struct hf_model m;
	struct hf_input in;
};

static int
src_open(void *src, const char *model, const char *config, struct diag *d)
{
	struct hf_source *s = src;

	return hf_input_open(&s->in, &s->m, model, config, d);
}

static void
src_table(void *src, struct model_table *t)
{
	hf_model_table(&((struct hf_source *)src)->m, t);
}

static int
src_write(void *src, const size_t *kept, size_t n, struct tstream_writer *w,
    struct diag *d)
{
	struct hf_source *s = src;

	return hf_input_write(&s->in, &s->m, kept, n, w, d);
}

static void
src_close(void *src)
{
	struct hf_source *s = src;

	hf_model_close(&s->m);
	hf_input_close(&s->in);
}

const struct model_source hf_model_source = {
	"st-read", 1, sizeof(struct hf_source), src_open, src_table,
	src_write, src_close, NULL
};
