/* SPDX-License-Identifier: ISC */
#include "bitnet_config.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_family.h"
#include "bitnet_names.h"
#include "dtype.h"
#include "io.h"
#include "jsonio.h"

struct cfg_ctx {
	json_t *root;
	const char *path;
	struct diag *d;
	/* the family's row, once get_identity has found it */
	const struct bitnet_family_row *family;
};

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* A positive integer key <= max; dflt 0 means the key is required. */
static int
get_uint(struct cfg_ctx *c, const char *key, uint32_t dflt, uint32_t max,
    uint32_t *out)
{
	json_t *v = json_object_get(c->root, key);

	if (v == NULL || json_is_null(v)) {
		if (dflt == 0)
			return diag_fail(c->d, BN_EXIT_INPUT,
			    "%s: required key '%s' is missing", c->path, key);
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > (json_int_t)max)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key '%s': expected an integer from 1 to %u, found %s",
		    c->path, key, max, json_kind(v));
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* A positive number that float32, in which the graph computes, holds as
 * a normal value (neither 0, subnormal nor infinite once converted). */
static int
real_value(struct cfg_ctx *c, json_t *v, const char *key, double *out)
{
	double x;

	if (!json_is_number(v))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key '%s': expected a positive number, found %s",
		    c->path, key, json_kind(v));
	x = json_number_value(v);
	if (!(x >= FLT_MIN && x <= FLT_MAX))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key '%s' is %g; expected a positive number that "
		    "float32 holds (%g to %g)", c->path, key, x,
		    (double)FLT_MIN, (double)FLT_MAX);
	*out = x;
	return 0;
}

static int
get_real(struct cfg_ctx *c, const char *key, double dflt, double *out)
{
	json_t *v = json_object_get(c->root, key);

	if (v == NULL || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	return real_value(c, v, key, out);
}

static int
get_string(struct cfg_ctx *c, json_t *obj, const char *key, const char *dflt,
    char **out)
{
	json_t *v = json_object_get(obj, key);
	const char *s = dflt;

	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			return diag_fail(c->d, BN_EXIT_INPUT,
			    "%s: key '%s': expected a string, found %s",
			    c->path, key, json_kind(v));
		s = json_string_value(v);
	}
	if (s == NULL)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: required key '%s' is missing", c->path, key);
	if ((*out = strdup(s)) == NULL)
		return diag_fail(c->d, BN_EXIT_IO, "out of memory");
	return 0;
}

static int
get_eos(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	json_t *v = json_object_get(c->root, "eos_token_id");
	size_t n = 1, i;

	if (v != NULL && json_is_array(v))
		n = json_array_size(v);
	else if (v != NULL && !json_is_null(v) && !json_is_integer(v))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key 'eos_token_id': expected an integer or a list, "
		    "found %s", c->path, json_kind(v));
	if ((m->eos_token_id = calloc(n ? n : 1, sizeof(int64_t))) == NULL)
		return diag_fail(c->d, BN_EXIT_IO, "out of memory");
	m->n_eos_token_id = n;
	if (v == NULL || json_is_null(v)) {
		m->eos_token_id[0] = 128001;	/* BitNetConfig default */
		return 0;
	}
	if (json_is_integer(v)) {
		m->eos_token_id[0] = json_integer_value(v);
		return 0;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		if (!json_is_integer(e))
			return diag_fail(c->d, BN_EXIT_INPUT,
			    "%s: key 'eos_token_id': element %zu is %s, "
			    "expected an integer", c->path, i, json_kind(e));
		m->eos_token_id[i] = json_integer_value(e);
	}
	return 0;
}

