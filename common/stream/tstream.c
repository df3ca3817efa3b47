/* SPDX-License-Identifier: ISC */
#include "tstream.h"

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "dtype.h"
#include "io.h"
#include "pbwire.h"

static void
put_u32le(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static uint32_t
get_u32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

int
tstream_check_info(const Tstream__TensorInfo *t, int in_manifest,
    struct diag *d)
{
	const char *name = t->name ? t->name : "";
	struct tstream_layout l;
	uint64_t want;
	char sb[256];

	if (name[0] == '\0')
		return diag_fail(d, BN_EXIT_INPUT, "tensor with an empty name");
	if (strlen(name) > TSTREAM_MAX_NAME)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor name of %zu bytes, more than %u", strlen(name),
		    TSTREAM_MAX_NAME);
	if (t->n_shape > TSTREAM_MAX_RANK)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': rank %zu, more than %u", name, t->n_shape,
		    TSTREAM_MAX_RANK);
	if (dtype_size(t->dtype) == 0)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': unknown dtype %d", name, (int)t->dtype);
	if (tstream_encoding_of(t->encoding) != NULL &&
	    tstream_encoding_of(t->encoding)->blocked &&
	    !tstream_block_ok(t->block_size))
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': %s block size %u is not a power of "
		    "two from %u to %u", name,
		    tstream_encoding_name(t->encoding), t->block_size,
		    TSTREAM_MIN_BLOCK, TSTREAM_MAX_BLOCK);
	if (tstream_layout(t, &l) == -1)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': encoding %s cannot hold %s %s", name,
		    tstream_encoding_name(t->encoding), dtype_name(t->dtype),
		    shape_format(t->shape, t->n_shape, sb, sizeof sb));
	want = l.bytes;
	if (!t->has_payload_length || t->payload_length != want)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': payload of %llu bytes, expected %llu for %s "
		    "%s %s", name, (unsigned long long)t->payload_length,
		    (unsigned long long)want, tstream_encoding_name(t->encoding),
		    dtype_name(t->dtype),
		    shape_format(t->shape, t->n_shape, sb, sizeof sb));
	if (!in_manifest && tstream_encoding_of(t->encoding)->header_scale &&
	    !t->has_scale)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s': %s tensor without a scale", name,
		    tstream_encoding_name(t->encoding));
	return 0;
}

static int
cmp_name_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
check_unique_names(const Tstream__StreamHeader *h, struct diag *d)
{
	const char **names;
	int rc = 0;

	if (h->n_manifest < 2)
		return 0;
	if ((names = io_alloc(h->n_manifest * sizeof *names, "manifest",
	    d)) == NULL)
		return -1;
	for (size_t i = 0; i < h->n_manifest; i++)
		names[i] = h->manifest[i]->name;
	qsort(names, h->n_manifest, sizeof *names, cmp_name_ptr);
	for (size_t i = 1; i < h->n_manifest && rc == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = diag_fail(d, BN_EXIT_INPUT,
			    "manifest names tensor '%s' twice", names[i]);
	free(names);
	return rc;
}

void
tstream_header_init(Tstream__StreamHeader *h, char *config_json,
    Tstream__ModelConfig *config, Tstream__TensorInfo **manifest, size_t n,
    char *source)
{
	tstream__stream_header__init(h);
	h->has_version = 1;
	h->version = TSTREAM_VERSION;
	h->config_json = config_json;
	h->config = config;
	h->manifest = manifest;
	h->n_manifest = n;
	h->source = source;
}

int
tstream_check_header(const Tstream__StreamHeader *h, struct diag *d)
{
	if (!h->has_version || h->version != TSTREAM_VERSION)
		return diag_fail(d, BN_EXIT_INPUT,
		    "stream header version %u, expected %u", h->version,
		    TSTREAM_VERSION);
	if (h->config == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "stream header has no model config");
	if (h->n_manifest > TSTREAM_MAX_TENSORS)
		return diag_fail(d, BN_EXIT_INPUT,
		    "manifest of %zu tensors, more than %u", h->n_manifest,
		    TSTREAM_MAX_TENSORS);
	for (size_t i = 0; i < h->n_manifest; i++)
		if (tstream_check_info(h->manifest[i], 1, d) == -1)
			return diag_prefix(d, "manifest entry %zu", i);
	return check_unique_names(h, d);
}

long
tstream_manifest_find(const Tstream__StreamHeader *h, const char *name,
    uint64_t hint)
{
	if (hint < h->n_manifest && strcmp(h->manifest[hint]->name, name) == 0)
		return (long)hint;
	for (size_t i = 0; i < h->n_manifest; i++)
		if (strcmp(h->manifest[i]->name, name) == 0)
			return (long)i;
	return -1;
}

static int
info_same(const Tstream__TensorInfo *a, const Tstream__TensorInfo *b)
{
	if (a->dtype != b->dtype || a->encoding != b->encoding ||
	    a->block_size != b->block_size ||
	    a->payload_length != b->payload_length || a->n_shape != b->n_shape)
		return 0;
	for (size_t i = 0; i < a->n_shape; i++)
		if (a->shape[i] != b->shape[i])
			return 0;
	return 1;
}

const Tstream__TensorInfo *
tstream_manifest_entry(const Tstream__StreamHeader *h, const char *name)
{
	long i = tstream_manifest_find(h, name, 0);

	return i < 0 ? NULL : h->manifest[i];
}

/* Mark t as sent/received; checks it against the manifest.  Returns its
 * manifest index, or -1. */
static long
manifest_claim(const Tstream__StreamHeader *h, unsigned char *seen,
    uint64_t count, const Tstream__TensorInfo *t, struct diag *d)
{
	long i = tstream_manifest_find(h, t->name, count);

	if (i < 0)
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s' is not in the manifest", t->name);
	if (seen[i])
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s' appears twice", t->name);
	if (!info_same(h->manifest[i], t))
		return diag_fail(d, BN_EXIT_INPUT,
		    "tensor '%s' differs from its manifest entry", t->name);
	seen[i] = 1;
	return i;
}

/* --- reading --------------------------------------------------------- */

/* Read exactly n bytes; *eof set if the stream ended before the first. */
static int
read_exact(struct tstream_reader *r, void *buf, size_t n, const char *what,
    int *eof, struct diag *d)
{
	ssize_t got = io_read_some(r->fp, buf, n, r->name, d);

	if (got < 0)
		return -1;
	if (eof)
		*eof = (got == 0);
	if ((size_t)got < n) {
		if (eof && got == 0)
			return -1;
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: stream truncated in %s (%llu tensors begun)",
		    r->name, what, (unsigned long long)r->count);
	}
	return 0;
}

