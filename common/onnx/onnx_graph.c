/* SPDX-License-Identifier: ISC */
#include "onnx_graph.h"

#include <stdlib.h>
#include <string.h>

void
og_init(struct onnx_graph *g, const char *name)
{
	memset(g, 0, sizeof *g);
	onnx__graph_proto__init(&g->graph);
	g->graph.name = arena_strdup(&g->arena, name);
}

int
og_failed(const struct onnx_graph *g)
{
	return g->arena.failed;
}

void
og_free(struct onnx_graph *g)
{
	arena_free(&g->arena);
	memset(g, 0, sizeof *g);
}

static Onnx__AttributeProto *
attr_new(struct onnx_graph *g, const char *name,
    Onnx__AttributeProto__AttributeType type)
{
	Onnx__AttributeProto *a = arena_alloc(&g->arena, sizeof *a);

	if (a == NULL)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = arena_strdup(&g->arena, name);
	a->has_type = 1;
	a->type = type;
	return a;
}

/* An INT attribute holding i or a FLOAT one holding f. */
static Onnx__AttributeProto *
attr_scalar(struct onnx_graph *g, const char *name,
    Onnx__AttributeProto__AttributeType type, int64_t i, float f)
{
	Onnx__AttributeProto *a = attr_new(g, name, type);

	if (a != NULL && type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
		a->has_i = 1;
		a->i = i;
	} else if (a != NULL) {
		a->has_f = 1;
		a->f = f;
	}
	return a;
}

Onnx__AttributeProto *
og_attr_int(struct onnx_graph *g, const char *name, int64_t v)
{
	return attr_scalar(g, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT,
	    v, 0);
}

Onnx__AttributeProto *
og_attr_ints(struct onnx_graph *g, const char *name, const int64_t *v,
    size_t n)
{
	Onnx__AttributeProto *a = attr_new(g, name,
	    ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);

	if (a != NULL && (a->ints = arena_alloc(&g->arena,
	    n * sizeof *v)) != NULL) {
		memcpy(a->ints, v, n * sizeof *v);
		a->n_ints = n;
	}
	return a;
}

Onnx__AttributeProto *
og_attr_float(struct onnx_graph *g, const char *name, float v)
{
	return attr_scalar(g, name,
	    ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, 0, v);
}

static char **
copy_names(struct onnx_graph *g, const char *const *names, size_t n)
{
	char **v = arena_alloc(&g->arena, (n ? n : 1) * sizeof *v);

	for (size_t i = 0; v != NULL && i < n; i++) {
		if (names[i] == NULL) {
			g->arena.failed = 1;
			return NULL;
		}
		v[i] = arena_strdup(&g->arena, names[i]);
	}
	return v;
}

int
og_node_named(struct onnx_graph *g, const char *op, const char *const *in,
    size_t n_in, const char *const *out, size_t n_out,
    Onnx__AttributeProto *const *attrs, size_t n_attrs)
{
	Onnx__NodeProto *nd = arena_alloc(&g->arena, sizeof *nd);

	if (nd == NULL)
		return -1;
	onnx__node_proto__init(nd);
	nd->op_type = arena_strdup(&g->arena, op);
	nd->input = copy_names(g, in, n_in);
	nd->n_input = n_in;
	nd->output = copy_names(g, out, n_out);
	nd->n_output = n_out;
	nd->name = arena_printf(&g->arena, "%s_%u", op, g->next_id++);
	if (n_attrs > 0) {
		nd->attribute = arena_alloc(&g->arena, n_attrs * sizeof
		    *nd->attribute);
		for (size_t i = 0; nd->attribute && i < n_attrs; i++)
			if ((nd->attribute[i] = attrs[i]) == NULL)
				g->arena.failed = 1;
		nd->n_attribute = n_attrs;
	}
	if (og_failed(g))
		return -1;
	return arena_push(&g->arena, (void ***)&g->graph.node,
	    &g->graph.n_node, &g->cap_node, nd);
}

const char *
og_node(struct onnx_graph *g, const char *op, const char *hint,
    const char *const *in, size_t n_in, Onnx__AttributeProto *const *attrs,
    size_t n_attrs)
{
	const char *out;

	if ((out = og_name(g, hint)) == NULL)
		return NULL;
	if (og_node_named(g, op, in, n_in, &out, 1, attrs, n_attrs) == -1)
		return NULL;
	return out;
}

const char *
og_name(struct onnx_graph *g, const char *hint)
{
	return og_failed(g) ? NULL : arena_printf(&g->arena, "%s_%u", hint,
	    g->next_id++);
}

const char *
og_name_copy(struct onnx_graph *g, const char *name)
{
	return og_failed(g) ? NULL : arena_strdup(&g->arena, name);
}

const char *
og_op1(struct onnx_graph *g, const char *op, const char *hint, const char *a)
{
	return og_node(g, op, hint, (const char *const[]){ a }, 1, NULL, 0);
}

const char *
og_op2(struct onnx_graph *g, const char *op, const char *hint, const char *a,
    const char *b)
{
	return og_node(g, op, hint, (const char *const[]){ a, b }, 2, NULL, 0);
}

const char *
og_op3(struct onnx_graph *g, const char *op, const char *hint, const char *a,
    const char *b, const char *c)
{
	return og_node(g, op, hint, (const char *const[]){ a, b, c }, 3, NULL,
	    0);
}