static int
get_quant(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	json_t *q = json_object_get(c->root, "quantization_config");
	struct cfg_ctx qc = { q, c->path, c->d, c->family };

	if (q == NULL || json_is_null(q))
		return 0;	/* strings stay NULL: not a quantized config */
	if (!json_is_object(q))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key 'quantization_config': expected an object, "
		    "found %s", c->path, json_kind(q));
	if (get_string(&qc, q, "quant_method", NULL, &m->quant_method) == -1 ||
	    get_string(&qc, q, "linear_class", "bitlinear",
	    &m->linear_class) == -1 ||
	    get_string(&qc, q, "quantization_mode", "offline",
	    &m->quantization_mode) == -1)
		return diag_prefix(c->d, "in quantization_config");
	if (strcmp(m->quant_method, "bitnet") != 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: quantization_config.quant_method is '%s', expected "
		    "'bitnet'", c->path, m->quant_method);
	if (strcmp(m->linear_class, "bitlinear") != 0 &&
	    strcmp(m->linear_class, "autobitlinear") != 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: quantization_config.linear_class is '%s', expected "
		    "'bitlinear' or 'autobitlinear'", c->path, m->linear_class);
	if (strcmp(m->quantization_mode, "offline") != 0 &&
	    strcmp(m->quantization_mode, "online") != 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: quantization_config.quantization_mode is '%s', "
		    "expected 'offline' or 'online'", c->path,
		    m->quantization_mode);
	return 0;
}

static int refuse(struct cfg_ctx *c, const char *key, json_t *v,
    const char *why);

/* 1bitLLM's bitnet_b1_58: architecture BitnetForCausalLM (model_type
 * llama), no quantization_config. */
static int
is_onebit(struct cfg_ctx *c, json_t *arch)
{
	json_t *q = json_object_get(c->root, "quantization_config");

	return (q == NULL || json_is_null(q)) && json_is_array(arch) &&
	    json_is_string(json_array_get(arch, 0)) &&
	    strcmp(json_string_value(json_array_get(arch, 0)),
	    bitnet_family_of(BITNET_FAMILY_1BITLLM)->architecture) == 0;
}

/* Its BitLinear: weights of weight_bits 1 (ternary, quantized per tensor
 * from the float masters as it runs, as AutoBitLinear's online mode
 * does) and activations of input_bits 8 (per token, as BitNet's). */
static int
get_onebit(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	const struct bitnet_family_row *f = bitnet_family_of(
	    BITNET_FAMILY_1BITLLM);
	uint32_t wbits, ibits;

	if (get_uint(c, "weight_bits", 1, 64, &wbits) == -1 ||
	    get_uint(c, "input_bits", 8, 64, &ibits) == -1)
		return -1;
	if (wbits != 1)
		return refuse(c, "weight_bits", json_object_get(c->root,
		    "weight_bits"), "1bitLLM's ternary weights are weight_bits "
		    "1; other widths are not implemented");
	if (ibits != 8)
		return refuse(c, "input_bits", json_object_get(c->root,
		    "input_bits"), "the activations are quantized to 8 bits "
		    "only");
	m->architecture = strdup(f->architecture);
	m->quant_method = strdup("bitnet");
	m->linear_class = strdup("autobitlinear");
	m->quantization_mode = strdup("online");
	if (m->architecture == NULL || m->quant_method == NULL ||
	    m->linear_class == NULL || m->quantization_mode == NULL)
		return diag_fail(c->d, BN_EXIT_IO, "out of memory");
	return get_string(c, c->root, "hidden_act", f->hidden_act,
	    &m->hidden_act);
}

static int
get_identity(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	json_t *arch = json_object_get(c->root, "architectures");
	json_t *q = json_object_get(c->root, "quantization_config");
	json_t *method = json_is_object(q) ? json_object_get(q,
	    "quant_method") : NULL;
	const struct bitnet_family_row *f;

	if (get_string(c, c->root, "model_type", NULL, &m->model_type) == -1)
		return -1;
	if ((f = bitnet_family_recognize(m->model_type, NULL)) == NULL)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: model_type is '%s', expected 'bitnet' (or 'llama' "
		    "with BitNet quantization)", c->path, m->model_type);
	if (strcmp(m->model_type, bitnet_family_of(
	    BITNET_FAMILY_1BITLLM)->model_type) == 0 && is_onebit(c, arch))
		return get_onebit(c, m);
	if (f->needs_quant_method && !(json_is_string(method) &&
	    strcmp(json_string_value(method), "bitnet") == 0))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: model_type is '%s' without quantization_config."
		    "quant_method 'bitnet' (nor 1bitLLM's architecture "
		    "BitnetForCausalLM): a plain Llama, not a BitNet model",
		    c->path, m->model_type);
	if (json_is_array(arch) && json_is_string(json_array_get(arch, 0)))
		m->architecture = strdup(json_string_value(
		    json_array_get(arch, 0)));
	else
		m->architecture = strdup(f->architecture);
	if (m->architecture == NULL)
		return diag_fail(c->d, BN_EXIT_IO, "out of memory");
	return get_string(c, c->root, "hidden_act", f->hidden_act,
	    &m->hidden_act);
}