static int
read_frame(struct tstream_reader *r, char tag[5], uint32_t limit,
    unsigned char **body, uint32_t *len, struct diag *d)
{
	unsigned char head[8];
	int eof = 0;

	if (read_exact(r, head, sizeof head, "a frame header", &eof, d) == -1) {
		if (eof)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: stream truncated after %llu tensors, before "
			    "its trailer", r->name,
			    (unsigned long long)r->count);
		return -1;
	}
	memcpy(tag, head, 4);
	tag[4] = '\0';
	*len = get_u32le(head + 4);
	if (strcmp(tag, "HEAD") && strcmp(tag, "TENS") && strcmp(tag, "TRLR"))
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: bad frame tag after %llu tensors (not HEAD, TENS or "
		    "TRLR): stream corrupt", r->name,
		    (unsigned long long)r->count);
	if (strcmp(tag, "TRLR") == 0)	/* late side files: as a header */
		limit = TSTREAM_MAX_TRAILER;
	if (*len > limit)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: %s frame of %u bytes, more than the limit of %u",
		    r->name, tag, *len, limit);
	if ((*body = io_alloc(*len, r->name, d)) == NULL)
		return -1;
	if (read_exact(r, *body, *len, tag, NULL, d) == -1) {
		free(*body);
		return -1;
	}
	return 0;
}

/* Count the manifest entries (field 5) of a serialized StreamHeader
 * before unpacking it, so that a hostile count is refused unallocated. */
static int
count_manifest(const uint8_t *p, size_t n, size_t *count)
{
	size_t pos = 0, u;
	uint64_t tag, len;

	*count = 0;
	while (pos < n) {
		if ((u = pb_get_varint(p + pos, n - pos, &tag)) == 0)
			return -1;
		pos += u;
		switch (tag & 7) {
		case PB_VARINT:
			if ((u = pb_get_varint(p + pos, n - pos, &len)) == 0)
				return -1;
			pos += u;
			continue;
		case PB_I64: len = 8; break;
		case PB_I32: len = 4; break;
		case PB_LEN:
			if ((u = pb_get_varint(p + pos, n - pos, &len)) == 0)
				return -1;
			pos += u;
			break;
		default:
			return -1;
		}
		if (len > n - pos)
			return -1;
		pos += len;
		*count += (tag >> 3) == 5;
	}
	return 0;
}

