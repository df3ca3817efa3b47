/* SPDX-License-Identifier: ISC */
#include "onnx_check.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtype.h"
#include "io.h"
#include "onnx_types.h"
#include "strset.h"

/* The operators of the default ONNX domain up to opset 17 (ONNX_OPSET). */
static const char *const standard_ops[] = {
	"Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin",
	"Asinh", "Atan", "Atanh", "AveragePool", "BatchNormalization",
	"Bernoulli", "BitShift", "BlackmanWindow", "Cast", "CastLike", "Ceil",
	"Celu", "Clip", "Compress", "Concat", "ConcatFromSequence", "Constant",
	"ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos",
	"Cosh", "CumSum", "DFT", "DepthToSpace", "DequantizeLinear", "Det",
	"Div", "Dropout", "DynamicQuantizeLinear", "Einsum", "Elu", "Equal",
	"Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather",
	"GatherElements", "GatherND", "Gemm", "GlobalAveragePool",
	"GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual",
	"GridSample", "HammingWindow", "HannWindow", "HardSigmoid", "HardSwish",
	"Hardmax", "Identity", "If", "InstanceNormalization", "IsInf", "IsNaN",
	"LRN", "LSTM", "LayerNormalization", "LeakyRelu", "Less",
	"LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization",
	"LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool", "MaxRoiPool",
	"MaxUnpool", "Mean", "MelWeightMatrix", "Min", "Mod", "Mul",
	"Multinomial", "Neg", "NegativeLogLikelihoodLoss", "NonMaxSuppression",
	"NonZero", "Not", "OneHot", "Optional", "OptionalGetElement",
	"OptionalHasElement", "Or", "PRelu", "Pad", "Pow", "QLinearConv",
	"QLinearMatMul", "QuantizeLinear", "RNN", "RandomNormal",
	"RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range",
	"Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
	"ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
	"ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape",
	"Resize", "ReverseSequence", "RoiAlign", "Round", "STFT", "Scan",
	"Scatter", "ScatterElements", "ScatterND", "Selu", "SequenceAt",
	"SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
	"SequenceLength", "SequenceMap", "Shape", "Shrink", "Sigmoid", "Sign",
	"Sin", "Sinh", "Size", "Slice", "Softmax", "SoftmaxCrossEntropyLoss",
	"Softplus", "Softsign", "SpaceToDepth", "Split", "SplitToSequence",
	"Sqrt", "Squeeze", "StringNormalizer", "Sub", "Sum", "Tan", "Tanh",
	"TfIdfVectorizer", "ThresholdedRelu", "Tile", "TopK", "Transpose",
	"Trilu", "Unique", "Unsqueeze", "Upsample", "Where", "Xor",
};

/* --- model and opset ------------------------------------------------ */

static int
has_opset(const Onnx__ModelProto *mp, const char *domain)
{
	const char *want = domain ? domain : "";

	if (strcmp(want, "ai.onnx") == 0)
		want = "";
	for (size_t i = 0; i < mp->n_opset_import; i++) {
		const char *d = mp->opset_import[i]->domain ?
		    mp->opset_import[i]->domain : "";
		if (strcmp(d, "ai.onnx") == 0)
			d = "";
		if (strcmp(d, want) == 0)
			return 1;
	}
	return 0;
}

static int
check_header(const struct onnx_model *m, struct diag *d)
{
	const Onnx__ModelProto *mp = m->model;

	if (!mp->has_ir_version || mp->ir_version < 3)
		return diag_fail(d, BN_EXIT_INPUT, "%s: no IR version (or "
		    "one before 3)", m->path);
	if (!has_opset(mp, ""))
		return diag_fail(d, BN_EXIT_INPUT, "%s: no opset import for "
		    "the default ONNX domain", m->path);
	if (!m->has_graph)
		return diag_fail(d, BN_EXIT_INPUT, "%s: the model has no graph",
		    m->path);
	if (m->graph->name == NULL || m->graph->name[0] == '\0')
		return diag_fail(d, BN_EXIT_INPUT, "%s: the graph has no name",
		    m->path);
	return 0;
}