static int
get_sizes(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	const struct bitnet_family_row *f = c->family;

	if (get_uint(c, "hidden_size", 0, BITNET_MAX_DIM, &m->hidden_size) ||
	    get_uint(c, "num_hidden_layers", 0, BITNET_MAX_LAYERS,
	    &m->num_hidden_layers) ||
	    get_uint(c, "num_attention_heads", 0, BITNET_MAX_DIM,
	    &m->num_attention_heads) ||
	    get_uint(c, "num_key_value_heads", json_is_null(json_object_get(
	    c->root, "num_key_value_heads")) || f->kv_heads == 0 ?
	    m->num_attention_heads : f->kv_heads, BITNET_MAX_DIM,
	    &m->num_key_value_heads) ||
	    get_uint(c, "intermediate_size", 0, BITNET_MAX_DIM,
	    &m->intermediate_size) ||
	    get_uint(c, "vocab_size", 0, BITNET_MAX_VOCAB, &m->vocab_size) ||
	    get_uint(c, "max_position_embeddings", 2048, UINT32_MAX / 2,
	    &m->max_position_embeddings))
		return -1;
	if (m->num_attention_heads % m->num_key_value_heads != 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: num_attention_heads %u is not a multiple of "
		    "num_key_value_heads %u", c->path, m->num_attention_heads,
		    m->num_key_value_heads);
	if (json_object_get(c->root, "head_dim") == NULL &&
	    m->hidden_size % m->num_attention_heads != 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: hidden_size %u is not a multiple of "
		    "num_attention_heads %u", c->path, m->hidden_size,
		    m->num_attention_heads);
	return get_uint(c, "head_dim", m->hidden_size / m->num_attention_heads,
	    BITNET_MAX_DIM, &m->head_dim);
}

static int
get_scalars(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	json_t *tie = json_object_get(c->root, "tie_word_embeddings");
	json_t *bos = json_object_get(c->root, "bos_token_id");
	const struct bitnet_family_row *f = c->family;

	/* the defaults of the family's config class */
	if (get_real(c, "rope_theta", f->rope_theta, &m->rope_theta) == -1 ||
	    get_real(c, "rms_norm_eps", f->rms_norm_eps,
	    &m->rms_norm_eps) == -1)
		return -1;
	if (tie != NULL && !json_is_boolean(tie))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key 'tie_word_embeddings': expected a boolean, found "
		    "%s", c->path, json_kind(tie));
	m->tie_word_embeddings = json_is_true(tie);
	if (bos != NULL && !json_is_null(bos) && !json_is_integer(bos))
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key 'bos_token_id': expected an integer, found %s",
		    c->path, json_kind(bos));
	m->bos_token_id = json_is_integer(bos) ? json_integer_value(bos) :
	    f->bos_token_id;
	m->has_hidden_size = m->has_num_hidden_layers = 1;
	m->has_num_attention_heads = m->has_num_key_value_heads = 1;
	m->has_head_dim = m->has_intermediate_size = m->has_vocab_size = 1;
	m->has_rope_theta = m->has_rms_norm_eps = 1;
	m->has_max_position_embeddings = m->has_tie_word_embeddings = 1;
	m->has_bos_token_id = 1;
	return 0;
}

/*
 * The keys transformers' BitNet code (and BitNetQuantConfig) reads that
 * change what it computes, beyond the sizes above: each is implemented or
 * refused here with its name and value.  The keys it reads that leave the
 * logits alone are listed in bitnet-onnx(7); any other key is not read by
 * that code at all.
 */

