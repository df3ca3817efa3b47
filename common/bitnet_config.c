#include "bitnet_config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "jsonio.h"

struct cfg_ctx {
	json_t *root;
	const char *path;
	struct diag *d;
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

static int
get_real(struct cfg_ctx *c, const char *key, double dflt, double *out)
{
	json_t *v = json_object_get(c->root, key);

	if (v == NULL || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_number(v) || json_number_value(v) <= 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: key '%s': expected a positive number, found %s",
		    c->path, key, json_kind(v));
	*out = json_number_value(v);
	return 0;
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
	struct cfg_ctx qc = { q, c->path, c->d };

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

static int
get_identity(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	json_t *arch = json_object_get(c->root, "architectures");

	if (get_string(c, c->root, "model_type", NULL, &m->model_type) == -1)
		return -1;
	if (strcmp(m->model_type, "bitnet") != 0)
		return diag_fail(c->d, BN_EXIT_INPUT,
		    "%s: model_type is '%s', expected 'bitnet'", c->path,
		    m->model_type);
	if (json_is_array(arch) && json_is_string(json_array_get(arch, 0)))
		m->architecture = strdup(json_string_value(
		    json_array_get(arch, 0)));
	else
		m->architecture = strdup("BitNetForCausalLM");
	if (m->architecture == NULL)
		return diag_fail(c->d, BN_EXIT_IO, "out of memory");
	return get_string(c, c->root, "hidden_act", "relu2", &m->hidden_act);
}

static int
get_sizes(struct cfg_ctx *c, Tstream__ModelConfig *m)
{
	if (get_uint(c, "hidden_size", 0, BITNET_MAX_DIM, &m->hidden_size) ||
	    get_uint(c, "num_hidden_layers", 0, BITNET_MAX_LAYERS,
	    &m->num_hidden_layers) ||
	    get_uint(c, "num_attention_heads", 0, BITNET_MAX_DIM,
	    &m->num_attention_heads) ||
	    get_uint(c, "num_key_value_heads", 5, BITNET_MAX_DIM,
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

	if (get_real(c, "rope_theta", 500000.0, &m->rope_theta) == -1 ||
	    get_real(c, "rms_norm_eps", 1e-5, &m->rms_norm_eps) == -1)
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
	    128000;
	m->has_hidden_size = m->has_num_hidden_layers = 1;
	m->has_num_attention_heads = m->has_num_key_value_heads = 1;
	m->has_head_dim = m->has_intermediate_size = m->has_vocab_size = 1;
	m->has_rope_theta = m->has_rms_norm_eps = 1;
	m->has_max_position_embeddings = m->has_tie_word_embeddings = 1;
	m->has_bos_token_id = 1;
	return 0;
}

int
bitnet_config_parse(const char *text, size_t len, const char *path,
    Tstream__ModelConfig **out, struct diag *d)
{
	Tstream__ModelConfig *m;
	struct cfg_ctx c = { NULL, path, d };

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
	if (get_identity(&c, m) == -1 || get_sizes(&c, m) == -1 ||
	    get_scalars(&c, m) == -1 || get_eos(&c, m) == -1 ||
	    get_quant(&c, m) == -1) {
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
	free(c);
}

int
bitnet_config_scale_divides(const Tstream__ModelConfig *c)
{
	return c->linear_class != NULL &&
	    strcmp(c->linear_class, "bitlinear") == 0;
}
