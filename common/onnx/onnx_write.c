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

const char *
onnx_data_name(const char *base, unsigned i, char *buf, size_t len)
{
	int n = i == 0 ? snprintf(buf, len, "%s%s", base, ONNX_DATA_SUFFIX) :
	    snprintf(buf, len, "%s%s_%u", base, ONNX_DATA_SUFFIX, i);

	return n < 0 || (size_t)n >= len ? NULL : buf;
}

void
onnx_weights_whole(const Tstream__StreamHeader *h, struct onnx_weight *w)
{
	for (size_t i = 0; i < h->n_manifest; i++) {
		const Tstream__TensorInfo *t = h->manifest[i];
		struct tstream_layout l = { .rank = 0 };

		tstream_layout(t, &l);
		memset(&w[i], 0, sizeof w[i]);
		w[i].name = t->name;
		w[i].entry = i;
		w[i].len = t->payload_length;
		w[i].type = onnx_type_from_dtype(l.dtype);
		w[i].rank = l.rank;
		for (size_t k = 0; k < l.rank; k++)
			w[i].dims[k] = (int64_t)l.dims[k];
	}
}

/* A weight's TensorProto without its data. */
static void
weight_proto(const struct onnx_weight *w, Onnx__TensorProto *p)
{
	onnx__tensor_proto__init(p);
	p->dims = (int64_t *)w->dims;
	p->n_dims = w->rank;
	p->has_data_type = 1;
	p->data_type = w->type;
	p->name = (char *)w->name;
}