/* Refuse key (its value v) for the reason why. */
static int
refuse(struct cfg_ctx *c, const char *key, json_t *v, const char *why)
{
	char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	diag_fail(c->d, BN_EXIT_INPUT, "%s: %s is %.200s%s; %s", c->path, key,
	    text ? text : "?", text && strlen(text) > 200 ? "..." : "", why);
	free(text);
	return -1;
}

/* True when v is absent, null or false. */
static int
is_off(json_t *v)
{
	return v == NULL || json_is_null(v) || json_is_false(v);
}

/* A RoPE description that says plain RoPE: {"rope_type": "default"} (or
 * "type"), with rope_theta where allow_theta. */
static int
is_default_rope(json_t *v, int allow_theta)
{
	const char *key;
	json_t *e;

	if (!json_is_object(v))
		return 0;
	json_object_foreach(v, key, e) {
		if ((strcmp(key, "rope_type") == 0 || strcmp(key, "type") == 0)
		    && json_is_string(e) &&
		    strcmp(json_string_value(e), "default") == 0)
			continue;
		if (allow_theta && strcmp(key, "rope_theta") == 0)
			continue;
		return 0;
	}
	return 1;
}

/* rope_scaling of rope_type (or type) llama3. */
static int
is_llama3_rope(json_t *v)
{
	json_t *t = json_is_object(v) ? json_object_get(v, "rope_type") : NULL;

	if (t == NULL && json_is_object(v))
		t = json_object_get(v, "type");
	return json_is_string(t) && strcmp(json_string_value(t), "llama3") == 0;
}

#define LLAMA3_KEYS "a llama3 scaling takes factor, low_freq_factor, " \
	"high_freq_factor and original_max_position_embeddings, all four " \
	"and nothing else"

/* Llama 3's RoPE bands: factor, low_freq_factor, high_freq_factor and
 * original_max_position_embeddings, each required, nothing else. */
static int
get_llama3(struct cfg_ctx *c, json_t *v, Tstream__ModelConfig *m)
{
	struct cfg_ctx sc = { v, c->path, c->d, c->family };
	Tstream__RopeLlama3 *r = calloc(1, sizeof *r);
	const char *key;
	json_t *e;

	if (r == NULL)
		return diag_fail(c->d, BN_EXIT_IO, "out of memory");
	tstream__rope_llama3__init(r);
	m->rope_llama3 = r;
	json_object_foreach(v, key, e)
		if (strcmp(key, "rope_type") != 0 && strcmp(key, "type") != 0 &&
		    strcmp(key, "factor") != 0 &&
		    strcmp(key, "low_freq_factor") != 0 &&
		    strcmp(key, "high_freq_factor") != 0 &&
		    strcmp(key, "original_max_position_embeddings") != 0)
			return refuse(c, "rope_scaling", v, LLAMA3_KEYS);
	if (!json_object_get(v, "factor") ||
	    !json_object_get(v, "low_freq_factor") ||
	    !json_object_get(v, "high_freq_factor"))
		return refuse(c, "rope_scaling", v, LLAMA3_KEYS);
	if (get_real(&sc, "factor", -1, &r->factor) == -1 ||
	    get_real(&sc, "low_freq_factor", -1, &r->low_freq_factor) == -1 ||
	    get_real(&sc, "high_freq_factor", -1, &r->high_freq_factor) ==
	    -1 || get_uint(&sc, "original_max_position_embeddings", 0,
	    UINT32_MAX / 2, &r->original_max_position_embeddings) == -1)
		return diag_prefix(c->d, "in rope_scaling");
	r->has_factor = r->has_low_freq_factor = r->has_high_freq_factor = 1;
	r->has_original_max_position_embeddings = 1;
	if (!(r->factor >= 1) || !(r->low_freq_factor > 0) ||
	    !(r->high_freq_factor > r->low_freq_factor) ||
	    r->original_max_position_embeddings == 0)
		return refuse(c, "rope_scaling", v, "expected factor >= 1, "
		    "0 < low_freq_factor < high_freq_factor and "
		    "original_max_position_embeddings > 0");
	return 0;
}

