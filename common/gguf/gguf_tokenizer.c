/* SPDX-License-Identifier: ISC */
#include "gguf_tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spm_merges.h"

/* Llama 3's pre-tokenizer split pattern, as its tokenizer.json gives it. */
#define LLAMA3_SPLIT \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
	"\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
	"\\s+(?!\\S)|\\s+"

/* SentencePiece's space, U+2581. */
#define SPM_SPACE "\xe2\x96\x81"

/* llama.cpp's token types. */
#define TOKEN_UNKNOWN		2
#define TOKEN_CONTROL		3
#define TOKEN_USER_DEFINED	4

enum tok_how { HOW_REFUSED, HOW_BYTE_BPE, HOW_SPM };

/* A tokenizer.ggml.model and tokenizer.ggml.pre (NULL: none given), and
 * what becomes of them. */
static const struct tok_kind {
	const char *model, *pre;
	enum tok_how how;
	int llama3;	/* Llama 3's split, whole words first, a BOS */
	const char *why;	/* HOW_REFUSED */
} kinds[] = {
	{ "gpt2", "llama-bpe", HOW_BYTE_BPE, 1, NULL },
	{ "gpt2", "llama3", HOW_BYTE_BPE, 1, NULL },
	{ "gpt2", "gpt-2", HOW_BYTE_BPE, 0, NULL },
	{ "gpt2", "falcon3", HOW_REFUSED, 0, "llama.cpp reads it as Llama "
	    "3's split pattern; that Falcon3's own pre-tokenizer is that "
	    "pattern is not confirmed here" },
	{ "gpt2", "falcon_e", HOW_REFUSED, 0, "llama.cpp reads it as Llama "
	    "3's split pattern; that Falcon-E's own pre-tokenizer is that "
	    "pattern is not confirmed here" },
	{ "llama", NULL, HOW_SPM, 0, NULL },
	{ "llama", "default", HOW_SPM, 0, NULL },
};

struct tok {
	json_t *kv;
	const struct tok_kind *kind;
	json_t *tokens, *types, *merges, *scores;
	json_t *vocab;	/* token text to id (vocabulary()) */
	int add_bos, add_eos, space_prefix;
	json_int_t bos, eos, unk;
};

static json_t *
key(const struct tok *t, const char *name)
{
	char full[96];

	snprintf(full, sizeof full, "tokenizer.ggml.%s", name);
	return json_object_get(t->kv, full);
}

static const char *
token_text(const struct tok *t, json_int_t id)
{
	return id < 0 ? NULL :
	    json_string_value(json_array_get(t->tokens, (size_t)id));
}

static json_int_t
token_type(const struct tok *t, size_t i)
{
	return t->types == NULL ? 1 :
	    json_integer_value(json_array_get(t->types, i));
}

static json_t *
byte_level(int use_regex)
{
	return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel",
	    "add_prefix_space", 0, "trim_offsets", 1, "use_regex", use_regex);
}

static json_t *
replace(const char *from, const char *to)
{
	return json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern",
	    "String", from, "content", to);
}

/* SentencePiece's spaces (and the one before the text); none for BPE. */
static json_t *
normalizer(const struct tok *t)
{
	if (t->kind->how != HOW_SPM)
		return json_null();
	if (!t->space_prefix)
		return replace(" ", SPM_SPACE);
	return json_pack("{s:s, s:[{s:s, s:s}, o]}", "type", "Sequence",
	    "normalizers", "type", "Prepend", "prepend", SPM_SPACE,
	    replace(" ", SPM_SPACE));
}

static json_t *
pre_tokenizer(const struct tok *t)
{
	if (t->kind->how == HOW_SPM)
		return json_null();
	if (!t->kind->llama3)
		return byte_level(1);
	return json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type",
	    "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
	    LLAMA3_SPLIT, "behavior", "Isolated", "invert", 0, byte_level(0));
}

static json_t *
decoder(const struct tok *t)
{
	json_t *d;

	if (t->kind->how != HOW_SPM)
		return byte_level(1);
	d = json_pack("[o, {s:s}, {s:s}]", replace(SPM_SPACE, " "), "type",
	    "ByteFallback", "type", "Fuse");
	if (d != NULL && t->space_prefix)
		json_array_append_new(d, json_pack("{s:s, s:s, s:i, s:i}",
		    "type", "Strip", "content", " ", "start", 1, "stop", 0));
	return json_pack("{s:s, s:o}", "type", "Sequence", "decoders", d);
}

