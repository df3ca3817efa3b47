/* SPDX-License-Identifier: ISC */
#include "gguf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Llama 3's pre-tokenizer split pattern, as its tokenizer.json gives it. */
#define LLAMA3_SPLIT \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
	"\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
	"\\s+(?!\\S)|\\s+"

/* llama.cpp's token types. */
#define TOKEN_CONTROL		3
#define TOKEN_USER_DEFINED	4

/* The pre-tokenizers converted: Llama 3's (its split, whole words of the
 * vocabulary taken before any merge, a BOS by default) or GPT-2's. */
static const struct {
	const char *name;
	int llama3;
} pres[] = {
	{ "llama-bpe", 1 },
	{ "llama3", 1 },
	{ "gpt-2", 0 },
};

struct tok {
	json_t *kv;
	json_t *tokens, *types, *merges;
	int llama3, add_bos;
	json_int_t bos, eos;
};

static json_t *
key(const struct tok *t, const char *name)
{
	char full[96];

	snprintf(full, sizeof full, "tokenizer.ggml.%s", name);
	return json_object_get(t->kv, full);
}

static json_t *
byte_level(int use_regex)
{
	return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel",
	    "add_prefix_space", 0, "trim_offsets", 1, "use_regex", use_regex);
}

static json_t *
pre_tokenizer(const struct tok *t)
{
	if (!t->llama3)
		return byte_level(1);
	return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type",
	    "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
	    LLAMA3_SPLIT, "behavior", "Isolated", "invert", 0, byte_level(0));
}

static const char *
token_text(const struct tok *t, json_int_t id)
{
	return json_string_value(json_array_get(t->tokens, (size_t)id));
}

static json_t *
special_ref(const char *text, int type_id)
{
	return json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", text,
	    "type_id", type_id);
}

/* A BOS before each sequence, or (as GPT-2's) the byte-level offsets. */
static json_t *
post_processor(const struct tok *t)
{
	const char *bos = t->add_bos ? token_text(t, t->bos) : NULL;

	if (bos == NULL)
		return byte_level(1);
	return json_pack("{s:s, s:[o, {s:{s:s, s:i}}], "
	    "s:[o, {s:{s:s, s:i}}, o, {s:{s:s, s:i}}], s:{s:{s:s, s:[I], "
	    "s:[s]}}}", "type", "TemplateProcessing",
	    "single", special_ref(bos, 0), "Sequence", "id", "A", "type_id", 0,
	    "pair", special_ref(bos, 0), "Sequence", "id", "A", "type_id", 0,
	    special_ref(bos, 1), "Sequence", "id", "B", "type_id", 1,
	    "special_tokens", bos, "id", bos, "ids", t->bos, "tokens", bos);
}

/* Is token i an added one (control or user-defined)? */
static int
is_added(const struct tok *t, size_t i)
{
	json_int_t ty = json_integer_value(json_array_get(t->types, i));

	return ty == TOKEN_CONTROL || ty == TOKEN_USER_DEFINED;
}

/* Control and user-defined tokens, as tokenizers' added tokens. */
static json_t *
added_tokens(const struct tok *t)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < json_array_size(t->types); i++) {
		json_int_t ty = json_integer_value(json_array_get(t->types, i));

		if (!is_added(t, i))
			continue;
		if (json_array_append_new(out, json_pack("{s:I, s:s, s:b, s:b, "
		    "s:b, s:b, s:b}", "id", (json_int_t)i, "content",
		    token_text(t, (json_int_t)i), "single_word", 0, "lstrip", 0,
		    "rstrip", 0, "normalized", ty != TOKEN_CONTROL, "special",
		    ty == TOKEN_CONTROL)) == -1) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The BPE model: its vocabulary is the tokens that are not added ones. */
static json_t *
bpe_model(const struct tok *t)
{
	json_t *vocab = json_object();

	for (size_t i = 0; vocab != NULL && i < json_array_size(t->tokens);
	    i++)
		if (!is_added(t, i) && json_object_set_new(vocab,
		    token_text(t, (json_int_t)i),
		    json_integer((json_int_t)i)) == -1) {
			json_decref(vocab);
			return NULL;
		}
	return json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:O}",
	    "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
	    "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
	    "ignore_merges", t->llama3, "vocab", vocab, "merges", t->merges);
}

