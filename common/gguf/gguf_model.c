/* SPDX-License-Identifier: ISC */
#include "gguf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "gguf_proj.h"
#include "gguf_tokenizer.h"
#include "io.h"

/* llama.cpp's names of the layer tensors, by part. */
static const char *const gguf_parts[BITNET_LAYER_TENSORS] = {
	[BITNET_INPUT_NORM] = "attn_norm",
	[BITNET_Q_PROJ] = "attn_q",
	[BITNET_K_PROJ] = "attn_k",
	[BITNET_V_PROJ] = "attn_v",
	[BITNET_ATTN_SUB_NORM] = "attn_sub_norm",
	[BITNET_O_PROJ] = "attn_output",
	[BITNET_POST_NORM] = "ffn_norm",
	[BITNET_GATE_PROJ] = "ffn_gate",
	[BITNET_UP_PROJ] = "ffn_up",
	[BITNET_FFN_SUB_NORM] = "ffn_sub_norm",
	[BITNET_DOWN_PROJ] = "ffn_down",
};

/* The architectures bitnet.cpp's converters write, by the family each
 * holds.  llama.cpp computes the llama architecture's RoPE on adjacent
 * pairs, so its converter interleaves the rows of q and k (gguf_proj.h);
 * the BitNet architectures keep Hugging Face's rotate-half order. */
struct gguf_arch {
	const char *name;
	enum bitnet_family family;
	int interleaved_qk;
	int key_length;		/* heads are attention.key_length long, not
				 * embedding_length / head_count */
};

static const struct gguf_arch archs[] = {
	{ "bitnet-b1.58", BITNET_FAMILY_BITNET, 0, 0 },	/* the 2B4T GGUF */
	{ "bitnet-25", BITNET_FAMILY_BITNET, 0, 0 },	/* its converter today */
	{ "bitnet", BITNET_FAMILY_1BITLLM, 0, 0 },
	{ "llama", BITNET_FAMILY_LLAMA, 1, 1 },
};
#define N_ARCHS (sizeof archs / sizeof *archs)

const char *
gguf_arch_names(char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_ARCHS && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s'%s'",
		    i ? ", " : "", archs[i].name);
	return buf;
}

/* Copy a fixed name into buf; -1 if it does not fit. */
static int
copy_name(const char *name, char *buf, size_t len)
{
	return snprintf(buf, len, "%s", name) < (int)len ? 0 : -1;
}

/* "blk.N.PART.weight" as llama.cpp names a layer tensor: N in decimal as
 * it prints it (no sign, no leading zero, below 2^20), PART of [a-z_];
 * -1 for any other name. */
static int
parse_layer(const char *name, unsigned *layer, char *part, size_t len)
{
	const char *p = name + 4, *dot;
	unsigned long v = 0;
	size_t n;

	if (strncmp(name, "blk.", 4) != 0 || *p < '0' || *p > '9' ||
	    (p[0] == '0' && p[1] != '.'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (unsigned long)(*p - '0')) >= 1u << 20)
			return -1;
	if (*p++ != '.' || (dot = strchr(p, '.')) == NULL ||
	    strcmp(dot, ".weight") != 0 || (n = (size_t)(dot - p)) == 0 ||
	    n >= len || strspn(p, "abcdefghijklmnopqrstuvwxyz_") != n)
		return -1;
	memcpy(part, p, n);
	part[n] = '\0';
	*layer = (unsigned)v;
	return 0;
}