static int
read_header(struct tstream_reader *r, struct diag *d)
{
	unsigned char *body;
	uint32_t len;
	size_t n;
	char tag[5];

	if (read_frame(r, tag, TSTREAM_MAX_HEADER, &body, &len, d) == -1)
		return -1;
	if (strcmp(tag, "HEAD") != 0) {
		free(body);
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: expected the HEAD frame, found %s", r->name, tag);
	}
	if (count_manifest(body, len, &n) == 0 && n > TSTREAM_MAX_TENSORS) {
		free(body);
		return diag_fail(d, BN_EXIT_INPUT, "%s: manifest of %zu "
		    "tensors, more than %u", r->name, n, TSTREAM_MAX_TENSORS);
	}
	r->header = tstream__stream_header__unpack(NULL, len, body);
	free(body);
	if (r->header == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: stream header is not a valid StreamHeader message",
		    r->name);
	if (tstream_check_header(r->header, d) == -1)
		return diag_prefix(d, "%s", r->name);
	r->seen = calloc(r->header->n_manifest + 1, 1);
	if (r->seen == NULL)
		return diag_fail(d, BN_EXIT_IO, "%s: out of memory", r->name);
	return 0;
}

int
tstream_reader_open(struct tstream_reader *r, FILE *fp, const char *name,
    struct diag *d)
{
	unsigned char magic[12];
	int eof = 0;

	memset(r, 0, sizeof *r);
	r->fp = fp;
	r->name = name;
	if (read_exact(r, magic, sizeof magic, "the magic", &eof, d) == -1) {
		if (eof)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: empty input, expected a tensor stream", name);
		return -1;
	}
	if (memcmp(magic, TSTREAM_MAGIC, 8) != 0)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: bad magic: not a tensor stream", name);
	if (get_u32le(magic + 8) != TSTREAM_VERSION)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: stream version %u, this tool reads version %u", name,
		    get_u32le(magic + 8), TSTREAM_VERSION);
	return read_header(r, d);
}

static int
read_trailer(struct tstream_reader *r, const unsigned char *body,
    uint32_t len, struct diag *d)
{
	Tstream__Trailer *t = tstream__trailer__unpack(NULL, len, body);
	int rc = 0;

	if (t == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: trailer is not a valid Trailer message", r->name);
	if (t->tensor_count != r->count || r->count != r->header->n_manifest)
		rc = diag_fail(d, BN_EXIT_INPUT,
		    "%s: stream ended after %llu tensors; trailer counts %llu, "
		    "manifest %zu", r->name, (unsigned long long)r->count,
		    (unsigned long long)t->tensor_count,
		    r->header->n_manifest);
	else if (t->payload_bytes != r->payload_bytes)
		rc = diag_fail(d, BN_EXIT_INPUT,
		    "%s: trailer counts %llu payload bytes, stream had %llu",
		    r->name, (unsigned long long)t->payload_bytes,
		    (unsigned long long)r->payload_bytes);
	if (rc == 0)
		r->trailer = t;
	else
		tstream__trailer__free_unpacked(t, NULL);
	return rc;
}

static int check_tensor_end(struct tstream_reader *r, struct diag *d);

static int
adopt_tensor(struct tstream_reader *r, unsigned char *body, uint32_t len,
    struct diag *d)
{
	Tstream__TensorInfo *t = tstream__tensor_info__unpack(NULL, len, body);

	if (t == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor header %llu is not a valid TensorInfo message",
		    r->name, (unsigned long long)r->count);
	r->cur = t;
	if (tstream_check_info(t, 0, d) == -1 || (r->cur_entry =
	    manifest_claim(r->header, r->seen, r->count, t, d)) < 0)
		return diag_prefix(d, "%s", r->name);
	r->remaining = t->payload_length;
	r->crc = 0;
	r->count++;
	if (r->remaining == 0) {	/* an empty payload ends at once */
		progress_tensor(r->progress);
		return check_tensor_end(r, d);
	}
	return 0;
}

int
tstream_next_tensor(struct tstream_reader *r,
    const Tstream__TensorInfo **info, struct diag *d)
{
	unsigned char *body;
	uint32_t len;
	char tag[5];
	int rc;

	if (r->cur != NULL && r->remaining > 0)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': payload not read to its end", r->name,
		    r->cur->name);
	if (r->cur != NULL) {
		tstream__tensor_info__free_unpacked(r->cur, NULL);
		r->cur = NULL;
	}
	if (read_frame(r, tag, TSTREAM_MAX_FRAME, &body, &len, d) == -1)
		return -1;
	if (strcmp(tag, "TRLR") == 0) {
		rc = read_trailer(r, body, len, d) == -1 ? -1 : 0;
		if (rc == 0)
			progress_done(r->progress);
	}
	else if (strcmp(tag, "TENS") == 0)
		rc = adopt_tensor(r, body, len, d) == -1 ? -1 : 1;
	else
		rc = diag_fail(d, BN_EXIT_INPUT,
		    "%s: a second HEAD frame after %llu tensors", r->name,
		    (unsigned long long)r->count);
	free(body);
	if (rc == 1)
		*info = r->cur;
	return rc;
}

