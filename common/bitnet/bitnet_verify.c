/* SPDX-License-Identifier: ISC */
#include "bitnet_verify.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitnet_graph.h"
#include "bitnet_names.h"
#include "bitnet_plan.h"
#include "io.h"
#include "onnx_check.h"
#include "onnx_graph.h"
#include "onnx_types.h"

#define WHY	"the model was not built from this stream's configuration"

/* Is logits [batch, 1, vocab] (onnx-emit --last-logits)? */
static int
logits_of_one(const Onnx__ValueInfoProto *v)
{
	const Onnx__TypeProto__Tensor *t = v->type ? v->type->tensor_type :
	    NULL;

	return t != NULL && t->shape != NULL && t->shape->n_dim == 3 &&
	    t->shape->dim[1]->value_case ==
	    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
	    t->shape->dim[1]->dim_value == 1;
}

/* The options onnx-emit was given, as the model's nodes show them (the
 * accuracy level is the q2 projections'; a block-q8 head has its own). */
static void
model_options(const Onnx__GraphProto *g, struct bitnet_graph_opts *o)
{
	o->act_quant = 1;
	o->gqa = 0;
	o->accuracy_level = 0;
	o->last_logits = 0;
	for (size_t i = 0; i < g->n_output; i++)
		if (strcmp(g->output[i]->name, "logits") == 0)
			o->last_logits = logits_of_one(g->output[i]);
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *n = g->node[i];

		if (n->op_type == NULL)
			continue;
		if (strcmp(n->op_type, "GroupQueryAttention") == 0)
			o->gqa = 1;
		if (strcmp(n->op_type, "MatMulNBits") == 0 &&
		    onnx_node_int(n, "bits", 0) == 2)
			o->accuracy_level = (int)onnx_node_int(n, "accuracy_level",
			    0);
	}
}

/* The --table-piece the model shows: the rows of its tables' first piece
 * (of the head's, else the embedding's) as float32 bytes; 0 when the
 * tables are whole.  Any size that makes that many rows builds the same
 * graph. */
static uint64_t
model_table_piece(const struct onnx_model *m, const Tstream__StreamHeader *h)
{
	static const char *const tables[] = { BITNET_HEAD_NAME,
	    BITNET_EMBED_NAME };
	char name[TSTREAM_MAX_NAME + 32];

	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		const Tstream__TensorInfo *t = tstream_manifest_entry(h,
		    tables[i]);
		const struct onnx_init *in = onnx_model_find_init(m,
		    onnx_piece_name(tables[i], 0, name, sizeof name));

		if (t != NULL && t->n_shape == 2 && in != NULL &&
		    in->t->n_dims > 0 && in->t->dims[0] > 0)
			return (uint64_t)in->t->dims[0] * t->shape[1] *
			    sizeof(float);
	}
	return 0;
}

/* A message packed, to compare two messages field by field at once. */
static uint8_t *
packed(const ProtobufCMessage *msg, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(msg);
	if ((buf = malloc(*len ? *len : 1)) != NULL)
		protobuf_c_message_pack(msg, buf);
	return buf;
}

static int
same_message(const ProtobufCMessage *a, const ProtobufCMessage *b,
    struct diag *d)
{
	size_t la, lb;
	uint8_t *pa = packed(a, &la), *pb = packed(b, &lb);
	int same = pa && pb && la == lb && memcmp(pa, pb, la) == 0;

	if (pa == NULL || pb == NULL)
		same = diag_fail(d, BN_EXIT_IO, "out of memory");
	free(pa);
	free(pb);
	return same;
}

static int
compare_nodes(const struct onnx_model *m, const Onnx__GraphProto *want,
    struct diag *d)
{
	const Onnx__GraphProto *got = m->graph;
	int same;

	for (size_t i = 0; i < got->n_node && i < want->n_node; i++) {
		if ((same = same_message(&got->node[i]->base,
		    &want->node[i]->base, d)) == 1)
			continue;
		if (same == -1)
			return -1;
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu ('%s', %s) "
		    "is not the %s node '%s' the stream's config builds; "
		    WHY, m->path, i, got->node[i]->name ? got->node[i]->name :
		    "", got->node[i]->op_type ? got->node[i]->op_type : "?",
		    want->node[i]->op_type, want->node[i]->name);
	}
	if (got->n_node != want->n_node)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %zu nodes, where the "
		    "stream's config builds %zu; " WHY, m->path, got->n_node,
		    want->n_node);
	return 0;
}