static int
check_value_info(const struct onnx_model *m, const Onnx__ValueInfoProto *v,
    const char *what, struct diag *d)
{
	const Onnx__TypeProto *t = v->type;

	if (v->name == NULL || v->name[0] == '\0')
		return diag_fail(d, BN_EXIT_INPUT, "%s: a graph %s without a "
		    "name", m->path, what);
	if (t == NULL || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
	    !t->tensor_type->has_elem_type || t->tensor_type->elem_type == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: graph %s '%s' has no "
		    "tensor element type", m->path, what, v->name);
	return 0;
}

/* --- initializers ----------------------------------------------------- */

static int
init_numel(const struct onnx_model *m, const Onnx__TensorProto *t,
    uint64_t *numel, struct diag *d)
{
	uint64_t n = 1;

	for (size_t i = 0; i < t->n_dims; i++) {
		uint64_t v = (uint64_t)t->dims[i];
		if (t->dims[i] < 0 || (v != 0 && n > UINT64_MAX / v))
			return diag_fail(d, BN_EXIT_INPUT, "%s: initializer "
			    "'%s': bad dims", m->path, t->name);
		n *= v;
	}
	*numel = n;
	return 0;
}

static const char *
external_entry(const Onnx__TensorProto *t, const char *key)
{
	for (size_t i = 0; i < t->n_external_data; i++)
		if (t->external_data[i]->key &&
		    strcmp(t->external_data[i]->key, key) == 0)
			return t->external_data[i]->value;
	return NULL;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* The path of an external data file, refusing absolute and ".." ones. */
static int
external_path(const struct onnx_model *m, const Onnx__TensorProto *t,
    char *buf, size_t len, struct diag *d)
{
	const char *loc = external_entry(t, "location");
	char dir[4096];

	if (loc == NULL || loc[0] == '\0' || loc[0] == '/' ||
	    strstr(loc, "..") != NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': "
		    "external location '%s' is not a path inside the model's "
		    "folder", m->path, t->name, loc ? loc : "");
	return io_join(io_dirname(m->path, dir, sizeof dir), loc, buf, len, d);
}

/* Where an external initializer's bytes are: path, offset, length. */
static int
external_span(const struct onnx_model *m, const Onnx__TensorProto *t,
    char *path, size_t plen, uint64_t *off, uint64_t *len, struct diag *d)
{
	struct stat st;

	if (external_path(m, t, path, plen, d) == -1)
		return -1;
	if (stat(path, &st) == -1)
		return diag_errno(d, "%s: initializer '%s': external data %s",
		    m->path, t->name, path);
	*off = 0;
	if (external_entry(t, "offset") &&
	    parse_u64(external_entry(t, "offset"), off) == -1)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': bad "
		    "external offset", m->path, t->name);
	*len = (uint64_t)st.st_size - (*off < (uint64_t)st.st_size ? *off :
	    (uint64_t)st.st_size);
	if (external_entry(t, "length") &&
	    parse_u64(external_entry(t, "length"), len) == -1)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': bad "
		    "external length", m->path, t->name);
	if (*off > (uint64_t)st.st_size || *len > (uint64_t)st.st_size - *off)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': "
		    "bytes [%llu, %llu) lie past the end of %s (%llu bytes)",
		    m->path, t->name, (unsigned long long)*off,
		    (unsigned long long)(*off + *len), path,
		    (unsigned long long)st.st_size);
	return 0;
}

static uint64_t
typed_count(const Onnx__TensorProto *t)
{
	return t->n_float_data + t->n_int32_data + t->n_int64_data +
	    t->n_double_data + t->n_uint64_data + t->n_string_data;
}