static char *
tokenizer_json(const struct tok *t)
{
	json_t *j = json_pack("{s:s, s:n, s:n, s:o, s:n, s:o, s:o, s:o, s:o}",
	    "version", "1.0", "truncation", "padding", "added_tokens",
	    added_tokens(t), "normalizer", "pre_tokenizer", pre_tokenizer(t),
	    "post_processor", post_processor(t), "decoder", byte_level(1),
	    "model", bpe_model(t));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

static char *
config_json(const struct tok *t)
{
	json_t *tmpl = json_object_get(t->kv, "tokenizer.chat_template");
	json_t *j = json_pack("{s:s?, s:s?, s:b, s:b, s:b, s:s}", "bos_token",
	    token_text(t, t->bos), "eos_token", token_text(t, t->eos),
	    "add_bos_token", t->add_bos, "add_eos_token", 0,
	    "clean_up_tokenization_spaces", 0, "tokenizer_class",
	    "PreTrainedTokenizerFast");
	char *s;

	if (j != NULL && json_is_string(tmpl))
		json_object_set(j, "chat_template", tmpl);
	s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	return s;
}

/* Is every element of a a string (or, for types, an integer)? */
static int
all_of(json_t *a, int strings)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (strings ? !json_is_string(v) : !json_is_integer(v))
			return 0;
	return 1;
}

/* The keys read, checked; NULL when they are usable, else why not. */
static const char *
read_keys(struct tok *t)
{
	json_t *model = key(t, "model"), *pre = key(t, "pre");
	json_t *bos = key(t, "bos_token_id"), *eos = key(t, "eos_token_id");
	json_t *add = key(t, "add_bos_token");
	size_t i;

	if (!json_is_string(model) || strcmp(json_string_value(model),
	    "gpt2") != 0)
		return "tokenizer.ggml.model is not gpt2 (byte-level BPE)";
	for (i = 0; i < sizeof pres / sizeof *pres; i++)
		if (json_is_string(pre) && strcmp(json_string_value(pre),
		    pres[i].name) == 0)
			break;
	if (i == sizeof pres / sizeof *pres)
		return "tokenizer.ggml.pre is not llama-bpe, llama3 or gpt-2";
	t->llama3 = pres[i].llama3;
	t->tokens = key(t, "tokens");
	t->types = key(t, "token_type");
	t->merges = key(t, "merges");
	if (!json_is_array(t->tokens) || !all_of(t->tokens, 1) ||
	    !json_is_array(t->merges) || !all_of(t->merges, 1) ||
	    (t->types != NULL && (!json_is_array(t->types) ||
	    json_array_size(t->types) != json_array_size(t->tokens) ||
	    !all_of(t->types, 0))))
		return "tokenizer.ggml.tokens, token_type or merges is missing "
		    "or malformed";
	t->bos = json_is_integer(bos) ? json_integer_value(bos) : -1;
	t->eos = json_is_integer(eos) ? json_integer_value(eos) : -1;
	t->add_bos = json_is_boolean(add) ? json_is_true(add) : t->llama3;
	return NULL;
}

int
gguf_tokenizer_convert(json_t *kv, char **tokenizer, char **config,
    const char **why)
{
	struct tok t = { kv, NULL, NULL, NULL, 0, 0, -1, -1 };

	*tokenizer = *config = NULL;
	if ((*why = read_keys(&t)) != NULL)
		return 0;
	if ((*tokenizer = tokenizer_json(&t)) == NULL ||
	    (*config = config_json(&t)) == NULL) {
		free(*tokenizer);
		*tokenizer = NULL;
		*why = "the tokens could not be written as JSON (or memory ran "
		    "out)";
		return 0;
	}
	return 1;
}