static int
check_rope(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	json_t *scaling = json_object_get(c->root, "rope_scaling");
	json_t *params = json_object_get(c->root, "rope_parameters");
	json_t *theta, *partial = json_object_get(c->root,
	    "partial_rotary_factor");
	const struct bitnet_family_row *f = c->family;
	char why[96];
	double x;

	/* transformers' RoPE rotates partial_rotary_factor * head_dim of each
	 * head; the graph rotates all of it */
	if (partial != NULL && !json_is_null(partial) &&
	    !(json_is_number(partial) && json_number_value(partial) == 1.0))
		return refuse(c, "partial_rotary_factor", partial, "RoPE over "
		    "part of each head is not implemented (the graph rotates "
		    "the whole head, a factor of 1)");
	if (is_llama3_rope(scaling) && !f->rope_scaling) {
		snprintf(why, sizeof why, "%s's rotary embedding has no "
		    "scaling", f->name);
		return refuse(c, "rope_scaling", scaling, why);
	}
	if (is_llama3_rope(scaling))
		return get_llama3(c, scaling, m);
	if (!is_off(scaling) && !is_default_rope(scaling, 0))
		return refuse(c, "rope_scaling", scaling, "RoPE scaling is "
		    "implemented for rope_type llama3 alone (otherwise the graph "
		    "computes plain RoPE)");
	if (json_is_null(params) || params == NULL)
		return 0;
	if (!is_default_rope(params, 1))
		return refuse(c, "rope_parameters", params, "only plain RoPE "
		    "({\"rope_type\": \"default\", \"rope_theta\": ...}) is "
		    "implemented");
	if ((theta = json_object_get(params, "rope_theta")) == NULL)
		return 0;
	if (real_value(c, theta, "rope_parameters.rope_theta", &x) == -1)
		return -1;
	if (json_object_get(c->root, "rope_theta") != NULL &&
	    x != m->rope_theta)
		return refuse(c, "rope_parameters.rope_theta", theta, "it "
		    "disagrees with the key rope_theta; give one");
	m->rope_theta = x;
	return 0;
}

static int
check_layers(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	const struct bitnet_family_row *f = c->family;
	json_t *v;

	if (strcmp(m->hidden_act, f->hidden_act) != 0)
		return refuse(c, "hidden_act", json_object_get(c->root,
		    "hidden_act"), f->act_why);
	if (f->mlp_bias_key &&
	    !is_off(v = json_object_get(c->root, "mlp_bias")))
		return refuse(c, "mlp_bias", v, "the graph has no projection "
		    "biases");
	if (!is_off(v = json_object_get(c->root, "attention_bias")))
		return refuse(c, "attention_bias", v, "the BitNet graph has no "
		    "projection biases");
	if (m->head_dim % 2 != 0)
		return diag_fail(c->d, BN_EXIT_INPUT, "%s: head_dim %u is odd; "
		    "RoPE rotates the two halves of a head", c->path,
		    m->head_dim);
	if (!f->free_head_dim &&
	    (uint64_t)m->head_dim * m->num_attention_heads != m->hidden_size)
		return diag_fail(c->d, BN_EXIT_INPUT, "%s: head_dim %u times "
		    "num_attention_heads %u is not hidden_size %u, which "
		    "attn_sub_norm normalizes", c->path, m->head_dim,
		    m->num_attention_heads, m->hidden_size);
	return check_rope(c, m);
}

/* quantization_config's keys beyond the three strings get_quant reads. */
static int
check_quant(struct cfg_ctx *c)
{
	json_t *q = json_object_get(c->root, "quantization_config");
	json_t *v, *e;
	size_t i;

	if (!json_is_object(q))
		return 0;
	if (!is_off(v = json_object_get(q, "use_rms_norm")))
		return refuse(c, "quantization_config.use_rms_norm", v, "the "
		    "RMSNorm AutoBitLinear would apply to its input is not "
		    "implemented");
	v = json_object_get(q, "modules_to_not_convert");
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return refuse(c, "quantization_config.modules_to_not_convert",
		    v, "expected a list of names");
	json_array_foreach(v, i, e)
		if (!json_is_string(e) ||
		    strcmp(json_string_value(e), "lm_head") != 0)
			return refuse(c, "quantization_config."
			    "modules_to_not_convert", v, "projections left "
			    "as unquantized Linear layers are not implemented "
			    "(only \"lm_head\", never quantized, may be named)");
	return 0;
}

