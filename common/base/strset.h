/* SPDX-License-Identifier: ISC */
/*
 * strset.h - a set of strings (not copied: they must outlive the set),
 * for checking that graph values are defined before use and only once.
 */
#ifndef BN_STRSET_H
#define BN_STRSET_H

#include <stddef.h>

struct strset {
	const char **slot;
	size_t cap, n;
};

/* 1 if s was added, 0 if it was there already, -1 out of memory. */
int strset_add(struct strset *s, const char *str);
int strset_has(const struct strset *s, const char *str);
void strset_free(struct strset *s);

#endif
