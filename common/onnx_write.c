/* SPDX-License-Identifier: ISC */
#include "onnx_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "onnx_types.h"
#include "pbwire.h"

/* ONNX field numbers (onnx.proto) of what is written by hand. */
#define MODEL_GRAPH		7
#define GRAPH_INITIALIZER	5
#define TENSOR_RAW_DATA		9

/* A weight's TensorProto without its data: dims, type, name, as the
 * payload lays it out (the stream reader has checked that layout). */
static void
weight_proto(const Tstream__TensorInfo *t, Onnx__TensorProto *p,
    int64_t *dims)
{
	struct tstream_layout l = { .rank = 0 };

	tstream_layout(t, &l);
	onnx__tensor_proto__init(p);
	for (size_t i = 0; i < l.rank; i++)
		dims[i] = (int64_t)l.dims[i];
	p->dims = dims;
	p->n_dims = l.rank;
	p->has_data_type = 1;
	p->data_type = onnx_type_from_dtype(l.dtype);
	p->name = t->name;
}

/* Bytes of the initializer record of t inside the graph. */
static uint64_t
inline_record_size(const Tstream__TensorInfo *t)
{
	int64_t dims[TSTREAM_MAX_RANK];
	Onnx__TensorProto p;
	uint64_t n;

	weight_proto(t, &p, dims);
	n = protobuf_c_message_get_packed_size(&p.base) +
	    pb_len_field_size(TENSOR_RAW_DATA, t->payload_length);
	return pb_len_field_size(GRAPH_INITIALIZER, n);
}