static int
check_tensor_end(struct tstream_reader *r, struct diag *d)
{
	char what[TSTREAM_MAX_NAME + 32];
	unsigned char end[8];

	snprintf(what, sizeof what, "the TEND mark of tensor '%s'",
	    r->cur->name);
	if (read_exact(r, end, sizeof end, what, NULL, d) == -1)
		return -1;
	if (memcmp(end, "TEND", 4) != 0)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': no TEND mark after the payload: stream "
		    "corrupt", r->name, r->cur->name);
	if (get_u32le(end + 4) != r->crc)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': checksum mismatch (crc32c %08x, stream "
		    "says %08x): payload corrupt", r->name, r->cur->name,
		    r->crc, get_u32le(end + 4));
	return 0;
}

int
tstream_read_payload(struct tstream_reader *r, void *buf, size_t n,
    struct diag *d)
{
	char what[TSTREAM_MAX_NAME + 16];

	if (r->cur == NULL || n > r->remaining)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: read of %zu payload bytes past the end of tensor '%s'",
		    r->name, n, r->cur ? r->cur->name : "(none)");
	snprintf(what, sizeof what, "tensor '%s'", r->cur->name);
	if (read_exact(r, buf, n, what, NULL, d) == -1)
		return -1;
	r->crc = crc32c_update(r->crc, buf, n);
	r->remaining -= n;
	r->payload_bytes += n;
	progress_bytes(r->progress, n);
	if (r->remaining == 0) {
		progress_tensor(r->progress);
		return check_tensor_end(r, d);
	}
	return 0;
}

int
tstream_skip_payload(struct tstream_reader *r, struct diag *d)
{
	unsigned char *buf;
	int rc = 0;

	if (r->cur == NULL)
		return 0;
	if (r->remaining == 0)
		return 0;
	if ((buf = io_alloc(TSTREAM_CHUNK, r->name, d)) == NULL)
		return -1;
	while (rc == 0 && r->remaining > 0) {
		size_t n = r->remaining < TSTREAM_CHUNK ?
		    (size_t)r->remaining : TSTREAM_CHUNK;
		rc = tstream_read_payload(r, buf, n, d);
	}
	free(buf);
	return rc;
}

void
tstream_reader_close(struct tstream_reader *r)
{
	if (r->cur != NULL)
		tstream__tensor_info__free_unpacked(r->cur, NULL);
	if (r->header != NULL)
		tstream__stream_header__free_unpacked(r->header, NULL);
	if (r->trailer != NULL)
		tstream__trailer__free_unpacked(r->trailer, NULL);
	free(r->seen);
	memset(r, 0, sizeof *r);
}

/* --- writing --------------------------------------------------------- */

static int
write_frame(FILE *fp, const char *name, const char *tag,
    const ProtobufCMessage *m, struct diag *d)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	unsigned char head[8], *body;
	int rc;

	if (len > UINT32_MAX)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s frame too large",
		    name, tag);
	if ((body = io_alloc(len, name, d)) == NULL)
		return -1;
	protobuf_c_message_pack(m, body);
	memcpy(head, tag, 4);
	put_u32le(head + 4, (uint32_t)len);
	rc = io_write_full(fp, head, sizeof head, name, d);
	if (rc == 0)
		rc = io_write_full(fp, body, len, name, d);
	free(body);
	return rc;
}

int
tstream_writer_open(struct tstream_writer *w, FILE *fp, const char *name,
    const Tstream__StreamHeader *h, struct diag *d)
{
	unsigned char magic[12];

	memset(w, 0, sizeof *w);
	w->fp = fp;
	w->name = name;
	w->header = h;
	if (tstream_check_header(h, d) == -1)
		return diag_prefix(d, "%s: refusing to write", name);
	if (protobuf_c_message_get_packed_size(&h->base) > TSTREAM_MAX_HEADER)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: stream header larger than %u bytes", name,
		    TSTREAM_MAX_HEADER);
	if ((w->seen = calloc(h->n_manifest + 1, 1)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "%s: out of memory", name);
	memcpy(magic, TSTREAM_MAGIC, 8);
	put_u32le(magic + 8, TSTREAM_VERSION);
	if (io_write_full(fp, magic, sizeof magic, name, d) == -1)
		return -1;
	return write_frame(fp, name, "HEAD", &h->base, d);
}

