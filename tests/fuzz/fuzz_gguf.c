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
	const struct model_source *src = &gguf_model_source;
	struct model_pick pick = { 0 };
	struct tstream_writer w;
	struct gguf_model m = { 0 };
	struct diag d = { 0 };
	char path[64];
	FILE *null = fopen("/dev/null", "wb");
	int fd = fuzz_memfile(data, size, path, sizeof path);

	if (fd >= 0 && null != NULL && src->open(&m, path, NULL, &d) == 0 &&
	    model_pick(src, &m, NULL, &pick, &d) == 0) {
		if (tstream_writer_open(&w, null, "null", &pick.header,
		    &d) == 0)
			model_pick_write(src, &m, &pick, &w, &d);
		tstream_writer_close(&w);
	}
	model_pick_free(&pick);
	src->close(&m);
	if (null != NULL)
		fclose(null);
	if (fd >= 0)
		close(fd);
	return 0;
}
