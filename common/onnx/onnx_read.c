/* SPDX-License-Identifier: ISC */
#include "onnx_read.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "pbwire.h"

#define MODEL_GRAPH		7
#define GRAPH_NODE		1
#define GRAPH_INITIALIZER	5
#define NODE_ATTRIBUTE		5
#define TENSOR_RAW_DATA		9

/* A growable byte buffer collecting the fields kept in memory. */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};

struct field {
	uint32_t number;
	enum pb_wire wire;
	uint64_t start;		/* of the tag */
	uint64_t body;		/* of the value (after a LEN's length) */
	uint64_t end;		/* one past the field */
};

struct scan {
	const struct onnx_model *m;
	struct diag *d;
	size_t kept;		/* bytes held, against the limit */
};

static int
next_field(struct scan *s, uint64_t pos, uint64_t end, struct field *f)
{
	uint8_t b[2 * PB_VARINT_MAX];
	size_t n = end - pos < sizeof b ? (size_t)(end - pos) : sizeof b, u, v;
	uint64_t tag, len = 0;

	if (io_pread_full(s->m->fd, b, n, pos, s->m->path, s->d) == -1)
		return -1;
	if ((u = pb_get_varint(b, n, &tag)) == 0 || (tag >> 3) == 0 ||
	    (tag >> 3) > UINT32_MAX)
		return diag_fail(s->d, BN_EXIT_INPUT, "%s: bad protobuf tag at "
		    "offset %llu", s->m->path, (unsigned long long)pos);
	f->number = (uint32_t)(tag >> 3);
	f->wire = (enum pb_wire)(tag & 7);
	f->start = pos;
	switch (f->wire) {
	case PB_VARINT:
		v = pb_get_varint(b + u, n - u, &len);
		len = 0;
		break;
	case PB_I64: v = 0; len = 8; break;
	case PB_I32: v = 0; len = 4; break;
	case PB_LEN: v = pb_get_varint(b + u, n - u, &len); break;
	default: v = 0; len = UINT64_MAX; break;
	}
	if ((f->wire == PB_VARINT || f->wire == PB_LEN) && v == 0)
		return diag_fail(s->d, BN_EXIT_INPUT, "%s: truncated varint at "
		    "offset %llu", s->m->path, (unsigned long long)pos);
	f->body = pos + u + v;
	if (len > end - f->body)
		return diag_fail(s->d, BN_EXIT_INPUT, "%s: field %u at offset "
		    "%llu runs past the end of its message (file truncated or "
		    "corrupt)", s->m->path, f->number, (unsigned long long)pos);
	f->end = f->body + len;
	return 0;
}