int
onnx_init_is_external(const struct onnx_init *in)
{
	return in->t->has_data_location && in->t->data_location ==
	    ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

int
onnx_init_locate(const struct onnx_model *m, const struct onnx_init *in,
    char *path, size_t plen, uint64_t *off, uint64_t *len, struct diag *d)
{
	if (onnx_init_is_external(in))
		return external_span(m, in->t, path, plen, off, len, d);
	if (!in->has_raw)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s' holds "
		    "typed data, not raw or external bytes", m->path,
		    in->t->name);
	snprintf(path, plen, "%s", m->path);
	*off = in->raw_off;
	*len = in->raw_len;
	return 0;
}

static int
check_init(const struct onnx_model *m, const struct onnx_init *in,
    struct diag *d)
{
	const Onnx__TensorProto *t = in->t;
	uint64_t numel = 0, want, have, off;
	size_t es = onnx_elem_size(t->data_type);
	char path[4096];

	if (t->name == NULL || t->name[0] == '\0')
		return diag_fail(d, BN_EXIT_INPUT, "%s: an initializer without "
		    "a name", m->path);
	if (es == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': data "
		    "type %d is not supported", m->path, t->name, t->data_type);
	if (init_numel(m, t, &numel, d) == -1 || numel > UINT64_MAX / es)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': bad "
		    "dims", m->path, t->name);
	want = numel * es;
	if (onnx_init_is_external(in) || in->has_raw) {
		if (onnx_init_locate(m, in, path, sizeof path, &off, &have,
		    d) == -1)
			return -1;
	} else {
		have = typed_count(t) * es;
	}
	if (have != want)
		return diag_fail(d, BN_EXIT_INPUT, "%s: initializer '%s': %llu "
		    "bytes of data, but dims of %zu axes and type %s need %llu",
		    m->path, t->name, (unsigned long long)have, t->n_dims,
		    onnx_elem_name(t->data_type), (unsigned long long)want);
	return 0;
}

/* --- nodes ------------------------------------------------------------ */

static int
is_standard_op(const char *op)
{
	for (size_t i = 0; i < sizeof standard_ops / sizeof *standard_ops; i++)
		if (strcmp(standard_ops[i], op) == 0)
			return 1;
	return 0;
}

/* Does initializer name exist with this type and these dims? */
static int
init_is(const struct onnx_model *m, const char *name, int type,
    const int64_t *dims, size_t rank)
{
	const struct onnx_init *in = onnx_model_find_init(m, name);

	if (in == NULL || in->t->data_type != type || in->t->n_dims != rank)
		return 0;
	for (size_t i = 0; i < rank; i++)
		if (in->t->dims[i] != dims[i])
			return 0;
	return 1;
}

/* com.microsoft.MatMulNBits as onnx-emit writes it: K, N, bits and
 * block_size that match its B [N, blocks, block * bits / 8] and scales
 * [N, blocks] initializers. */
static int
check_matmulnbits(const struct onnx_model *m, const Onnx__NodeProto *n,
    size_t idx, struct diag *d)
{
	int64_t k = onnx_node_int(n, "K", -1);
	int64_t nn = onnx_node_int(n, "N", -1);
	int64_t bits = onnx_node_int(n, "bits", -1);
	int64_t bs = onnx_node_int(n, "block_size", -1);
	int64_t blocks, b[3], s[2];

	if (bs > ONNX_NBITS_MAX_BLOCK)
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu "
		    "(MatMulNBits): block_size %lld; onnxruntime's MatMulNBits "
		    "takes %d to %d", m->path, idx, (long long)bs,
		    ONNX_NBITS_MIN_BLOCK, ONNX_NBITS_MAX_BLOCK);
	if (k < 1 || nn < 1 || bits < 2 || bits > 8 ||
	    bs < ONNX_NBITS_MIN_BLOCK || (bs & (bs - 1)) || n->n_input < 3)
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu "
		    "(MatMulNBits): K %lld, N %lld, bits %lld, block_size "
		    "%lld and %zu inputs are not a valid set", m->path, idx,
		    (long long)k, (long long)nn, (long long)bits,
		    (long long)bs, n->n_input);
	blocks = (k + bs - 1) / bs;
	b[0] = s[0] = nn;
	b[1] = s[1] = blocks;
	b[2] = bs * bits / 8;
	if (!init_is(m, n->input[1], ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, b,
	    3) || !init_is(m, n->input[2], ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
	    s, 2))
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu "
		    "(MatMulNBits): weights '%s' must be uint8 [%lld,%lld,%lld] "
		    "and scales '%s' float32 [%lld,%lld] for K %lld, N %lld, "
		    "bits %lld, block_size %lld", m->path, idx, n->input[1],
		    (long long)nn, (long long)blocks, (long long)b[2],
		    n->input[2], (long long)nn, (long long)blocks,
		    (long long)k, (long long)nn, (long long)bits,
		    (long long)bs);
	return 0;
}

