/* Fuzz the tensor stream reader, and tern-dequant's decoding behind it:
 * every tensor is converted to float32 into a stream on /dev/null. */
#include <stdlib.h>

#include "dequant.h"
#include "fuzz_util.h"
#include "tstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
convert(struct tstream_reader *r, FILE *null, struct diag *d)
{
	const Tstream__TensorInfo *t;
	Tstream__StreamHeader *h;
	struct tstream_writer w;
	int rc;

	if (dequant_check_stream(r->header, d) == -1 ||
	    (h = tstream_header_copy(r->header, d)) == NULL)
		return;
	for (size_t i = 0; i < h->n_manifest; i++) {
		Tstream__TensorInfo out;
		uint64_t shape[TSTREAM_MAX_RANK];

		if (dequant_info(h->manifest[i], &out, shape, d) == -1)
			goto done;
		h->manifest[i]->dtype = out.dtype;
		h->manifest[i]->encoding = out.encoding;
		h->manifest[i]->payload_length = out.payload_length;
	}
	rc = tstream_writer_open(&w, null, "null", h, d);
	while (rc == 0 && (rc = tstream_next_tensor(r, &t, d)) == 1)
		rc = dequant_tensor(r, t, &w, d);
	tstream_writer_close(&w);
done:
	tstream__stream_header__free_unpacked(h, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in = fmemopen((void *)data, size ? size : 1, "rb");
	FILE *null = fopen("/dev/null", "wb");
	struct tstream_reader r;
	struct diag d = { 0 };

	if (in != NULL && null != NULL) {
		if (size == 0)
			fgetc(in);
		if (tstream_reader_open(&r, in, "fuzz", &d) == 0)
			convert(&r, null, &d);
		tstream_reader_close(&r);
	}
	if (in != NULL)
		fclose(in);
	if (null != NULL)
		fclose(null);
	return 0;
}
