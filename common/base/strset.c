/* SPDX-License-Identifier: ISC */
#include "strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3u;
	return h;
}

static size_t
find(const struct strset *s, const char *str)
{
	size_t i = (size_t)hash(str) & (s->cap - 1);

	while (s->slot[i] != NULL && strcmp(s->slot[i], str) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int
grow(struct strset *s)
{
	struct strset bigger = { NULL, s->cap ? s->cap * 2 : 64, 0 };

	if ((bigger.slot = calloc(bigger.cap, sizeof *bigger.slot)) == NULL)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i] != NULL)
			bigger.slot[find(&bigger, s->slot[i])] = s->slot[i];
	bigger.n = s->n;
	free(s->slot);
	*s = bigger;
	return 0;
}

int
strset_add(struct strset *s, const char *str)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap && grow(s) == -1)
		return -1;
	i = find(s, str);
	if (s->slot[i] != NULL)
		return 0;
	s->slot[i] = str;
	s->n++;
	return 1;
}

int
strset_has(const struct strset *s, const char *str)
{
	return s->cap > 0 && s->slot[find(s, str)] != NULL;
}

void
strset_free(struct strset *s)
{
	free(s->slot);
	memset(s, 0, sizeof *s);
}
