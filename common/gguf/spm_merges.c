/* SPDX-License-Identifier: ISC */
#include "spm_merges.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct merge {
	double score;
	uint32_t piece, left, right;
};

struct merges {
	struct merge *m;
	size_t n, cap;
};

/* Highest score first, then the joined piece's id, then the halves'. */
static int
by_rank(const void *pa, const void *pb)
{
	const struct merge *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->piece != b->piece)
		return a->piece < b->piece ? -1 : 1;
	if (a->left != b->left)
		return a->left < b->left ? -1 : 1;
	return (a->right > b->right) - (a->right < b->right);
}

/* The bytes of the UTF-8 character that starts with c (GGUF strings are
 * checked UTF-8 when read). */
static size_t
char_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

static int
push(struct merges *v, const struct merge *m)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 1024;
		struct merge *p = realloc(v->m, cap * sizeof *p);

		if (p == NULL)
			return -1;
		v->m = p;
		v->cap = cap;
	}
	v->m[v->n++] = *m;
	return 0;
}

/* Every split of piece s (id, score) into two pieces of vocab; buf has
 * room for s. */
static int
add_splits(struct merges *v, json_t *vocab, const char *s, uint32_t id,
    double score, char *buf)
{
	size_t n = strlen(s);

	for (size_t k = char_len((unsigned char)s[0]); k < n;
	    k += char_len((unsigned char)s[k])) {
		json_t *l, *r;
		struct merge m;

		memcpy(buf, s, k);
		buf[k] = '\0';
		if ((l = json_object_get(vocab, buf)) == NULL ||
		    (r = json_object_get(vocab, s + k)) == NULL)
			continue;
		m.score = score;
		m.piece = id;
		m.left = (uint32_t)json_integer_value(l);
		m.right = (uint32_t)json_integer_value(r);
		if (push(v, &m) == -1)
			return -1;
	}
	return 0;
}

static json_t *
as_json(const struct merges *v, json_t *tokens)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < v->n; i++)
		if (json_array_append_new(out, json_pack("[O, O]",
		    json_array_get(tokens, v->m[i].left),
		    json_array_get(tokens, v->m[i].right))) == -1) {
			json_decref(out);
			out = NULL;
		}
	return out;
}

json_t *
spm_merges(json_t *tokens, json_t *scores, json_t *vocab)
{
	struct merges v = { NULL, 0, 0 };
	size_t i, longest = 0;
	json_t *t, *out = NULL;
	char *buf;

	json_array_foreach(tokens, i, t)
		if (strlen(json_string_value(t)) > longest)
			longest = strlen(json_string_value(t));
	if ((buf = malloc(longest + 1)) == NULL)
		return NULL;
	json_array_foreach(tokens, i, t)
		if (add_splits(&v, vocab, json_string_value(t), (uint32_t)i,
		    json_number_value(json_array_get(scores, i)), buf) == -1)
			goto done;
	if (v.n > 1)
		qsort(v.m, v.n, sizeof *v.m, by_rank);
	out = as_json(&v, tokens);
done:
	free(buf);
	free(v.m);
	return out;
}
