/* SPDX-License-Identifier: ISC */
/* Fuzz the GGUF reader: a bitnet.cpp model planned and written as a
 * stream to /dev/null. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "gguf_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Tstream__StreamHeader h;
	Tstream__TensorInfo **manifest;
	struct tstream_writer w;
	struct gguf_model m;
	struct diag d = { 0 };
	char path[64];
	void *buf = malloc(TSTREAM_CHUNK);
	FILE *null = fopen("/dev/null", "wb");
	int fd = fuzz_memfile(data, size, path, sizeof path), rc;

	if (fd >= 0 && buf != NULL && null != NULL &&
	    gguf_model_open(&m, path, &d) == 0 &&
	    (manifest = calloc(m.n_items + 1, sizeof *manifest)) != NULL) {
		gguf_model_header(&m, &h, manifest);
		rc = tstream_writer_open(&w, null, "null", &h, &d);
		for (size_t i = 0; rc == 0 && i < m.n_items; i++)
			rc = gguf_model_write_tensor(&m, i, &w, buf, &d);
		tstream_writer_close(&w);
		free(manifest);
	}
	gguf_model_close(&m);
	if (null != NULL)
		fclose(null);
	free(buf);
	if (fd >= 0)
		close(fd);
	return 0;
}