int
gguf_hf_name(enum bitnet_family f, const char *name, char *buf, size_t len)
{
	unsigned layer;
	char part[64];

	if (strcmp(name, "token_embd.weight") == 0)
		return copy_name(BITNET_EMBED_NAME, buf, len);
	if (strcmp(name, "output_norm.weight") == 0)
		return copy_name(BITNET_NORM_NAME, buf, len);
	if (strcmp(name, "output.weight") == 0)
		return copy_name(BITNET_HEAD_NAME, buf, len);
	if (parse_layer(name, &layer, part, sizeof part) == -1)
		return -1;
	for (int i = 0; i < BITNET_LAYER_TENSORS; i++)
		if (strcmp(part, gguf_parts[i]) == 0) {
			if (len < BITNET_NAME_MAX ||
			    !bitnet_family_has_part(f, (enum bitnet_layer_part)i))
				return -1;
			bitnet_layer_name(f, layer, (enum bitnet_layer_part)i,
			    buf, len);
			return 0;
		}
	return -1;
}

static json_t *
arch_key(const struct gguf_model *m, const char *key)
{
	char full[128];

	snprintf(full, sizeof full, "%s.%s", m->arch->name, key);
	return json_object_get(m->g.kv, full);
}

static const struct gguf_tensor *
find_tensor(const struct gguf_file *g, const char *name)
{
	for (size_t i = 0; i < g->n_tensors; i++)
		if (strcmp(g->tensors[i].name, name) == 0)
			return &g->tensors[i];
	return NULL;
}

/* What the config.json of m's family says beside the sizes: its
 * identity, then its row's config keys. */
static json_t *
family_config(const struct gguf_model *m)
{
	const struct bitnet_family_row *f = bitnet_family_of(m->arch->family);
	int tied = find_tensor(&m->g, "output.weight") == NULL;
	json_t *c = json_pack("{s:[s], s:s, s:s, s:b}", "architectures",
	    f->architecture, "model_type", f->model_type, "hidden_act",
	    f->hidden_act, "tie_word_embeddings", tied);
	json_t *keys = json_loads(f->config_keys, 0, NULL);

	if (c == NULL || keys == NULL || json_object_update(c, keys) == -1) {
		json_decref(c);
		c = NULL;
	}
	json_decref(keys);
	return c;
}

/* config.json for the stream, from the GGUF hyper-parameters. */
static json_t *
make_config(const struct gguf_model *m)
{
	const struct gguf_tensor *emb = find_tensor(&m->g, "token_embd.weight");
	json_t *vocab = arch_key(m, "vocab_size");
	json_t *kv = arch_key(m, "attention.head_count_kv");
	json_t *c = family_config(m);

	if (c == NULL)
		return NULL;
#define COPY(hf, key) do { json_t *v_ = arch_key(m, key); \
	if (v_ != NULL) json_object_set(c, hf, v_); } while (0)
	COPY("hidden_size", "embedding_length");
	COPY("num_hidden_layers", "block_count");
	COPY("intermediate_size", "feed_forward_length");
	COPY("num_attention_heads", "attention.head_count");
	COPY("rope_theta", "rope.freq_base");
	COPY("rms_norm_eps", "attention.layer_norm_rms_epsilon");
	COPY("max_position_embeddings", "context_length");
	if (m->arch->key_length)	/* a free head length */
		COPY("head_dim", "attention.key_length");
#undef COPY
	/* llama.cpp's loader, which bitnet.cpp's is, takes 10000 when the
	 * file has no rope.freq_base */
	if (arch_key(m, "rope.freq_base") == NULL)
		json_object_set_new(c, "rope_theta", json_real(10000.0));
	json_object_set(c, "num_key_value_heads", kv ? kv :
	    arch_key(m, "attention.head_count"));
	if (vocab != NULL)
		json_object_set(c, "vocab_size", vocab);
	else if (emb != NULL && emb->n_dims == 2)
		json_object_set_new(c, "vocab_size",
		    json_integer((json_int_t)emb->dims[1]));
	if (json_object_get(m->g.kv, "tokenizer.ggml.bos_token_id"))
		json_object_set(c, "bos_token_id", json_object_get(m->g.kv,
		    "tokenizer.ggml.bos_token_id"));
	if (json_object_get(m->g.kv, "tokenizer.ggml.eos_token_id"))
		json_object_set(c, "eos_token_id", json_object_get(m->g.kv,
		    "tokenizer.ggml.eos_token_id"));
	return c;
}