/* Append the bytes of field f to b. */
static int
keep(struct scan *s, struct bytes *b, const struct field *f)
{
	size_t n = (size_t)(f->end - f->start);

	if (s->kept + n > ONNX_MAX_GRAPH_BYTES)
		return diag_fail(s->d, BN_EXIT_INPUT, "%s: more than %u bytes "
		    "of graph besides raw tensor data", s->m->path,
		    ONNX_MAX_GRAPH_BYTES);
	if (b->len + n > b->cap) {
		size_t cap = (b->len + n) * 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL)
			return diag_fail(s->d, BN_EXIT_IO, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	if (io_pread_full(s->m->fd, b->p + b->len, n, f->start, s->m->path,
	    s->d) == -1)
		return -1;
	b->len += n;
	s->kept += n;
	return 0;
}

static int
scan_initializer(struct scan *s, struct onnx_model *m, const struct field *g)
{
	struct onnx_init *in = &m->inits[m->n_inits];
	struct bytes rest = { 0 };
	struct field f;
	int rc = 0;

	memset(in, 0, sizeof *in);
	for (uint64_t pos = g->body; rc == 0 && pos < g->end; pos = f.end) {
		if ((rc = next_field(s, pos, g->end, &f)) == -1)
			break;
		if (f.number == TENSOR_RAW_DATA && f.wire == PB_LEN) {
			in->has_raw = 1;
			in->raw_off = f.body;
			in->raw_len = f.end - f.body;
		} else {
			rc = keep(s, &rest, &f);
		}
	}
	if (rc == 0 && (in->t = onnx__tensor_proto__unpack(NULL, rest.len,
	    rest.p)) == NULL)
		rc = diag_fail(s->d, BN_EXIT_INPUT, "%s: initializer %zu at "
		    "offset %llu is not a valid TensorProto", m->path,
		    m->n_inits, (unsigned long long)g->start);
	free(rest.p);
	if (rc == 0)
		m->n_inits++;
	return rc;
}

static int
grow_inits(struct onnx_model *m, size_t *cap, struct diag *d)
{
	struct onnx_init *p;

	if (m->n_inits >= ONNX_MAX_INITIALIZERS)
		return diag_fail(d, BN_EXIT_INPUT, "%s: more than %u "
		    "initializers", m->path, ONNX_MAX_INITIALIZERS);
	if (m->n_inits < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 256;
	if ((p = realloc(m->inits, *cap * sizeof *p)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	m->inits = p;
	return 0;
}

/* What protobuf-c makes of the fields of message bytes p[0..n): each
 * field at least a pointer and a block of its own (ONNX_FIELD_COST) with
 * its bytes; a node's fields and an attribute's counted too (depth),
 * since an empty node of two bytes unpacks to a hundred. */
static uint64_t
unpacked_cost(const uint8_t *p, size_t n, int depth, uint32_t parent)
{
	uint64_t cost = 0, tag, len;
	size_t at = 0, u, v;

	while (at < n) {
		if ((u = pb_get_varint(p + at, n - at, &tag)) == 0)
			return cost;	/* the unpacking will refuse it */
		at += u;
		len = 0;
		if ((tag & 7) == PB_LEN) {
			if ((v = pb_get_varint(p + at, n - at, &len)) == 0 ||
			    len > n - at - v)
				return cost;
			at += v;
			if (depth == 0 || (depth == 1 && parent == GRAPH_NODE &&
			    (tag >> 3) == NODE_ATTRIBUTE))
				cost += unpacked_cost(p + at, (size_t)len,
				    depth + 1, (uint32_t)(tag >> 3));
		} else if ((tag & 7) == PB_VARINT) {
			if ((v = pb_get_varint(p + at, n - at, &len)) == 0)
				return cost;
			len = 0;
			at += v;
		} else {
			len = (tag & 7) == PB_I64 ? 8 : 4;
			if (len > n - at)
				return cost;
		}
		cost += ONNX_FIELD_COST + len;
		at += (size_t)len;
	}
	return cost;
}

static int
scan_graph(struct scan *s, struct onnx_model *m, const struct field *g)
{
	struct bytes rest = { 0 };
	struct field f;
	size_t cap = 0;
	int rc = 0;

	for (uint64_t pos = g->body; rc == 0 && pos < g->end; pos = f.end) {
		if ((rc = next_field(s, pos, g->end, &f)) == -1)
			break;
		if (f.number == GRAPH_INITIALIZER && f.wire == PB_LEN)
			rc = grow_inits(m, &cap, s->d) == -1 ? -1 :
			    scan_initializer(s, m, &f);
		else
			rc = keep(s, &rest, &f);
	}
	if (rc == 0 && unpacked_cost(rest.p, rest.len, 0, 0) >
	    ONNX_MAX_GRAPH_BYTES)
		rc = diag_fail(s->d, BN_EXIT_INPUT, "%s: the graph's %zu bytes "
		    "would take more than %u bytes of memory once unpacked "
		    "(its nodes, names and attributes at %u bytes each at "
		    "least)", m->path, rest.len, ONNX_MAX_GRAPH_BYTES,
		    ONNX_FIELD_COST);
	if (rc == 0 && (m->graph = onnx__graph_proto__unpack(NULL, rest.len,
	    rest.p)) == NULL)
		rc = diag_fail(s->d, BN_EXIT_INPUT, "%s: the graph is not a "
		    "valid GraphProto", m->path);
	free(rest.p);
	return rc;
}

static int
scan_model(struct scan *s, struct onnx_model *m)
{
	struct bytes rest = { 0 };
	struct field f;
	int rc = 0;

	for (uint64_t pos = 0; rc == 0 && pos < m->size; pos = f.end) {
		if ((rc = next_field(s, pos, m->size, &f)) == -1)
			break;
		if (f.number == MODEL_GRAPH && f.wire == PB_LEN) {
			if (m->has_graph++)
				rc = diag_fail(s->d, BN_EXIT_INPUT,
				    "%s: more than one graph", m->path);
			else
				rc = scan_graph(s, m, &f);
		} else {
			rc = keep(s, &rest, &f);
		}
	}
	if (rc == 0 && (m->model = onnx__model_proto__unpack(NULL, rest.len,
	    rest.p)) == NULL)
		rc = diag_fail(s->d, BN_EXIT_INPUT, "%s: not a valid ONNX "
		    "ModelProto", m->path);
	free(rest.p);
	return rc;
}

int
onnx_model_open(struct onnx_model *m, const char *path, struct diag *d)
{
	struct scan s = { m, d, 0 };
	struct stat st;

	memset(m, 0, sizeof *m);
	if ((m->path = strdup(path)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if ((m->fd = io_open_regular(path, &st, d)) == -1)
		return -1;
	m->size = (uint64_t)st.st_size;
	if (m->size == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: empty file", path);
	return scan_model(&s, m);
}

void
onnx_model_close(struct onnx_model *m)
{
	for (size_t i = 0; i < m->n_inits; i++)
		onnx__tensor_proto__free_unpacked(m->inits[i].t, NULL);
	free(m->inits);
	if (m->graph)
		onnx__graph_proto__free_unpacked(m->graph, NULL);
	if (m->model)
		onnx__model_proto__free_unpacked(m->model, NULL);
	if (m->fd > 0)
		close(m->fd);
	free(m->path);
	memset(m, 0, sizeof *m);
}

int64_t
onnx_node_int(const Onnx__NodeProto *n, const char *name, int64_t def)
{
	for (size_t i = 0; i < n->n_attribute; i++)
		if (n->attribute[i]->name != NULL &&
		    strcmp(n->attribute[i]->name, name) == 0 &&
		    n->attribute[i]->type ==
		    ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
			return n->attribute[i]->i;
	return def;
}

const struct onnx_init *
onnx_model_find_init(const struct onnx_model *m, const char *name)
{
	for (size_t i = 0; i < m->n_inits; i++)
		if (m->inits[i].t->name != NULL &&
		    strcmp(m->inits[i].t->name, name) == 0)
			return &m->inits[i];
	return NULL;
}
