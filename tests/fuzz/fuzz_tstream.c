/* SPDX-License-Identifier: ISC */
/* Fuzz the tensor stream reader, and tern-dequant's decoding behind it:
 * every tensor is converted into a stream on /dev/null, as float32 or
 * (picked by the input's length) with ternary weights as int8 or q2. */
#include <stdlib.h>

#include "dequant.h"
#include "fuzz_util.h"
#include "tstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
convert(struct tstream_reader *r, const struct compact_opts *o, FILE *null,
    struct diag *d)
{
	const Tstream__TensorInfo *t;
	Tstream__StreamHeader *h;
	struct tstream_writer w;
	int rc;

	if (dequant_check_stream(r->header, d) == -1 ||
	    (h = dequant_header(r->header, o, "fuzz", d)) == NULL)
		return;
	rc = tstream_writer_open(&w, null, "null", h, d);
	while (rc == 0 && (rc = tstream_next_tensor(r, &t, d)) == 1)
		rc = dequant_tensor(r, t, o, &w, d);
	tstream_writer_close(&w);
	tstream__stream_header__free_unpacked(h, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in = fmemopen((void *)data, size ? size : 1, "rb");
	FILE *null = fopen("/dev/null", "wb");
	static const enum compact_form forms[] = { COMPACT_F32, COMPACT_INT8,
	    COMPACT_Q2 };
	struct compact_opts o = { .form = forms[size % 3],
	    .block_size = size % 2 ? 16 : COMPACT_DEFAULT_BLOCK,
	    .embed = (enum compact_embed)(size / 3 % 4) };
	struct tstream_reader r;
	struct diag d = { 0 };

	if (in != NULL && null != NULL) {
		if (size == 0)
			fgetc(in);
		if (tstream_reader_open(&r, in, "fuzz", &d) == 0)
			convert(&r, &o, null, &d);
		tstream_reader_close(&r);
	}
	if (in != NULL)
		fclose(in);
	if (null != NULL)
		fclose(null);
	return 0;
}
