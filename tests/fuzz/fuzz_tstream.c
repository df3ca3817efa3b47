/* SPDX-License-Identifier: ISC */
/* Fuzz the tensor stream reader, and tern-dequant's decoding behind it:
 * every tensor is converted into a stream on /dev/null, as float32 or
 * (picked by the input's length) with ternary weights as int8 or q2. */
#include <stdlib.h>

#include "compact.h"
#include "fuzz_util.h"
#include "recode.h"
#include "tstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
convert(struct tstream_reader *r, const struct recode_opts *o, FILE *null,
    struct diag *d)
{
	const Tstream__TensorInfo *t;
	Tstream__StreamHeader *h;
	struct recode_plan *p;
	struct tstream_writer w;
	int rc;

	if ((p = recode_plan_stream(r->header, o, "fuzz", "fuzz", &h,
	    d)) == NULL)
		return;
	rc = tstream_writer_open(&w, null, "null", h, d);
	while (rc == 0 && (rc = tstream_next_tensor(r, &t, d)) == 1)
		rc = recode_tensor(p, r, &w, d);
	tstream_writer_close(&w);
	tstream__stream_header__free_unpacked(h, NULL);
	recode_plan_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in = fmemopen((void *)data, size ? size : 1, "rb");
	FILE *null = fopen("/dev/null", "wb");
	static const Tstream__Encoding forms[] = { TSTREAM__ENCODING__PLAIN,
	    TSTREAM__ENCODING__TERNARY_INT8, TSTREAM__ENCODING__TERNARY_Q2 };
	struct recode_opts o = { .form = forms[size % 3],
	    .block_size = size % 2 ? 16 : COMPACT_DEFAULT_BLOCK,
	    .table = recode_table_form_at(size / 3 % 5) };
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
