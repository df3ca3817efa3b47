/* SPDX-License-Identifier: ISC */
/* Fuzz the reading of a model archive: the input is the archive (any
 * format libarchive reads).  As a file, read at random, the model in it is
 * planned and written as a stream to /dev/null; then the same archive is
 * read as one pass through a pipe would read it, up to the weights and
 * past them, by name and as bytes arriving on standard input. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hf_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct memory {
	const uint8_t *p;
	size_t n, pos;
};

/* A byte_source over memory, a few bytes a call as a pipe gives them. */
static ssize_t
memory_read(void *ctx, void *buf, size_t n, struct diag *d)
{
	struct memory *m = ctx;
	size_t k = m->n - m->pos < n ? m->n - m->pos : n;

	(void)d;
	if (k > 4093)
		k = 4093;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/bn-fuzz-archive-XXXXXX.tar";
	const struct model_source *ms = &hf_model_source;
	struct model_pick pick = { 0 };
	struct tstream_writer w;
	struct hf_input in = { 0 };
	struct diag d = { 0 };
	FILE *null = NULL;
	void *st;
	int fd = mkstemps(path, 4);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if ((st = calloc(1, ms->size)) != NULL &&
	    ms->open(st, path, NULL, &d) == 0 &&
	    model_pick(ms, st, NULL, &pick, &d) == 0 &&
	    (null = fopen("/dev/null", "wb")) != NULL) {
		if (tstream_writer_open(&w, null, "null", &pick.header,
		    &d) == 0 && model_pick_write(ms, st, &pick, &w, &d) == 0)
			tstream_writer_finish(&w, &d);
		tstream_writer_close(&w);
	}
	if (null != NULL)
		fclose(null);
	model_pick_free(&pick);
	if (st != NULL)
		ms->close(st);
	free(st);
	memset(&d, 0, sizeof d);
	if (hf_archive_open(&in.x, path, &d) == 0)
		hf_archive_finish(&in.x, &d);
	hf_archive_close(&in.x);
	unlink(path);
	{
		struct memory mem = { data, size, 0 };
		struct byte_source src = { &mem, memory_read };

		if (hf_archive_open_source(&in.x, "<stdin>", &src, &d) == 0)
			hf_archive_finish(&in.x, &d);
		hf_archive_close(&in.x);
	}
	return 0;
}