/* Append to a: the BOS, sequence seq, the EOS (each unless NULL). */
static int
template_part(json_t *a, const char *bos, const char *eos, const char *seq,
    int type_id)
{
	return (bos != NULL && json_array_append_new(a, json_pack(
	    "{s:{s:s, s:i}}", "SpecialToken", "id", bos, "type_id",
	    type_id)) == -1) || json_array_append_new(a, json_pack(
	    "{s:{s:s, s:i}}", "Sequence", "id", seq, "type_id",
	    type_id)) == -1 || (eos != NULL && json_array_append_new(a,
	    json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", eos, "type_id",
	    type_id)) == -1) ? -1 : 0;
}

static int
add_special(json_t *specials, const char *text, json_int_t id)
{
	return text == NULL ? 0 : json_object_set_new(specials, text,
	    json_pack("{s:s, s:[I], s:[s]}", "id", text, "ids", id, "tokens",
	    text));
}

/* The BOS before each sequence and the EOS after it, where the metadata
 * asks for them; else (as GPT-2's) the byte-level offsets, or nothing. */
static json_t *
post_processor(const struct tok *t)
{
	const char *bos = t->add_bos ? token_text(t, t->bos) : NULL;
	const char *eos = t->add_eos ? token_text(t, t->eos) : NULL;
	json_t *single, *pair, *specials;

	if (bos == NULL && eos == NULL)
		return t->kind->how == HOW_SPM ? json_null() : byte_level(1);
	single = json_array();
	pair = json_array();
	specials = json_object();
	if (single == NULL || pair == NULL || specials == NULL ||
	    template_part(single, bos, eos, "A", 0) == -1 ||
	    template_part(pair, bos, eos, "A", 0) == -1 ||
	    template_part(pair, bos, eos, "B", 1) == -1 ||
	    add_special(specials, bos, t->bos) == -1 ||
	    add_special(specials, eos, t->eos) == -1) {
		json_decref(single);
		json_decref(pair);
		json_decref(specials);
		return NULL;
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing",
	    "single", single, "pair", pair, "special_tokens", specials);
}

/* Is token i an added one: control or user-defined (and, for
 * SentencePiece, the unknown token)? */
static int
is_added(const struct tok *t, size_t i)
{
	json_int_t ty = token_type(t, i);

	return ty == TOKEN_CONTROL || ty == TOKEN_USER_DEFINED ||
	    (ty == TOKEN_UNKNOWN && t->kind->how == HOW_SPM);
}

/* The added tokens: special unless user-defined; a byte-level BPE's
 * user-defined ones match the normalized text, as llama.cpp's do. */