/* The fixed size of axis of the graph input name, or -1 when name is no
 * graph input or that size is not fixed. */
static int64_t
input_dim(const struct onnx_model *m, const char *name, size_t axis)
{
	const Onnx__GraphProto *g = m->graph;

	for (size_t i = 0; i < g->n_input; i++) {
		const Onnx__TypeProto *t = g->input[i]->type;
		const Onnx__TensorShapeProto *s;

		if (strcmp(g->input[i]->name, name) != 0)
			continue;
		if (t == NULL || t->tensor_type == NULL ||
		    (s = t->tensor_type->shape) == NULL || axis >= s->n_dim ||
		    s->dim[axis]->value_case !=
		    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
			return -1;
		return s->dim[axis]->dim_value;
	}
	return -1;
}

/* com.microsoft.GroupQueryAttention: heads that group evenly, and a head
 * size (the past key's last axis, where the graph fixes it) that is a
 * multiple of 8, which onnxruntime's kernels need. */
static int
check_gqa(const struct onnx_model *m, const Onnx__NodeProto *n, size_t idx,
    struct diag *d)
{
	int64_t heads = onnx_node_int(n, "num_heads", -1);
	int64_t kv = onnx_node_int(n, "kv_num_heads", -1);
	int64_t hd = n->n_input > 3 ? input_dim(m, n->input[3], 3) : -1;

	if (hd != -1 && (hd < 1 || hd % 8 != 0))
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu "
		    "(GroupQueryAttention): head size %lld (the last axis of "
		    "'%s'); onnxruntime's GroupQueryAttention takes a multiple "
		    "of 8", m->path, idx, (long long)hd, n->input[3]);

	if (heads < 1 || kv < 1 || heads % kv != 0 || n->n_input < 7 ||
	    n->n_output < 3)
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu "
		    "(GroupQueryAttention): num_heads %lld, kv_num_heads %lld, "
		    "%zu inputs and %zu outputs; expected heads that group "
		    "evenly, 7 inputs and 3 outputs", m->path, idx,
		    (long long)heads, (long long)kv, n->n_input, n->n_output);
	return 0;
}

/* com.microsoft.GatherBlockQuantized: 4- or 8-bit uint8 data as an
 * initializer, gathered along axis 0 and quantized along its last. */
static int
check_gbq(const struct onnx_model *m, const Onnx__NodeProto *n, size_t idx,
    struct diag *d)
{
	int64_t bits = onnx_node_int(n, "bits", -1);
	int64_t bs = onnx_node_int(n, "block_size", -1);
	int64_t qaxis = onnx_node_int(n, "quantize_axis", -1);
	const struct onnx_init *data = n->n_input >= 3 ?
	    onnx_model_find_init(m, n->input[0]) : NULL;

	if ((bits != 4 && bits != 8) || bs < 16 || (bs & (bs - 1)) ||
	    onnx_node_int(n, "gather_axis", -1) > 0 || data == NULL ||
	    data->t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 ||
	    qaxis != (int64_t)data->t->n_dims - 1)
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu "
		    "(GatherBlockQuantized): expected uint8 data as an "
		    "initializer, bits 4 or 8, a block size that is a power of "
		    "two from 16, gather axis 0 and the last quantize axis",
		    m->path, idx);
	return 0;
}