static const char *
add_const(struct onnx_graph *g, const char *hint, int type, const void *v,
    size_t esize, const int64_t *dims, size_t rank)
{
	Onnx__TensorProto *t = arena_alloc(&g->arena, sizeof *t);
	size_t n = 1;

	if (t == NULL)
		return NULL;
	onnx__tensor_proto__init(t);
	for (size_t i = 0; i < rank; i++)
		n *= (size_t)dims[i];
	t->name = arena_printf(&g->arena, "%s_%u", hint, g->next_id++);
	t->has_data_type = 1;
	t->data_type = type;
	t->dims = arena_alloc(&g->arena, (rank ? rank : 1) * sizeof *dims);
	t->n_dims = rank;
	t->raw_data.data = arena_alloc(&g->arena, n * esize);
	t->raw_data.len = n * esize;
	t->has_raw_data = 1;
	if (t->dims == NULL || t->raw_data.data == NULL || t->name == NULL)
		return NULL;
	if (rank > 0)
		memcpy(t->dims, dims, rank * sizeof *dims);
	memcpy(t->raw_data.data, v, n * esize);	/* little-endian host */
	if (arena_push(&g->arena, (void ***)&g->graph.initializer,
	    &g->graph.n_initializer, &g->cap_init, t) == -1)
		return NULL;
	return t->name;
}

const char *
og_const_f32(struct onnx_graph *g, const char *hint, const float *v,
    const int64_t *dims, size_t rank)
{
	return add_const(g, hint, OG_FLOAT, v, sizeof *v, dims, rank);
}

const char *
og_const_u8(struct onnx_graph *g, const char *hint, const uint8_t *v,
    const int64_t *dims, size_t rank)
{
	return add_const(g, hint, OG_UINT8, v, sizeof *v, dims, rank);
}

int
og_set_domain(struct onnx_graph *g, const char *domain)
{
	Onnx__NodeProto *n;

	if (og_failed(g) || g->graph.n_node == 0)
		return -1;
	n = g->graph.node[g->graph.n_node - 1];
	if ((n->domain = arena_strdup(&g->arena, domain)) == NULL)
		return -1;
	return 0;
}

const char *
og_const_i64(struct onnx_graph *g, const char *hint, const int64_t *v,
    const int64_t *dims, size_t rank)
{
	return add_const(g, hint, OG_INT64, v, sizeof *v, dims, rank);
}

const char *
og_scalar_f32(struct onnx_graph *g, const char *hint, float v)
{
	return og_const_f32(g, hint, &v, NULL, 0);
}

const char *
og_vec_i64(struct onnx_graph *g, const char *hint, const int64_t *v,
    size_t n)
{
	int64_t dim = (int64_t)n;

	return og_const_i64(g, hint, v, &dim, 1);
}

static Onnx__ValueInfoProto *
value_info(struct onnx_graph *g, const char *name, int elem_type,
    const char *const *dims, size_t rank)
{
	struct arena *a = &g->arena;
	Onnx__ValueInfoProto *vi = arena_alloc(a, sizeof *vi);
	Onnx__TypeProto *tp = arena_alloc(a, sizeof *tp);
	Onnx__TypeProto__Tensor *tt = arena_alloc(a, sizeof *tt);
	Onnx__TensorShapeProto *sh = arena_alloc(a, sizeof *sh);

	Onnx__TensorShapeProto__Dimension **dv = arena_alloc(a,
	    (rank ? rank : 1) * sizeof *dv);

	if (vi == NULL || tp == NULL || tt == NULL || sh == NULL || dv == NULL)
		return NULL;
	onnx__value_info_proto__init(vi);
	onnx__type_proto__init(tp);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(sh);
	sh->dim = dv;
	for (size_t i = 0; sh->dim != NULL && i < rank; i++) {
		Onnx__TensorShapeProto__Dimension *d = arena_alloc(a,
		    sizeof *d);
		char *end;
		long long v;

		if ((sh->dim[i] = d) == NULL)
			return NULL;
		onnx__tensor_shape_proto__dimension__init(d);
		v = strtoll(dims[i], &end, 10);
		if (*end == '\0' && end != dims[i]) {
			d->value_case =
			    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			d->dim_value = v;
		} else {
			d->value_case =
			    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			d->dim_param = arena_strdup(a, dims[i]);
		}
	}
	sh->n_dim = rank;
	tt->has_elem_type = 1;
	tt->elem_type = elem_type;
	tt->shape = sh;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	vi->name = arena_strdup(a, name);
	vi->type = tp;
	return og_failed(g) ? NULL : vi;
}

int
og_input(struct onnx_graph *g, const char *name, int elem_type,
    const char *const *dims, size_t rank)
{
	return arena_push(&g->arena, (void ***)&g->graph.input,
	    &g->graph.n_input, &g->cap_in,
	    value_info(g, name, elem_type, dims, rank));
}

int
og_output(struct onnx_graph *g, const char *name, int elem_type,
    const char *const *dims, size_t rank)
{
	return arena_push(&g->arena, (void ***)&g->graph.output,
	    &g->graph.n_output, &g->cap_out,
	    value_info(g, name, elem_type, dims, rank));
}