static json_t *
added_tokens(const struct tok *t)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < json_array_size(t->tokens);
	    i++) {
		int user = token_type(t, i) == TOKEN_USER_DEFINED;

		if (!is_added(t, i))
			continue;
		if (json_array_append_new(out, json_pack("{s:I, s:s, s:b, s:b, "
		    "s:b, s:b, s:b}", "id", (json_int_t)i, "content",
		    token_text(t, (json_int_t)i), "single_word", 0, "lstrip", 0,
		    "rstrip", 0, "normalized", user &&
		    t->kind->how != HOW_SPM, "special", !user)) == -1) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

static json_t *
bpe_model(const struct tok *t)
{
	int spm = t->kind->how == HOW_SPM;
	json_t *merges = spm ? spm_merges(t->tokens, t->scores, t->vocab) :
	    json_incref(t->merges);
	const char *unk = spm ? token_text(t, t->unk) : NULL;

	if (merges == NULL)
		return NULL;
	return json_pack("{s:s, s:n, s:s?, s:n, s:n, s:b, s:b, s:b, s:o, "
	    "s:o}", "type", "BPE", "dropout", "unk_token", unk,
	    "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", spm,
	    "byte_fallback", spm, "ignore_merges", t->kind->llama3, "vocab",
	    json_incref(t->vocab), "merges", merges);
}

static char *
tokenizer_json(const struct tok *t)
{
	json_t *j = json_pack("{s:s, s:n, s:n, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "version", "1.0", "truncation", "padding", "added_tokens",
	    added_tokens(t), "normalizer", normalizer(t), "pre_tokenizer",
	    pre_tokenizer(t), "post_processor", post_processor(t), "decoder",
	    decoder(t), "model", bpe_model(t));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

static char *
config_json(const struct tok *t)
{
	json_t *tmpl = json_object_get(t->kv, "tokenizer.chat_template");
	json_t *j = json_pack("{s:s?, s:s?, s:s*, s:b, s:b, s:b, s:s}",
	    "bos_token", token_text(t, t->bos), "eos_token",
	    token_text(t, t->eos), "unk_token", t->kind->how == HOW_SPM ?
	    token_text(t, t->unk) : NULL, "add_bos_token", t->add_bos,
	    "add_eos_token", t->add_eos, "clean_up_tokenization_spaces", 0,
	    "tokenizer_class", "PreTrainedTokenizerFast");
	char *s;

	if (j != NULL && json_is_string(tmpl))
		json_object_set(j, "chat_template", tmpl);
	s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	return s;
}

/* Write why into the caller's buffer; returns -1. */
static int
refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* The row of kinds[] for the model and pre-tokenizer named. */
static int
find_kind(struct tok *t, char *why, size_t len)
{
	json_t *model = key(t, "model"), *pre = key(t, "pre");
	const char *m = json_string_value(model), *p = json_string_value(pre);

	if (m == NULL)
		return refuse(why, len, "no tokenizer.ggml.model string");
	if (pre != NULL && p == NULL)
		return refuse(why, len, "tokenizer.ggml.pre is not a string");
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		if (strcmp(kinds[i].model, m) != 0 || (p == NULL) !=
		    (kinds[i].pre == NULL) || (p != NULL &&
		    strcmp(kinds[i].pre, p) != 0))
			continue;
		t->kind = &kinds[i];
		return kinds[i].how == HOW_REFUSED ? refuse(why, len,
		    "tokenizer.ggml.pre %s: %s", p, kinds[i].why) : 0;
	}
	return refuse(why, len, "tokenizer.ggml.model %s with "
	    "tokenizer.ggml.pre %s is not one converted (gpt2 with llama-bpe, "
	    "llama3 or gpt-2; llama, SentencePiece, with none or default)", m,
	    p ? p : "(none)");
}

enum element { STRINGS, INTEGERS, NUMBERS };

/* Is every element of a of that kind? */
static int
all_of(json_t *a, enum element what)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (what == STRINGS ? !json_is_string(v) : what == INTEGERS ?
		    !json_is_integer(v) : !json_is_number(v))
			return 0;
	return 1;
}

/* An optional array of the tokens' length, of what (all_of). */
static int
per_token(const struct tok *t, json_t *a, enum element what)
{
	return a == NULL || (json_is_array(a) && json_array_size(a) ==
	    json_array_size(t->tokens) && all_of(a, what));
}

static int
read_arrays(struct tok *t, char *why, size_t len)
{
	int spm = t->kind->how == HOW_SPM;

	t->tokens = key(t, "tokens");
	t->types = key(t, "token_type");
	t->merges = key(t, "merges");
	t->scores = key(t, "scores");
	if (!json_is_array(t->tokens) || !all_of(t->tokens, STRINGS))
		return refuse(why, len, "tokenizer.ggml.tokens is missing or "
		    "not an array of strings");
	if (!per_token(t, t->types, INTEGERS))
		return refuse(why, len, "tokenizer.ggml.token_type is not an "
		    "integer for each token");
	if (spm && (t->scores == NULL || !per_token(t, t->scores, NUMBERS)))
		return refuse(why, len, "tokenizer.ggml.scores is missing or "
		    "not a number for each token (a SentencePiece vocabulary "
		    "merges by them)");
	if (!spm && (!json_is_array(t->merges) || !all_of(t->merges, STRINGS)))
		return refuse(why, len, "tokenizer.ggml.merges is missing or "
		    "not an array of strings");
	return 0;
}

/* Token text to id: every token for SentencePiece, the ones that are not
 * added for a byte-level BPE; a text twice is refused (the tokenizer
 * could not give both ids).  -2 when memory runs out. */