/* The operators of onnxruntime's contrib domain that onnx-emit writes. */
static const struct {
	const char *op;
	int (*check)(const struct onnx_model *, const Onnx__NodeProto *,
	    size_t, struct diag *);
} contrib_ops[] = {
	{ "MatMulNBits", check_matmulnbits },
	{ "GroupQueryAttention", check_gqa },
	{ "GatherBlockQuantized", check_gbq },
};

static int
check_domain_op(const struct onnx_model *m, const Onnx__NodeProto *n,
    size_t idx, const char *dom, const char *op, struct diag *d)
{
	if (dom[0] == '\0' || strcmp(dom, "ai.onnx") == 0)
		return is_standard_op(op) ? 0 : diag_fail(d, BN_EXIT_INPUT,
		    "%s: node %zu: '%s' is not a standard ONNX operator",
		    m->path, idx, op);
	for (size_t i = 0; strcmp(dom, ONNX_MS_DOMAIN) == 0 &&
	    i < sizeof contrib_ops / sizeof *contrib_ops; i++)
		if (strcmp(op, contrib_ops[i].op) == 0)
			return contrib_ops[i].check(m, n, idx, d);
	return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu: '%s' of domain "
	    "'%s' is not an operator onnx-verify knows", m->path, idx, op,
	    dom);
}

static int
check_node(const struct onnx_model *m, const Onnx__NodeProto *n, size_t idx,
    struct strset *defined, struct diag *d)
{
	const char *dom = n->domain ? n->domain : "";
	const char *op = n->op_type ? n->op_type : "";

	if (!has_opset(m->model, dom))
		return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu (%s) uses "
		    "domain '%s', which the model does not import", m->path,
		    idx, op, dom);
	if (check_domain_op(m, n, idx, dom, op, d) == -1)
		return -1;
	for (size_t i = 0; i < n->n_input; i++)
		if (n->input[i][0] != '\0' && !strset_has(defined, n->input[i]))
			return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu (%s "
			    "'%s'): input '%s' is not defined before it",
			    m->path, idx, op, n->name ? n->name : "",
			    n->input[i]);
	for (size_t i = 0; i < n->n_output; i++) {
		int r = n->output[i][0] ? strset_add(defined, n->output[i]) : 1;
		if (r == -1)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		if (r == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: node %zu (%s): "
			    "output '%s' is defined twice", m->path, idx, op,
			    n->output[i]);
	}
	return 0;
}

static int
define_sources(const struct onnx_model *m, struct strset *defined,
    struct diag *d)
{
	const Onnx__GraphProto *g = m->graph;

	for (size_t i = 0; i < g->n_input; i++) {
		if (check_value_info(m, g->input[i], "input", d) == -1)
			return -1;
		if (strset_add(defined, g->input[i]->name) != 1)
			return diag_fail(d, BN_EXIT_INPUT, "%s: graph input "
			    "'%s' is defined twice", m->path,
			    g->input[i]->name);
	}
	for (size_t i = 0; i < m->n_inits; i++) {
		if (check_init(m, &m->inits[i], d) == -1)
			return -1;
		if (strset_add(defined, m->inits[i].t->name) != 1)
			return diag_fail(d, BN_EXIT_INPUT, "%s: initializer "
			    "'%s' is defined twice", m->path,
			    m->inits[i].t->name);
	}
	return 0;
}

int
onnx_check_model(const struct onnx_model *m, struct diag *d)
{
	const Onnx__GraphProto *g;
	struct strset defined = { 0 };
	int rc;

	if (check_header(m, d) == -1)
		return -1;
	g = m->graph;
	rc = define_sources(m, &defined, d);
	for (size_t i = 0; rc == 0 && i < g->n_node; i++)
		rc = check_node(m, g->node[i], i, &defined, d);
	for (size_t i = 0; rc == 0 && i < g->n_output; i++) {
		rc = check_value_info(m, g->output[i], "output", d);
		if (rc == 0 && !strset_has(&defined, g->output[i]->name))
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: graph output "
			    "'%s' is never produced", m->path,
			    g->output[i]->name);
	}
	strset_free(&defined);
	return rc;
}
