/* SPDX-License-Identifier: ISC */
/* Fuzz the safetensors reader: the whole file, header and data checks. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_file f;
	struct diag d = { 0 };
	unsigned char buf[64];
	char path[64];
	int fd = fuzz_memfile(data, size, path, sizeof path);

	if (fd < 0)
		return 0;
	if (st_open(&f, path, &d) == 0) {
		for (size_t i = 0; i < f.n_tensors; i++) {
			const struct st_tensor *t = &f.tensors[i];
			uint64_t n = t->end - t->begin;

			st_read_data(&f, t, 0, buf, n < sizeof buf ?
			    (size_t)n : sizeof buf, &d);
		}
	}
	st_close(&f);
	close(fd);
	return 0;
}