/* A head length llama.cpp reads (key or value): the graph's heads are
 * attention.key_length long in the llama architecture, else
 * embedding_length / head_count. */
static int
check_head_length(const struct gguf_model *m, const char *key,
    struct diag *d)
{
	json_t *v = arch_key(m, key);

	if (v == NULL || (json_is_integer(v) && json_integer_value(v) ==
	    (json_int_t)m->config->head_dim))
		return 0;
	return diag_fail(d, BN_EXIT_INPUT, "%s: %s.%s is %lld; the graph's "
	    "heads are %s = %u long", m->g.path, m->arch->name, key,
	    json_is_integer(v) ? (long long)json_integer_value(v) : -1LL,
	    m->arch->key_length ? "attention.key_length" :
	    "embedding_length / head_count", m->config->head_dim);
}

/* The RoPE scaling llama.cpp's loader reads: rope.scaling.type (linear
 * when absent), its factor from rope.scaling.factor, or when that is
 * absent or 0 from the older rope.scale_linear; no scaling for type none
 * or a factor of 1 (what bitnet.cpp's converter writes for 1bitLLM),
 * which is the plain RoPE the graph computes. */
static int
check_rope_scaling(const struct gguf_model *m, struct diag *d)
{
	json_t *type = arch_key(m, "rope.scaling.type");
	json_t *factor = arch_key(m, "rope.scaling.factor");
	const char *t = json_is_string(type) ? json_string_value(type) :
	    "linear", *key = "rope.scaling.factor";
	double f = 0.0;

	if (type != NULL && !json_is_string(type))
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s.rope.scaling.type is "
		    "not a string", m->g.path, m->arch->name);
	if (strcmp(t, "none") == 0)
		return 0;
	if (factor != NULL && !json_is_number(factor))
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s.rope.scaling.factor "
		    "is not a number", m->g.path, m->arch->name);
	if (factor != NULL)
		f = json_number_value(factor);
	if (f == 0.0 && (factor = arch_key(m, "rope.scale_linear")) != NULL) {
		key = "rope.scale_linear";
		f = json_is_number(factor) ? json_number_value(factor) : -1.0;
	}
	if ((factor == NULL || f == 0.0 || f == 1.0) &&
	    strcmp(t, "linear") == 0)
		return 0;
	if (strcmp(t, "linear") == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s.%s is %g, which "
		    "llama.cpp applies as linear RoPE scaling; implemented for "
		    "a factor of 1 alone", m->g.path, m->arch->name, key, f);
	return diag_fail(d, BN_EXIT_INPUT, "%s: %s.rope.scaling.type is '%s'; "
	    "RoPE scaling is not implemented", m->g.path, m->arch->name, t);
}

/* The RoPE keys llama.cpp reads beside freq_base: plain RoPE, and every
 * dimension of a head rotated, as the graph computes. */
static int
check_rope(const struct gguf_model *m, struct diag *d)
{
	json_t *dims = arch_key(m, "rope.dimension_count");

	if (check_rope_scaling(m, d) == -1)
		return -1;
	if (dims != NULL && (!json_is_integer(dims) ||
	    json_integer_value(dims) != (json_int_t)m->config->head_dim))
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s.rope.dimension_count "
		    "is %lld; the graph rotates all %u dimensions of a head",
		    m->g.path, m->arch->name, json_is_integer(dims)
		    ? (long long)json_integer_value(dims) : -1LL,
		    m->config->head_dim);
	return check_head_length(m, "attention.key_length", d) == -1 ? -1 :
	    check_head_length(m, "attention.value_length", d);
}

