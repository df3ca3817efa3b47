/* SPDX-License-Identifier: ISC */
#include "onnx_report.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtype.h"
#include "io.h"
#include "onnx_check.h"
#include "onnx_types.h"

static void
print_value(FILE *fp, const char *label, const Onnx__ValueInfoProto *v)
{
	const Onnx__TypeProto__Tensor *t = v->type->tensor_type;

	fprintf(fp, "%-10s %s %s [", label, v->name,
	    onnx_elem_name(t->elem_type));
	for (size_t i = 0; t->shape && i < t->shape->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *dm = t->shape->dim[i];
		if (dm->value_case ==
		    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
			fprintf(fp, "%s%" PRId64, i ? "," : "", dm->dim_value);
		else
			fprintf(fp, "%s%s", i ? "," : "", dm->value_case ?
			    dm->dim_param : "?");
	}
	fprintf(fp, "]\n");
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
print_ops(FILE *fp, const Onnx__GraphProto *g, struct diag *d)
{
	char **ops = calloc(g->n_node + 1, sizeof *ops);
	size_t run = 0;

	if (ops == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < g->n_node; i++)
		ops[i] = g->node[i]->op_type;
	qsort(ops, g->n_node, sizeof *ops, cmp_str);
	fprintf(fp, "nodes      %zu:", g->n_node);
	for (size_t i = 0; i < g->n_node; i++) {
		run++;
		if (i + 1 == g->n_node || strcmp(ops[i], ops[i + 1]) != 0) {
			fprintf(fp, " %s %zu", ops[i], run);
			run = 0;
		}
	}
	fputc('\n', fp);
	free(ops);
	return 0;
}

static void
print_params(FILE *fp, const struct onnx_model *m)
{
	uint64_t params = 0, bytes = 0, ext = 0;

	for (size_t i = 0; i < m->n_inits; i++) {
		const Onnx__TensorProto *t = m->inits[i].t;
		uint64_t n = 1;

		for (size_t k = 0; k < t->n_dims; k++)
			n *= (uint64_t)t->dims[k];
		params += n;
		bytes += n * onnx_elem_size(t->data_type);
		if (onnx_init_is_external(&m->inits[i]))
			ext += n * onnx_elem_size(t->data_type);
	}
	fprintf(fp, "weights    %zu initializers, %" PRIu64 " parameters, "
	    "%" PRIu64 " bytes (%" PRIu64 " in external data)\n", m->n_inits,
	    params, bytes, ext);
	fprintf(fp, "file       %s: %" PRIu64 " bytes\n", m->path, m->size);
}

int
onnx_print_summary(FILE *fp, const struct onnx_model *m, struct diag *d)
{
	const Onnx__ModelProto *mp = m->model;
	const Onnx__GraphProto *g = m->graph;

	fprintf(fp, "model      ir %" PRId64 ", producer %s %s\n",
	    mp->ir_version, mp->producer_name ? mp->producer_name : "?",
	    mp->producer_version ? mp->producer_version : "");
	for (size_t i = 0; i < mp->n_opset_import; i++)
		fprintf(fp, "opset      %s %" PRId64 "\n",
		    mp->opset_import[i]->domain && mp->opset_import[i]->domain[0]
		    ? mp->opset_import[i]->domain : "ai.onnx",
		    mp->opset_import[i]->version);
	for (size_t i = 0; i < mp->n_metadata_props; i++) {
		const Onnx__StringStringEntryProto *e = mp->metadata_props[i];

		if (e->key != NULL && e->value != NULL &&
		    strcmp(e->key, "bitnet_onnx.producers") == 0)
			fprintf(fp, "producers  %s\n", e->value);
	}
	for (size_t i = 0; i < g->n_input; i++)
		print_value(fp, "input", g->input[i]);
	for (size_t i = 0; i < g->n_output; i++)
		print_value(fp, "output", g->output[i]);
	if (print_ops(fp, g, d) == -1)
		return -1;
	print_params(fp, m);
	return 0;
}

/* --- comparison with a stream --------------------------------------- */


/* Is in (whole, or a piece of `rows` rows when rows is not NULL) laid
 * out as stream tensor t says? */
static int
fits_layout(const struct onnx_init *in, const Tstream__TensorInfo *t,
    uint64_t *rows)
{
	struct tstream_layout l;
	int same = tstream_layout(t, &l) == 0 &&
	    onnx_type_from_dtype(l.dtype) == in->t->data_type &&
	    in->t->n_dims == l.rank && l.rank > 0;

	for (size_t i = rows ? 1 : 0; same && i < l.rank; i++)
		same = (uint64_t)in->t->dims[i] == l.dims[i];
	if (same && rows)
		*rows = in->t->dims[0] > 0 ? (uint64_t)in->t->dims[0] : 0;
	return same;
}

static int
mismatch(const struct onnx_model *m, const Tstream__TensorInfo *t,
    const uint8_t *a, const uint8_t *b, size_t n, uint64_t base,
    struct diag *d)
{
	size_t es = dtype_size(t->dtype), i = 0;

	while (i < n && a[i] == b[i])
		i++;
	return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s' differs "
	    "from the stream at element %llu (byte %llu)", m->path, t->name,
	    (unsigned long long)((base + i) / es),
	    (unsigned long long)(base + i));
}

/* The stream's next len bytes of t against initializer in's; *base
 * counts the bytes of t compared so far. */
static int
compare_bytes(const struct onnx_model *m, const struct onnx_init *in,
    struct tstream_reader *r, const Tstream__TensorInfo *t, uint64_t *base,
    uint8_t *a, uint8_t *b, struct diag *d)
{
	char path[4096];
	uint64_t off, len;
	struct stat st;
	int fd, rc = 0;

	if (onnx_init_locate(m, in, path, sizeof path, &off, &len, d) == -1)
		return -1;
	if (len > t->payload_length - *base)
		return diag_fail(d, BN_EXIT_INPUT, "%s: the initializers of "
		    "'%s' hold more bytes than the stream's tensor", m->path,
		    t->name);
	if ((fd = io_open_regular(path, &st, d)) == -1)
		return -1;
	for (uint64_t done = 0; rc == 0 && done < len;) {
		size_t n = len - done < TSTREAM_CHUNK ? (size_t)(len - done) :
		    TSTREAM_CHUNK;

		rc = tstream_read_payload(r, a, n, d);
		if (rc == 0)
			rc = io_pread_full(fd, b, n, off + done, path, d);
		if (rc == 0 && memcmp(a, b, n) != 0)
			rc = mismatch(m, t, a, b, n, *base + done, d);
		done += n;
	}
	close(fd);
	*base += len;
	return rc;
}

static int
not_the_tensor(const struct onnx_model *m, const Tstream__TensorInfo *t,
    const char *what, struct diag *d)
{
	return diag_fail(d, BN_EXIT_INPUT, "%s: %s '%s' is not the stream's "
	    "%s %s tensor of that name", m->path, what, t->name,
	    tstream_encoding_name(t->encoding), dtype_name(t->dtype));
}

/* Stream tensor t against its initializer, or against its pieces
 * NAME.part0, NAME.part1, ... (onnx_write.h), rows in order. */
static int
compare_tensor(const struct onnx_model *m, struct tstream_reader *r,
    const Tstream__TensorInfo *t, uint8_t *a, uint8_t *b, struct diag *d)
{
	const struct onnx_init *in = onnx_model_find_init(m, t->name);
	struct tstream_layout l;
	char name[TSTREAM_MAX_NAME + 32];
	uint64_t base = 0, rows = 0, n;
	unsigned k = 0;

	if (in != NULL)
		return fits_layout(in, t, NULL) ? compare_bytes(m, in, r, t,
		    &base, a, b, d) : not_the_tensor(m, t, "initializer", d);
	for (; k < ONNX_MAX_INITIALIZERS; k++) {
		if (onnx_piece_name(t->name, k, name, sizeof name) == NULL ||
		    (in = onnx_model_find_init(m, name)) == NULL)
			break;
		if (!fits_layout(in, t, &n))
			return not_the_tensor(m, t, "a piece of", d);
		if (compare_bytes(m, in, r, t, &base, a, b, d) == -1)
			return -1;
		rows += n;
	}
	if (k == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: the model has no "
		    "initializer '%s', which the stream holds", m->path,
		    t->name);
	if (tstream_layout(t, &l) == -1 || rows != l.dims[0] ||
	    base != t->payload_length)
		return diag_fail(d, BN_EXIT_INPUT, "%s: the pieces of '%s' "
		    "hold %llu of its %llu rows", m->path, t->name,
		    (unsigned long long)rows, (unsigned long long)(
		    l.rank ? l.dims[0] : 0));
	return 0;
}

int
onnx_compare_stream(const struct onnx_model *m, struct tstream_reader *r,
    size_t *checked, struct diag *d)
{
	uint8_t *a = io_alloc(TSTREAM_CHUNK, "buffer", d);
	uint8_t *b = io_alloc(TSTREAM_CHUNK, "buffer", d);
	const Tstream__TensorInfo *t;
	int rc = (a && b) ? 0 : -1;

	*checked = 0;
	while (rc == 0 && (rc = tstream_next_tensor(r, &t, d)) == 1) {
		rc = compare_tensor(m, r, t, a, b, d);
		if (rc == 0)
			(*checked)++;
	}
	free(a);
	free(b);
	return rc;
}