int
bitnet_config_parse(const char *text, size_t len, const char *path,
    Tstream__ModelConfig **out, struct diag *d)
{
	Tstream__ModelConfig *m;
	struct cfg_ctx c = { NULL, path, d, NULL };

	if ((c.root = jsonio_parse(text, len, path, "the config", d)) == NULL)
		return -1;
	if (!json_is_object(c.root)) {
		diag_fail(d, BN_EXIT_INPUT, "%s: expected a JSON object, "
		    "found %s", path, json_kind(c.root));
		json_decref(c.root);
		return -1;
	}
	if ((m = malloc(sizeof *m)) == NULL) {
		json_decref(c.root);
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	}
	tstream__model_config__init(m);
	if (get_identity(&c, m) == 0)	/* the family, decided once */
		c.family = bitnet_family_of(bitnet_config_family(m));
	if (c.family == NULL || get_sizes(&c, m) == -1 ||
	    get_scalars(&c, m) == -1 || get_eos(&c, m) == -1 ||
	    get_quant(&c, m) == -1 || check_layers(&c, m) == -1 ||
	    check_quant(&c) == -1) {
		json_decref(c.root);
		bitnet_config_free(m);
		return -1;
	}
	json_decref(c.root);
	*out = m;
	return 0;
}

void
bitnet_config_free(Tstream__ModelConfig *c)
{
	if (c == NULL)
		return;
	free(c->model_type);
	free(c->architecture);
	free(c->hidden_act);
	free(c->eos_token_id);
	free(c->quant_method);
	free(c->linear_class);
	free(c->quantization_mode);
	free(c->rope_llama3);
	free(c);
}

int
bitnet_config_scale_divides(const Tstream__ModelConfig *c)
{
	return c->linear_class != NULL &&
	    strcmp(c->linear_class, "bitlinear") == 0;
}

enum bitnet_family
bitnet_config_family(const Tstream__ModelConfig *c)
{
	const struct bitnet_family_row *f = bitnet_family_recognize(
	    c->model_type, c->architecture);

	return f != NULL ? f->id : BITNET_FAMILY_BITNET;
}

int
bitnet_config_check_projection(const Tstream__ModelConfig *c,
    const Tstream__TensorInfo *t, struct diag *d)
{
	const char *mode = c->quantization_mode;
	struct bitnet_name bn;

	bitnet_name_parse(t->name, &bn);
	if (!bn.is_projection)
		return 0;
	if (t->encoding == TSTREAM__ENCODING__TERNARY_HF_PACKED &&
	    mode != NULL && strcmp(mode, "online") == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is packed "
		    "ternary, but quantization_config.quantization_mode is "
		    "'online': transformers would quantize it again and "
		    "ignore its weight_scale; packed weights need 'offline'",
		    t->source, t->name);
	if (t->encoding != TSTREAM__ENCODING__PLAIN)
		return 0;
	if (c->quant_method == NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is %s and "
		    "the config has no quantization_config: transformers runs "
		    "it as a plain Linear layer, without BitNet's weight and "
		    "activation quantization, which is not implemented",
		    t->source, t->name, dtype_name(t->dtype));
	if (mode != NULL && strcmp(mode, "offline") == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is %s, "
		    "not packed ternary, but quantization_config."
		    "quantization_mode is 'offline'; master weights need "
		    "'online'", t->source, t->name,
		    dtype_name(t->dtype));
	if (c->linear_class != NULL && strcmp(c->linear_class,
	    "autobitlinear") != 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is %s "
		    "under quantization_config.linear_class '%s': transformers' "
		    "BitLinear holds packed ternary weights and quantizes none "
		    "as it runs (quantization_mode online is AutoBitLinear's); "
		    "master weights need linear_class 'autobitlinear'",
		    t->source, t->name, dtype_name(t->dtype), c->linear_class);
	return 0;
}