int
tstream_begin_tensor(struct tstream_writer *w,
    const Tstream__TensorInfo *info, struct diag *d)
{
	if (w->cur != NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s' begun before '%s' ended", w->name,
		    info->name, w->cur->name);
	if (tstream_check_info(info, 0, d) == -1 ||
	    manifest_claim(w->header, w->seen, w->count, info, d) < 0)
		return diag_prefix(d, "%s", w->name);
	if (write_frame(w->fp, w->name, "TENS", &info->base, d) == -1)
		return -1;
	w->cur = info;
	w->remaining = info->payload_length;
	w->crc = 0;
	w->count++;
	return 0;
}

int
tstream_write_payload(struct tstream_writer *w, const void *buf, size_t n,
    struct diag *d)
{
	if (w->cur == NULL || n > w->remaining)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: %zu payload bytes past the end of tensor '%s'",
		    w->name, n, w->cur ? w->cur->name : "(none)");
	w->crc = crc32c_update(w->crc, buf, n);
	w->remaining -= n;
	w->payload_bytes += n;
	progress_bytes(w->progress, n);
	return io_write_full(w->fp, buf, n, w->name, d);
}

int
tstream_end_tensor(struct tstream_writer *w, struct diag *d)
{
	unsigned char end[8];

	if (w->cur == NULL || w->remaining != 0)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s' ended %llu bytes short", w->name,
		    w->cur ? w->cur->name : "(none)",
		    (unsigned long long)w->remaining);
	memcpy(end, "TEND", 4);
	put_u32le(end + 4, w->crc);
	w->cur = NULL;
	progress_tensor(w->progress);
	return io_write_full(w->fp, end, sizeof end, w->name, d);
}

int
tstream_writer_finish(struct tstream_writer *w, struct diag *d)
{
	Tstream__Trailer t = TSTREAM__TRAILER__INIT;

	if (w->cur != NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s' not ended", w->name, w->cur->name);
	if (w->count != w->header->n_manifest)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: %llu of %zu manifest tensors written", w->name,
		    (unsigned long long)w->count, w->header->n_manifest);
	t.has_tensor_count = t.has_payload_bytes = 1;
	t.tensor_count = w->count;
	t.payload_bytes = w->payload_bytes;
	t.side_files = w->late_side_files;
	t.n_side_files = w->n_late_side_files;
	if (protobuf_c_message_get_packed_size(&t.base) > TSTREAM_MAX_TRAILER)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: stream trailer (late side files) larger than %u bytes",
		    w->name, TSTREAM_MAX_TRAILER);
	if (write_frame(w->fp, w->name, "TRLR", &t.base, d) == -1 ||
	    io_flush(w->fp, w->name, d) == -1)
		return -1;
	progress_done(w->progress);
	return 0;
}

void
tstream_writer_close(struct tstream_writer *w)
{
	free(w->seen);
	memset(w, 0, sizeof *w);
}

int
tstream_header_add_producer(Tstream__StreamHeader *h, const char *who,
    struct diag *d)
{
	char **p = realloc(h->producers, (h->n_producers + 1) * sizeof *p);
	char *s = strdup(who);

	if (p != NULL)
		h->producers = p;
	if (p == NULL || s == NULL) {
		free(s);
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	}
	h->producers[h->n_producers++] = s;
	return 0;
}

Tstream__StreamHeader *
tstream_header_copy(const Tstream__StreamHeader *h, struct diag *d)
{
	size_t len = protobuf_c_message_get_packed_size(&h->base);
	Tstream__StreamHeader *copy;
	uint8_t *buf;

	if ((buf = io_alloc(len, "stream header", d)) == NULL)
		return NULL;
	protobuf_c_message_pack(&h->base, buf);
	copy = tstream__stream_header__unpack(NULL, len, buf);
	free(buf);
	if (copy == NULL)
		diag_fail(d, BN_EXIT_IO, "stream header: out of memory");
	return copy;
}

void
tstream_progress_init(struct progress *p, int enabled, const char *what,
    const Tstream__StreamHeader *h)
{
	uint64_t total = 0;

	for (size_t i = 0; i < h->n_manifest; i++)
		total += h->manifest[i]->payload_length;
	progress_init(p, enabled, what, total, h->n_manifest);
}
