/* SPDX-License-Identifier: ISC */
/*
 * arena.h - a bump allocator for the many small objects of a graph, freed
 * at once.  A failed allocation returns NULL and sets a->failed, which
 * stays set, so a builder can check once at the end.
 */
#ifndef BN_ARENA_H
#define BN_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	int failed;
};

/* n zeroed bytes, aligned for any type. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append p to the growable array *v of *n pointers (capacity *cap). */
int arena_push(struct arena *a, void ***v, size_t *n, size_t *cap, void *p);

void arena_free(struct arena *a);

#endif
