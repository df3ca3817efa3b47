/* SPDX-License-Identifier: ISC */
/* Fuzz the reading of a model archive: the input is the archive (any
 * format libarchive reads).  As a file, read at random, the model in it is
 * planned and written as a stream to /dev/null; then the same archive is
 * read as one pass through a pipe would read it, up to the weights and
 * past them. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hf_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/bn-fuzz-archive-XXXXXX.tar";
	Tstream__StreamHeader h;
	Tstream__TensorInfo **manifest;
	struct tstream_writer w;
	struct hf_input in;
	struct hf_model m;
	struct diag d = { 0 };
	FILE *null;
	int fd = mkstemps(path, 4);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (hf_input_open(&in, &m, path, NULL, &d) == 0 &&
	    (manifest = calloc(m.n_tensors + 1, sizeof *manifest)) != NULL) {
		hf_model_header(&m, &h, manifest);
		if ((null = fopen("/dev/null", "wb")) != NULL) {
			if (tstream_writer_open(&w, null, "null", &h, &d) == 0 &&
			    hf_input_write(&in, &m, &w, &d) == 0)
				tstream_writer_finish(&w, &d);
			tstream_writer_close(&w);
			fclose(null);
		}
		free(manifest);
	}
	hf_model_close(&m);
	hf_input_close(&in);
	memset(&d, 0, sizeof d);
	if (hf_archive_open(&in.x, path, &d) == 0)
		hf_archive_finish(&in.x, &d);
	hf_archive_close(&in.x);
	unlink(path);
	return 0;
}