static int
load_config(struct gguf_model *m, struct diag *d)
{
	json_t *arch = json_object_get(m->g.kv, "general.architecture");
	json_t *c;
	char name[512], names[128];

	for (size_t i = 0; json_is_string(arch) && i < N_ARCHS; i++)
		if (strcmp(json_string_value(arch), archs[i].name) == 0)
			m->arch = &archs[i];
	if (m->arch == NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: general.architecture is "
		    "'%s'; gguf-read reads %s models", m->g.path,
		    json_is_string(arch) ? json_string_value(arch) : "(none)",
		    gguf_arch_names(names, sizeof names));
	/* llama.cpp's loader takes no default for it */
	if (arch_key(m, "attention.layer_norm_rms_epsilon") == NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: no %s.attention."
		    "layer_norm_rms_epsilon, which llama.cpp's loader requires "
		    "(and gguf-read does not guess)", m->g.path,
		    m->arch->name);
	if ((c = make_config(m)) == NULL ||
	    (m->config_json = json_dumps(c, JSON_INDENT(2))) == NULL) {
		json_decref(c);
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	}
	json_decref(c);
	snprintf(name, sizeof name, "%s (metadata)", m->g.path);
	if (bitnet_config_parse(m->config_json, strlen(m->config_json),
	    name, &m->config, d) == -1)
		return -1;
	return check_rope(m, d);
}

/* Side file name holding text (adopted). */
static void
add_side(struct gguf_model *m, const char *name, char *text)
{
	Tstream__SideFile *f = &m->side[m->n_side];

	tstream__side_file__init(f);
	f->name = (char *)name;
	f->has_content = 1;
	f->content.data = (uint8_t *)text;
	f->content.len = strlen(text);
	m->side_ptrs[m->n_side++] = f;
}

/* The tokenizer metadata as tokenizer.gguf.json, and as Hugging Face's
 * tokenizer.json and tokenizer_config.json where it converts. */
static int
load_tokenizer(struct gguf_model *m, struct diag *d)
{
	json_t *tok = json_object(), *v;
	const char *key;
	char *text, *hf, *cfg;
	char why[400];	/* not converted: gguf-read(1) says when */

	if (tok == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	json_object_foreach(m->g.kv, key, v)
		if (strncmp(key, "tokenizer.", 10) == 0)
			json_object_set(tok, key, v);
	text = json_object_size(tok) ? json_dumps(tok, JSON_COMPACT) : NULL;
	json_decref(tok);
	if (text == NULL)
		return 0;
	add_side(m, "tokenizer.gguf.json", text);
	if (json_array_size(v = json_object_get(m->g.kv,
	    "tokenizer.ggml.tokens")) > m->config->vocab_size)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tokenizer.ggml.tokens "
		    "holds %zu tokens, more than the %u rows of the embedding: "
		    "the tokenizer would give ids the model has no row for",
		    m->g.path, json_array_size(v), m->config->vocab_size);
	switch (gguf_tokenizer_convert(m->g.kv, &hf, &cfg, why, sizeof why)) {
	case 1:
		add_side(m, "tokenizer.json", hf);
		add_side(m, "tokenizer_config.json", cfg);
		return 0;
	case 0:
		snprintf(m->tokenizer_note, sizeof m->tokenizer_note, "%s: no "
		    "tokenizer.json: %s", m->g.path, why);
		return 0;
	default:
		return diag_fail(d, BN_EXIT_IO, "%s: out of memory writing the "
		    "tokenizer as tokenizer.json", m->g.path);
	}
}

/* A projection of it as gguf_proj.h reads it. */
static void
item_proj(const struct gguf_model *m, const struct gguf_item *it,
    struct gguf_proj *p)
{
	p->g = &m->g;
	p->t = it->t;
	p->type = it->type;
	p->rows = it->shape[0];
	p->cols = it->shape[1];	/* a matrix: describe_projection checked */
	p->heads = it->heads;
}

/* A projection: passed on as I2_S, or re-packed as it (gguf_proj.h). */
static int
describe_projection(struct gguf_model *m, struct gguf_item *it,
    struct diag *d)
{
	struct bitnet_name bn;
	struct gguf_proj p;