static int
vocabulary(struct tok *t, char *why, size_t len)
{
	size_t i;
	json_t *v;

	if ((t->vocab = json_object()) == NULL)
		return -2;
	json_array_foreach(t->tokens, i, v) {
		if (t->kind->how != HOW_SPM && is_added(t, i))
			continue;
		if (json_object_get(t->vocab, json_string_value(v)) != NULL)
			return refuse(why, len, "tokenizer.ggml.tokens holds "
			    "'%.64s' twice (token %zu)", json_string_value(v),
			    i);
		if (json_object_set_new(t->vocab, json_string_value(v),
		    json_integer((json_int_t)i)) == -1)
			return -2;
	}
	return 0;
}

/* A boolean key, or dflt without it. */
static int
flag(const struct tok *t, const char *name, int dflt)
{
	json_t *v = key(t, name);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* A token id key: -1 without it; -2 when it names no token. */
static json_int_t
token_id(const struct tok *t, const char *name)
{
	json_t *v = key(t, name);
	json_int_t id = json_integer_value(v);

	if (v == NULL)
		return -1;
	return json_is_integer(v) && id >= 0 &&
	    (size_t)id < json_array_size(t->tokens) ? id : -2;
}

/* SentencePiece's unknown token: the key's, else the first of its type. */
static json_int_t
unknown_id(const struct tok *t)
{
	json_int_t id = token_id(t, "unknown_token_id");

	for (size_t i = 0; id == -1 && i < json_array_size(t->tokens); i++)
		if (token_type(t, i) == TOKEN_UNKNOWN)
			id = (json_int_t)i;
	return id;
}

/* The BOS, EOS and space settings, and the ids they name. */
static int
read_flags(struct tok *t, char *why, size_t len)
{
	int spm = t->kind->how == HOW_SPM;
	const char *which;

	t->add_bos = flag(t, "add_bos_token", spm || t->kind->llama3);
	t->add_eos = flag(t, "add_eos_token", 0);
	t->space_prefix = flag(t, "add_space_prefix", spm);
	t->bos = token_id(t, "bos_token_id");
	t->eos = token_id(t, "eos_token_id");
	t->unk = spm ? unknown_id(t) : -1;
	if (t->space_prefix && !spm)
		return refuse(why, len, "tokenizer.ggml.add_space_prefix is "
		    "true for a byte-level BPE: a space before the text is not "
		    "converted there");
	if (flag(t, "remove_extra_whitespaces", 0))
		return refuse(why, len, "tokenizer.ggml.remove_extra_whitespaces"
		    " is true: collapsing whitespace is not converted");
	if (key(t, "precompiled_charsmap") != NULL)
		return refuse(why, len, "tokenizer.ggml.precompiled_charsmap (a "
		    "SentencePiece normalization) is not converted");
	if (t->bos == -2 || t->eos == -2 || t->unk == -2)
		return refuse(why, len, "tokenizer.ggml.%s_token_id is not the "
		    "id of a token", t->bos == -2 ? "bos" : t->eos == -2 ?
		    "eos" : "unknown");
	which = t->add_bos && t->bos < 0 ? "bos" :
	    t->add_eos && t->eos < 0 ? "eos" : NULL;
	if (which != NULL)
		return refuse(why, len, "tokenizer.ggml.add_%s_token is true "
		    "but there is no tokenizer.ggml.%s_token_id", which, which);
	return 0;
}

int
gguf_tokenizer_convert(json_t *kv, char **tokenizer, char **config,
    char *why, size_t len)
{
	struct tok t;
	int rc;	/* 0 usable, -1 not converted (why says), -2 out of memory */

	memset(&t, 0, sizeof t);
	t.kv = kv;
	*tokenizer = *config = NULL;
	rc = find_kind(&t, why, len) == 0 && read_arrays(&t, why, len) == 0 &&
	    read_flags(&t, why, len) == 0 ? vocabulary(&t, why, len) : -1;
	/* once the keys are read, only memory can fail */
	if (rc == 0 && ((*tokenizer = tokenizer_json(&t)) == NULL ||
	    (*config = config_json(&t)) == NULL)) {
		free(*tokenizer);
		*tokenizer = NULL;
		rc = -2;
	}
	json_decref(t.vocab);
	return rc == 0 ? 1 : rc == -1 ? 0 : -1;
}
