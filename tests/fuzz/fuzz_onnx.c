/* SPDX-License-Identifier: ISC */
/* Fuzz onnx-verify's reader and checks, and its summary. */
#include <stdio.h>

#include "fuzz_util.h"
#include "onnx_check.h"
#include "onnx_read.h"
#include "onnx_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct onnx_model m;
	struct diag d = { 0 };
	char path[64];
	int fd = fuzz_memfile(data, size, path, sizeof path);
	FILE *null;

	if (fd < 0)
		return 0;
	if (onnx_model_open(&m, path, &d) == 0 &&
	    onnx_check_model(&m, &d) == 0 &&
	    (null = fopen("/dev/null", "w")) != NULL) {
		onnx_print_summary(null, &m, &d);
		fclose(null);
	}
	onnx_model_close(&m);
	close(fd);
	return 0;
}