/* Bytes of the initializer record of w inside the graph. */
static uint64_t
inline_record_size(const struct onnx_weight *w)
{
	Onnx__TensorProto p;
	uint64_t n;

	weight_proto(w, &p);
	n = protobuf_c_message_get_packed_size(&p.base) +
	    pb_len_field_size(TENSOR_RAW_DATA, w->len);
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

/* The path of data file i of the model at path beside, in buf: the
 * model's name with onnx_data_name's ending, in its folder. */
static const char *
data_path(const char *beside, unsigned i, char *buf, size_t len)
{
	char name[PATH_MAX];
	const char *slash = strrchr(beside, '/');
	int n;

	if (onnx_data_name(slash ? slash + 1 : beside, i, name,
	    sizeof name) == NULL)
		return NULL;
	n = snprintf(buf, len, "%.*s%s", slash ? (int)(slash - beside + 1) : 0,
	    beside, name);
	return n < 0 || (size_t)n >= len ? NULL : buf;
}

/* Decide and create the data files beside the model. */
static int
open_data(struct onnx_out *o, uint64_t weights, struct diag *d)
{
	char *beside = o->path != NULL ? o->model.final : stdout_path();
	const char *base;
	char path[PATH_MAX];
	int rc = 0;

	if (beside == NULL || (o->path != NULL &&
	    o->model.kind == OUTFILE_THROUGH))
		return diag_fail(d, BN_EXIT_USAGE,
		    "the weights (%llu bytes) need an external data file, "
		    "and %s is not a regular file to put it beside; write "
		    "with -o PATH or redirect to a file",
		    (unsigned long long)weights, model_name(o));
	base = strrchr(beside, '/');
	if ((o->data_base = strdup(base ? base + 1 : beside)) == NULL)
		rc = diag_fail(d, BN_EXIT_IO, "out of memory");
	for (unsigned i = 0; rc == 0 && i < o->n_data; i++) {
		if (data_path(beside, i, path, sizeof path) == NULL)
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: path too long "
			    "for its data files", beside);
		else if ((rc = outfile_target(&o->data[i], path, 0,
		    o->cleanup, d)) == 0)
			rc = outfile_create(&o->data[i], d);
	}
	if (beside != o->model.final)
		free(beside);
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

/* Place every weight in a data file and at an offset there, 4096-
 * aligned, a new file where one would pass the limit. */
static int
plan_external(struct onnx_out *o, struct diag *d)
{
	uint64_t off = 0, limit = o->data_file_limit ? o->data_file_limit :
	    ONNX_DATA_FILE_LIMIT;
	unsigned file = 0;

	for (size_t i = 0; i < o->n_weights; i++) {
		uint64_t len = o->weights[i].len;

		if (off > 0 && (off >= limit || len > limit - off)) {
			if (++file == ONNX_MAX_DATA_FILES)
				return diag_fail(d, BN_EXIT_INPUT, "the "
				    "weights need more than %u data files of "
				    "%llu bytes", ONNX_MAX_DATA_FILES,
				    (unsigned long long)limit);
			off = 0;
		}
		o->file_of[i] = file;
		o->offsets[i] = off;
		o->data_size[file] = off + len;
		off = (off + len + ONNX_DATA_ALIGN - 1) / ONNX_DATA_ALIGN *
		    ONNX_DATA_ALIGN;
	}
	o->n_data = file + 1;
	return 0;
}

/* Add every weight to g as an external initializer at its place. */
static int
add_external(struct onnx_out *o, struct onnx_graph *g, struct diag *d)
{
	char num[32], name[PATH_MAX];

	for (size_t i = 0; i < o->n_weights; i++) {
		Onnx__TensorProto *p = arena_alloc(&g->arena, sizeof *p);
		Onnx__StringStringEntryProto **ed = arena_alloc(&g->arena,
		    3 * sizeof *ed);

		if (p == NULL || ed == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		weight_proto(&o->weights[i], p);
		onnx_data_name(o->data_base, o->file_of[i], name, sizeof name);
		ed[0] = entry(g, "location", name);
		snprintf(num, sizeof num, "%llu",
		    (unsigned long long)o->offsets[i]);
		ed[1] = entry(g, "offset", num);
		snprintf(num, sizeof num, "%llu",
		    (unsigned long long)o->weights[i].len);
		ed[2] = entry(g, "length", num);
		p->external_data = ed;
		p->n_external_data = 3;
		p->has_data_location = 1;
		p->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
		if (arena_push(&g->arena, (void ***)&g->graph.initializer,
		    &g->graph.n_initializer, &g->cap_init, p) == -1)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
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

/* Index the weights by manifest entry: each entry's weights must follow
 * one another and cover its payload in order. */
static int
index_weights(struct onnx_out *o, struct diag *d)
{
	const Tstream__StreamHeader *h = o->h;
	size_t k = 0;

	o->first = calloc(h->n_manifest + 1, sizeof *o->first);
	o->file_of = calloc(o->n_weights + 1, sizeof *o->file_of);
	o->offsets = calloc(o->n_weights + 1, sizeof *o->offsets);
	o->buf = malloc(TSTREAM_CHUNK);
	if (o->first == NULL || o->file_of == NULL || o->offsets == NULL ||
	    o->buf == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < h->n_manifest; i++) {
		uint64_t covered = 0;

		o->first[i] = k;
		for (; k < o->n_weights && o->weights[k].entry == i; k++) {
			if (o->weights[k].from != covered)
				break;
			covered += o->weights[k].len;
		}
		if (covered != h->manifest[i]->payload_length)
			return diag_fail(d, BN_EXIT_IO, "tensor '%s': its "
			    "initializers do not cover its payload",
			    h->manifest[i]->name);
	}
	o->first[h->n_manifest] = k;
	return k == o->n_weights ? 0 : diag_fail(d, BN_EXIT_IO, "a weight "
	    "is not in the manifest's order");
}

int
onnx_out_begin(struct onnx_out *o, Onnx__ModelProto *m, struct onnx_graph *g,
    const Tstream__StreamHeader *h, struct diag *d)
{
	uint64_t graph_len = protobuf_c_message_get_packed_size(
	    &g->graph.base), weights = 0;

	o->h = h;
	o->model.fd = -1;
	for (unsigned i = 0; i < ONNX_MAX_DATA_FILES; i++)
		o->data[i].fd = -1;
	if (o->path != NULL && outfile_target(&o->model, o->path, 1,
	    o->cleanup, d) == -1)
		return -1;
	if (index_weights(o, d) == -1)
		return -1;
	for (size_t i = 0; i < o->n_weights; i++) {
		graph_len += inline_record_size(&o->weights[i]);
		weights += o->weights[i].len;
	}
	o->model_size = protobuf_c_message_get_packed_size(&m->base) +
	    pb_len_field_size(MODEL_GRAPH, graph_len);
	o->external = o->force_external || o->model_size > ONNX_INLINE_LIMIT;
	if (o->external)
		return (plan_external(o, d) == -1 ||
		    open_data(o, weights, d) == -1 ||
		    add_external(o, g, d) == -1) ? -1 : open_model(o, d);
	if (open_model(o, d) == -1)
		return -1;
	return write_inline_head(o, m, g, graph_len, d);
}

static int
write_record_head(struct onnx_out *o, const struct onnx_weight *w,
    struct diag *d)
{
	uint8_t head[4 * PB_VARINT_MAX + TSTREAM_MAX_NAME + 128 +
	    TSTREAM_MAX_RANK * PB_VARINT_MAX];
	Onnx__TensorProto p;
	size_t plen, n = 0;

	weight_proto(w, &p);
	plen = protobuf_c_message_get_packed_size(&p.base);
	n += pb_put_tag(head + n, GRAPH_INITIALIZER, PB_LEN);
	n += pb_put_varint(head + n, plen + pb_len_field_size(TENSOR_RAW_DATA,
	    w->len));
	n += protobuf_c_message_pack(&p.base, head + n);
	n += pb_put_tag(head + n, TENSOR_RAW_DATA, PB_LEN);
	n += pb_put_varint(head + n, w->len);
	return io_write_full(o->fp, head, n, model_name(o), d);
}

/* n bytes of o->buf to weight k, at *off within its place. */
static int
write_chunk(struct onnx_out *o, size_t k, uint64_t *off, size_t n,
    struct diag *d)
{
	const struct outfile *f = &o->data[o->file_of[k]];
	size_t done = 0;

	if (!o->external)
		return io_write_full(o->fp, o->buf, n, model_name(o), d);
	while (done < n) {
		ssize_t w = pwrite(f->fd, o->buf + done, n - done,
		    (off_t)(*off + done));
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return diag_errno(d, "%s", f->final);
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

	if (i < 0)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' is not in "
		    "the manifest", t->name);
	for (size_t k = o->first[i]; k < o->first[i + 1]; k++) {
		uint64_t left = o->weights[k].len, off = o->offsets[k];

		if (!o->external && write_record_head(o, &o->weights[k],
		    d) == -1)
			return -1;
		while (left > 0) {
			size_t n = left < TSTREAM_CHUNK ? (size_t)left :
			    TSTREAM_CHUNK;

			if (tstream_read_payload(r, o->buf, n, d) == -1 ||
			    write_chunk(o, k, &off, n, d) == -1)
				return -1;
			left -= n;
		}
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

/* A model that replaced another: the data files past the first `keep`
 * that the old one may have used are no longer used by anything.  Only
 * regular files of those names go, up to the first one missing. */
static int
remove_stale_data(const struct onnx_out *o, unsigned keep, struct diag *d)
{
	char path[PATH_MAX];
	struct stat st;
	int rc = 0, removed = 0;

	for (unsigned i = keep; rc == 0 && i < ONNX_MAX_DATA_FILES; i++) {
		if (data_path(o->model.final, i, path, sizeof path) == NULL)
			return diag_fail(d, BN_EXIT_INPUT, "%s: path too long",
			    o->model.final);
		if (lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
			break;
		if (unlink(path) == -1)
			rc = diag_errno(d, "%s: the model no longer uses it, "
			    "but it could not be removed", path);
		removed = 1;
	}
	return rc == 0 && removed ? outfile_sync_dir(o->model.final, d) : rc;
}

/* A committed file of a folder that goes as a whole stays in the cleanup
 * table: the name is added before the rename. */
static int
commit_one(const struct onnx_out *o, struct outfile *f, struct diag *d)
{
	sigset_t old;
	int rc = 0;

	if (o->finals_in_cleanup) {
		cleanup_block(&old);
		rc = cleanup_add(o->cleanup, f->final, 0);
		cleanup_unblock(&old);
		if (rc == -1)
			return diag_fail(d, BN_EXIT_IO, "%s: too many files "
			    "to clean up", f->final);
	}
	return outfile_commit(f, d);
}

/* Every file on disk before any is renamed: a failure until then
 * changes nothing; a model that fails to take its name takes the new
 * data files with it. */
static int
commit_external(struct onnx_out *o, struct diag *d)
{
	for (unsigned i = 0; i < o->n_data; i++)
		if (outfile_close_synced(&o->data[i], d) == -1)
			return -1;
	if (o->path != NULL && outfile_close_synced(&o->model, d) == -1)
		return -1;
	for (unsigned i = 0; i < o->n_data; i++)
		if (commit_one(o, &o->data[i], d) == -1)
			return -1;
	if (o->path != NULL && commit_one(o, &o->model, d) == -1) {
		for (unsigned i = 0; i < o->n_data; i++)
			unlink(o->data[i].final);
		return -1;
	}
	return 0;
}

int
onnx_out_finish(struct onnx_out *o, Onnx__ModelProto *m,
    struct onnx_graph *g, struct diag *d)
{
	if (o->external) {
		for (unsigned i = 0; i < o->n_data; i++)
			if (ftruncate(o->data[i].fd, (off_t)o->data_size[i]) ==
			    -1)
				return diag_errno(d, "%s", o->data[i].final);
		if (write_small_model(o, m, g, d) == -1)
			return -1;
	}
	o->fp = NULL;
	if (o->path == NULL && finish_stdout(d) == -1)
		return -1;
	if (o->external) {
		if (commit_external(o, d) == -1)
			return -1;
	} else if (o->path != NULL && commit_one(o, &o->model, d) == -1) {
		return -1;
	}
	return o->path != NULL && o->model.kind == OUTFILE_REPLACE ?
	    remove_stale_data(o, (unsigned)o->n_data, d) : 0;
}

void
onnx_out_close(struct onnx_out *o)
{
	if (o->model.final != NULL)
		outfile_discard(&o->model);
	for (unsigned i = 0; i < ONNX_MAX_DATA_FILES; i++)
		if (o->data[i].final != NULL)
			outfile_discard(&o->data[i]);
	free(o->data_base);
	free(o->first);
	free(o->file_of);
	free(o->offsets);
	free(o->buf);
	memset(o, 0, sizeof *o);
	o->model.fd = -1;
}