/* The path of standard output if it is a regular file, else NULL. */
static char *
stdout_path(void)
{
	char buf[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (fstat(STDOUT_FILENO, &st) == -1 || !S_ISREG(st.st_mode))
		return NULL;
	n = readlink("/proc/self/fd/1", buf, sizeof buf - 1);
	if (n <= 0 || buf[0] != '/')
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

/* What messages call the model: its path, or standard output. */
static const char *
model_name(const struct onnx_out *o)
{
	return o->path != NULL ? o->path : "stdout";
}

static int
open_model(struct onnx_out *o, struct diag *d)
{
	if (o->path == NULL) {
		o->fp = stdout;
		return 0;
	}
	if (outfile_create(&o->model, d) == -1 ||
	    (o->fp = outfile_stdio(&o->model, TSTREAM_CHUNK, d)) == NULL)
		return -1;
	return 0;
}

static int
open_data(struct onnx_out *o, uint64_t weights, struct diag *d)
{
	char *beside = o->path != NULL ? o->model.final : stdout_path();
	const char *base;
	char *path;
	int rc;

	if (beside == NULL || (o->path != NULL &&
	    o->model.kind == OUTFILE_THROUGH))
		return diag_fail(d, BN_EXIT_USAGE,
		    "the weights (%llu bytes) need an external data file, "
		    "and %s is not a regular file to put it beside; write "
		    "with -o PATH or redirect to a file",
		    (unsigned long long)weights, model_name(o));
	path = io_concat(beside, ONNX_DATA_SUFFIX);
	if (beside != o->model.final)
		free(beside);
	if (path == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	base = strrchr(path, '/');
	o->data_location = strdup(base ? base + 1 : path);
	rc = o->data_location == NULL ? diag_fail(d, BN_EXIT_IO,
	    "out of memory") : outfile_target(&o->data, path, 0, o->cleanup,
	    d);
	free(path);
	if (rc == 0)
		rc = outfile_create(&o->data, d);
	return rc;
}

static Onnx__StringStringEntryProto *
entry(struct onnx_graph *g, const char *key, const char *value)
{
	Onnx__StringStringEntryProto *e = arena_alloc(&g->arena, sizeof *e);

	if (e != NULL) {
		onnx__string_string_entry_proto__init(e);
		e->key = arena_strdup(&g->arena, key);
		e->value = arena_strdup(&g->arena, value);
	}
	return e;
}

/* Add every weight to g as an external initializer at its offset. */
static int
add_external(struct onnx_out *o, struct onnx_graph *g, struct diag *d)
{
	const Tstream__StreamHeader *h = o->h;
	uint64_t off = 0;
	char num[32];

	for (size_t i = 0; i < h->n_manifest; i++) {
		const Tstream__TensorInfo *t = h->manifest[i];
		Onnx__TensorProto *p = arena_alloc(&g->arena, sizeof *p);
		int64_t *dims = arena_alloc(&g->arena, TSTREAM_MAX_RANK * 8);
		Onnx__StringStringEntryProto **ed = arena_alloc(&g->arena,
		    3 * sizeof *ed);

		if (p == NULL || dims == NULL || ed == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		weight_proto(t, p, dims);
		o->offsets[i] = off;
		ed[0] = entry(g, "location", o->data_location);
		snprintf(num, sizeof num, "%llu", (unsigned long long)off);
		ed[1] = entry(g, "offset", num);
		snprintf(num, sizeof num, "%llu",
		    (unsigned long long)t->payload_length);
		ed[2] = entry(g, "length", num);
		p->external_data = ed;
		p->n_external_data = 3;
		p->has_data_location = 1;
		p->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
		if (arena_push(&g->arena, (void ***)&g->graph.initializer,
		    &g->graph.n_initializer, &g->cap_init, p) == -1)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		o->data_size = off + t->payload_length;
		off = (o->data_size + ONNX_DATA_ALIGN - 1) /
		    ONNX_DATA_ALIGN * ONNX_DATA_ALIGN;
	}
	return og_failed(g) ? diag_fail(d, BN_EXIT_IO, "out of memory") : 0;
}

/* Write the model's fields before the graph, then the graph's head: its
 * tag, planned length, and everything but the streamed weights. */
static int
write_inline_head(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, uint64_t graph_len, struct diag *d)
{
	size_t mlen = protobuf_c_message_get_packed_size(&m->base);
	size_t glen = protobuf_c_message_get_packed_size(&g->graph.base);
	uint8_t *buf = io_alloc(mlen + glen + 2 * PB_VARINT_MAX, "model",
	    d);
	size_t n;
	int rc;

	if (buf == NULL)
		return -1;
	n = protobuf_c_message_pack(&m->base, buf);
	n += pb_put_tag(buf + n, MODEL_GRAPH, PB_LEN);
	n += pb_put_varint(buf + n, graph_len);
	n += protobuf_c_message_pack(&g->graph.base, buf + n);
	rc = io_write_full(o->fp, buf, n, model_name(o), d);
	free(buf);
	return rc;
}

int
onnx_out_begin(struct onnx_out *o, Onnx__ModelProto *m, struct onnx_graph *g,
    const Tstream__StreamHeader *h, struct diag *d)
{
	uint64_t graph_len = protobuf_c_message_get_packed_size(
	    &g->graph.base), weights = 0;

	o->h = h;
	o->model.fd = o->data.fd = -1;
	if (o->path != NULL && outfile_target(&o->model, o->path, 1,
	    o->cleanup, d) == -1)
		return -1;
	o->offsets = calloc(h->n_manifest + 1, sizeof *o->offsets);
	o->buf = malloc(TSTREAM_CHUNK);
	if (o->offsets == NULL || o->buf == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < h->n_manifest; i++) {
		graph_len += inline_record_size(h->manifest[i]);
		weights += h->manifest[i]->payload_length;
	}
	o->model_size = protobuf_c_message_get_packed_size(&m->base) +
	    pb_len_field_size(MODEL_GRAPH, graph_len);
	o->external = o->force_external || o->model_size > ONNX_INLINE_LIMIT;
	if (o->external)
		return (open_data(o, weights, d) == -1 ||
		    add_external(o, g, d) == -1) ? -1 : open_model(o, d);
	if (open_model(o, d) == -1)
		return -1;
	return write_inline_head(o, m, g, graph_len, d);
}

static int
write_record_head(struct onnx_out *o, const Tstream__TensorInfo *t,
    struct diag *d)
{
	int64_t dims[TSTREAM_MAX_RANK];
	uint8_t head[4 * PB_VARINT_MAX + TSTREAM_MAX_NAME + 128];
	Onnx__TensorProto p;
	size_t plen, n = 0;

	weight_proto(t, &p, dims);
	plen = protobuf_c_message_get_packed_size(&p.base);
	n += pb_put_tag(head + n, GRAPH_INITIALIZER, PB_LEN);
	n += pb_put_varint(head + n, plen + pb_len_field_size(TENSOR_RAW_DATA,
	    t->payload_length));
	n += protobuf_c_message_pack(&p.base, head + n);
	n += pb_put_tag(head + n, TENSOR_RAW_DATA, PB_LEN);
	n += pb_put_varint(head + n, t->payload_length);
	return io_write_full(o->fp, head, n, model_name(o), d);
}

static int
write_chunk(struct onnx_out *o, uint64_t *off, size_t n, struct diag *d)
{
	size_t done = 0;

	if (!o->external)
		return io_write_full(o->fp, o->buf, n, model_name(o), d);
	while (done < n) {
		ssize_t w = pwrite(o->data.fd, o->buf + done, n - done,
		    (off_t)(*off + done));
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return diag_errno(d, "%s", o->data.final);
		done += (size_t)w;
	}
	*off += n;
	return 0;
}

int
onnx_out_tensor(struct onnx_out *o, struct tstream_reader *r,
    const Tstream__TensorInfo *t, struct diag *d)
{
	long i = tstream_manifest_find(o->h, t->name, 0);
	uint64_t left = t->payload_length, off;

	if (i < 0)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' is not in "
		    "the manifest", t->name);
	off = o->offsets[i];
	if (!o->external && write_record_head(o, t, d) == -1)
		return -1;
	while (left > 0) {
		size_t n = left < TSTREAM_CHUNK ? (size_t)left : TSTREAM_CHUNK;

		if (tstream_read_payload(r, o->buf, n, d) == -1 ||
		    write_chunk(o, &off, n, d) == -1)
			return -1;
		left -= n;
	}
	return 0;
}

static int
write_small_model(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, struct diag *d)
{
	size_t len;
	uint8_t *buf;
	int rc;

	m->graph = &g->graph;
	len = protobuf_c_message_get_packed_size(&m->base);
	if (len > ONNX_INLINE_LIMIT)
		return diag_fail(d, BN_EXIT_INPUT, "the graph alone is %zu "
		    "bytes, more than protobuf can hold", len);
	if ((buf = io_alloc(len, "model", d)) == NULL)
		return -1;
	protobuf_c_message_pack(&m->base, buf);
	rc = io_write_full(o->fp, buf, len, model_name(o), d);
	free(buf);
	m->graph = NULL;
	return rc;
}

/* Standard output, flushed and, when it is a regular file, on disk. */
static int
finish_stdout(struct diag *d)
{
	struct stat st;

	if (io_flush(stdout, "stdout", d) == -1)
		return -1;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    fsync(STDOUT_FILENO) == -1 && errno != EINVAL)
		return diag_errno(d, "stdout: fsync");
	return 0;
}

/* An inline model that replaced one with external data: the old data
 * file is no longer used by anything. */
static int
remove_stale_data(const struct onnx_out *o, struct diag *d)
{
	struct stat st;
	char *path;
	int rc = 0;

	if ((path = io_concat(o->model.final, ONNX_DATA_SUFFIX)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		if (unlink(path) == -1)
			rc = diag_errno(d, "%s: the model no longer uses it, "
			    "but it could not be removed", path);
		else
			rc = outfile_sync_dir(path, d);
	}
	free(path);
	return rc;
}

/* Both files on disk before either is renamed: a failure until then
 * changes nothing; a model that fails to take its name takes the new
 * data file with it. */
static int
commit_external(struct onnx_out *o, struct diag *d)
{
	if (outfile_close_synced(&o->data, d) == -1 ||
	    (o->path != NULL && outfile_close_synced(&o->model, d) == -1) ||
	    outfile_commit(&o->data, d) == -1)
		return -1;
	if (o->path != NULL && outfile_commit(&o->model, d) == -1) {
		unlink(o->data.final);
		return -1;
	}
	return 0;
}

int
onnx_out_finish(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, struct diag *d)
{
	if (o->external) {
		if (ftruncate(o->data.fd, (off_t)o->data_size) == -1)
			return diag_errno(d, "%s", o->data.final);
		if (write_small_model(o, m, g, d) == -1)
			return -1;
	}
	o->fp = NULL;
	if (o->path == NULL && finish_stdout(d) == -1)
		return -1;
	if (o->external)
		return commit_external(o, d);
	if (o->path == NULL)
		return 0;
	if (outfile_commit(&o->model, d) == -1)
		return -1;
	return o->model.kind == OUTFILE_REPLACE ? remove_stale_data(o, d) : 0;
}

void
onnx_out_close(struct onnx_out *o)
{
	if (o->model.final != NULL)
		outfile_discard(&o->model);
	if (o->data.final != NULL)
		outfile_discard(&o->data);
	free(o->data_location);
	free(o->offsets);
	free(o->buf);
	memset(o, 0, sizeof *o);
	o->model.fd = o->data.fd = -1;
}
