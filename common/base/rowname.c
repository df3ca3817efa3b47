/* SPDX-License-Identifier: ISC */
#include "rowname.h"

#include <stdio.h>
#include <string.h>

/* Row i's name, or NULL. */
static const char *
name_at(struct rowname_table t, size_t i)
{
	const char *row = (const char *)t.rows + i * t.size;
	const char *name;

	memcpy(&name, row + t.off, sizeof name);
	return name;
}

const void *
rowname_find(struct rowname_table t, const char *s)
{
	for (size_t i = 0; i < t.n; i++)
		if (name_at(t, i) != NULL && strcmp(name_at(t, i), s) == 0)
			return (const char *)t.rows + i * t.size;
	return NULL;
}

const char *
rowname_join(struct rowname_table t, const char *sep, const char *last,
    char *buf, size_t len)
{
	size_t at = 0, left = 0;

	for (size_t i = 0; i < t.n; i++)
		left += name_at(t, i) != NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < t.n && at < len; i++)
		if (name_at(t, i) != NULL)
			at += (size_t)snprintf(buf + at, len - at, "%s%s",
			    at == 0 ? "" : --left == 1 ? last : sep,
			    name_at(t, i));
	return buf;
}