	bitnet_name_parse(it->hf_name, &bn);
	if (!bn.is_projection)
		return 0;
	if (m->arch->interleaved_qk && bn.part == BITNET_Q_PROJ)
		it->heads = m->config->num_attention_heads;
	if (m->arch->interleaved_qk && bn.part == BITNET_K_PROJ)
		it->heads = m->config->num_key_value_heads;
	if (it->t->n_dims != 2)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' has %u "
		    "dimensions; a projection is a matrix", m->g.path,
		    it->t->name, it->t->n_dims);
	item_proj(m, it, &p);
	if (gguf_proj_check(&p, d) == -1)
		return -1;
	if ((it->repack = gguf_proj_repacks(&p))) {
		it->info.encoding = TSTREAM__ENCODING__TERNARY_I2S;
		it->info.dtype = TSTREAM__DTYPE__U8;
		it->info.payload_length = gguf_proj_payload(&p);
	}
	return 0;
}

static int
describe(struct gguf_model *m, const struct gguf_tensor *t,
    struct gguf_item *it, struct diag *d)
{
	char hf[256];

	if (strcmp(t->name, "rope_freqs.weight") == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': llama.cpp's "
		    "per-dimension RoPE frequency factors are not implemented",
		    m->g.path, t->name);
	if (gguf_hf_name(m->arch->family, t->name, hf, sizeof hf) == -1)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is not one "
		    "of a %s model", m->g.path, t->name, m->arch->name);
	if ((it->hf_name = strdup(hf)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	it->t = t;
	tstream__tensor_info__init(&it->info);
	for (uint32_t i = 0; i < t->n_dims; i++)	/* outer first */
		it->shape[i] = t->dims[t->n_dims - 1 - i];
	it->info.name = it->hf_name;
	it->info.source = m->g.path;
	it->info.shape = it->shape;
	it->info.n_shape = t->n_dims;
	it->info.has_dtype = it->info.has_encoding = 1;
	it->type = ggml_type_of(t->type);	/* gguf_open checked it */
	it->info.has_payload_length = 1;
	it->info.payload_length = t->size;
	if (it->type->dequant != NULL)	/* to float32 */
		it->info.payload_length = t->size / it->type->block_bytes *
		    it->type->block * 4;
	it->info.encoding = it->type->encoding;
	it->info.dtype = it->type->dtype;
	if (describe_projection(m, it, d) == 0)
		return 0;
	free(it->hf_name);	/* not counted in m->n_items yet */
	it->hf_name = NULL;
	return -1;
}

static int
cmp_item(const void *a, const void *b)
{
	return bitnet_name_cmp(((const struct gguf_item *)a)->hf_name,
	    ((const struct gguf_item *)b)->hf_name);
}

int
gguf_model_open(struct gguf_model *m, const char *path, struct diag *d)
{
	memset(m, 0, sizeof *m);
	if (gguf_open(&m->g, path, d) == -1 || load_config(m, d) == -1 ||
	    load_tokenizer(m, d) == -1)
		return -1;
	if ((m->items = calloc(m->g.n_tensors + 1, sizeof *m->items)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < m->g.n_tensors; i++, m->n_items++)
		if (describe(m, &m->g.tensors[i], &m->items[i], d) == -1)
			return -1;
	qsort(m->items, m->n_items, sizeof *m->items, cmp_item);
	for (size_t i = 0; i < m->n_items; i++)	/* moved by qsort */
		m->items[i].info.shape = m->items[i].shape;
	for (size_t i = 1; i < m->n_items; i++)
		if (strcmp(m->items[i - 1].hf_name, m->items[i].hf_name) == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' "
			    "appears twice", path, m->items[i].t->name);
	return 0;
}

void
gguf_model_table(struct gguf_model *m, struct model_table *t)
{
	*t = (struct model_table){ .path = m->g.path,
	    .config_json = m->config_json, .config = m->config,
	    .side_files = m->side_ptrs, .n_side_files = m->n_side,
	    .tensors = MODEL_ROWS(m->items, m->n_items, struct gguf_item,
	    info) };
}

/* A block-quantized tensor, dequantized a chunk of whole blocks at a
 * time: raw (TSTREAM_CHUNK bytes) holds the blocks, f their values. */
static int
write_dequantized(const struct gguf_model *m, const struct gguf_item *it,
    struct tstream_writer *w, uint8_t *raw, struct diag *d)
{
	const struct ggml_type *g = it->type;
	uint64_t per = TSTREAM_CHUNK / ((uint64_t)g->block * sizeof(float));
	uint64_t blocks = it->t->size / g->block_bytes;
	uint64_t base = m->g.data_start + it->t->offset;
	float *f = io_alloc(per * g->block * sizeof *f, it->hf_name, d);
	int rc = f ? 0 : -1;

	for (uint64_t b = 0; rc == 0 && b < blocks; b += per) {
		uint64_t n = blocks - b < per ? blocks - b : per;

		rc = io_pread_full(m->g.fd, raw, n * g->block_bytes,
		    base + b * g->block_bytes, m->g.path, d);
		for (uint64_t k = 0; rc == 0 && k < n; k++)
			g->dequant(raw + k * g->block_bytes, f + k * g->block);
		if (rc == 0)
			rc = tstream_write_payload(w, f, n * g->block *
			    sizeof *f, d);
	}
	free(f);
	return rc;
}

int
gguf_model_write_tensor(const struct gguf_model *m, size_t i,
    struct tstream_writer *w, void *buf, struct diag *d)
{
	const struct gguf_item *it = &m->items[i];
	uint64_t len = it->t->size, base = m->g.data_start + it->t->offset;

	if (it->repack) {
		struct gguf_proj p;

		item_proj(m, it, &p);
		return gguf_proj_write(&p, &it->info, w, d);
	}
	if (tstream_begin_tensor(w, &it->info, d) == -1)
		return -1;
	if (it->type->dequant != NULL)
		return write_dequantized(m, it, w, buf, d) == -1 ? -1 :
		    tstream_end_tensor(w, d);
	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < TSTREAM_CHUNK ? (size_t)(len - off) :
		    TSTREAM_CHUNK;
		if (io_pread_full(m->g.fd, buf, n, base + off, m->g.path,
		    d) == -1 || tstream_write_payload(w, buf, n, d) == -1)
			return -1;
		off += n;
	}
	return tstream_end_tensor(w, d);
}

void
gguf_model_close(struct gguf_model *m)
{
	for (size_t i = 0; i < m->n_items; i++)
		free(m->items[i].hf_name);
	free(m->items);
	for (size_t i = 0; i < m->n_side; i++)
		free(m->side[i].content.data);
	bitnet_config_free(m->config);
	free(m->config_json);
	gguf_close(&m->g);
	memset(m, 0, sizeof *m);
}

/* --- the model source ------------------------------------------------ */

static int
src_open(void *src, const char *model, const char *config, struct diag *d)
{
	(void)config;	/* the GGUF holds it */
	return gguf_model_open(src, model, d);
}

static void
src_table(void *src, struct model_table *t)
{
	gguf_model_table(src, t);
}

static int
src_write(void *src, const size_t *kept, size_t n, struct tstream_writer *w,
    struct diag *d)
{
	const struct gguf_model *m = src;
	void *buf = io_alloc(TSTREAM_CHUNK, "payload buffer", d);
	int rc = buf ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = gguf_model_write_tensor(m, kept[i], w, buf, d);
	free(buf);
	return rc;
}

static const char *
src_note(const void *src)
{
	const struct gguf_model *m = src;

	return m->tokenizer_note[0] ? m->tokenizer_note : NULL;
}

static void
src_close(void *src)
{
	gguf_model_close(src);
}

const struct model_source gguf_model_source = {
	"gguf-read", 0, sizeof(struct gguf_model), src_open, src_table,
	src_write, src_close, src_note
};