static int
same_names(Onnx__ValueInfoProto *const *a, size_t na,
    Onnx__ValueInfoProto *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i]->name == NULL || b[i]->name == NULL ||
		    strcmp(a[i]->name, b[i]->name) != 0)
			return 0;
	return 1;
}

/* The graph's inputs and outputs by name: those of another part (or of a
 * whole model against a part) differ here first. */
static int
compare_io(const struct onnx_model *m, const Onnx__GraphProto *want,
    const struct bitnet_part *part, struct diag *d)
{
	const Onnx__GraphProto *got = m->graph;
	char what[128];

	if (same_names(got->input, got->n_input, want->input, want->n_input) &&
	    same_names(got->output, got->n_output, want->output,
	    want->n_output))
		return 0;
	return diag_fail(d, BN_EXIT_INPUT, "%s: its inputs and outputs are "
	    "not those of the %s the stream holds (another part, or another "
	    "model)", m->path, bitnet_part_describe(part, what, sizeof what));
}

/* The bytes of the model's initializer in, into buf (len bytes). */
static int
read_init(const struct onnx_model *m, const struct onnx_init *in,
    uint8_t *buf, size_t len, struct diag *d)
{
	char path[4096];
	uint64_t off, have;
	struct stat st;
	int fd, rc;

	if (onnx_init_locate(m, in, path, sizeof path, &off, &have, d) == -1)
		return -1;
	if (have != len)
		return 1;
	if ((fd = io_open_regular(path, &st, d)) == -1)
		return -1;
	rc = io_pread_full(fd, buf, len, off, path, d);
	close(fd);
	return rc;
}

/* One constant of the rebuilt graph against the model's of that name. */
static int
compare_constant(const struct onnx_model *m, const Onnx__TensorProto *t,
    struct diag *d)
{
	const struct onnx_init *in = onnx_model_find_init(m, t->name);
	uint8_t *buf;
	int rc;

	if (in == NULL || in->t->data_type != t->data_type ||
	    in->t->n_dims != t->n_dims || (t->n_dims > 0 &&
	    memcmp(in->t->dims, t->dims, t->n_dims * sizeof *t->dims) != 0))
		return diag_fail(d, BN_EXIT_INPUT, "%s: constant '%s' is "
		    "missing or of another type or shape than the stream's "
		    "config builds; " WHY, m->path, t->name);
	if ((buf = io_alloc(t->raw_data.len, t->name, d)) == NULL)
		return -1;
	rc = read_init(m, in, buf, t->raw_data.len, d);
	if (rc == 1 || (rc == 0 && memcmp(buf, t->raw_data.data,
	    t->raw_data.len) != 0))
		rc = diag_fail(d, BN_EXIT_INPUT, "%s: constant '%s' differs "
		    "from the one the stream's config builds (rms_norm_eps, "
		    "rope_theta, head_dim, ...); " WHY, m->path, t->name);
	free(buf);
	return rc;
}

int
bitnet_verify_graph(const struct onnx_model *m,
    const Tstream__StreamHeader *h, struct diag *d)
{
	struct bitnet_graph_opts o;
	struct bitnet_part part;
	struct onnx_graph g;
	struct diag quiet = { 0 };
	int rc;

	if (!m->has_graph)
		return diag_fail(d, BN_EXIT_INPUT, "%s: no graph", m->path);
	model_options(m->graph, &o);
	o.table_piece = model_table_piece(m, h);
	if (bitnet_plan(h, &part, &quiet) == -1)
		return 1;	/* a selection of tensors: no graph of its own */
	og_init(&g, "bitnet");
	rc = bitnet_graph_build(&g, h, &part, &o, d);
	if (rc == 0)
		rc = compare_io(m, &g.graph, &part, d);
	if (rc == 0)
		rc = compare_nodes(m, &g.graph, d);
	for (size_t i = 0; rc == 0 && i < g.graph.n_initializer; i++)
		rc = compare_constant(m, g.graph.initializer[i], d);
	og_free(&g);
	return rc;
}
