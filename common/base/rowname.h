/* SPDX-License-Identifier: ISC */
/*
 * rowname.h - the names of a table's rows (an array of structs with a
 * const char * member, NULL in a row that has no name): finding the row
 * of a word and listing the words, for the option tables that grow by
 * rows (tern-dequant's --to and --embed).
 */
#ifndef BN_ROWNAME_H
#define BN_ROWNAME_H

#include <stddef.h>

/* A table: n rows of size bytes from rows, the name at offset off. */
struct rowname_table {
	const void *rows;
	size_t n, size, off;
};
/* The table of array, rows of struct type, named by member. */
#define ROWNAME_TABLE(array, type, member) \
	((struct rowname_table){ (array), sizeof (array) / sizeof *(array), \
	    sizeof *(array), offsetof(type, member) })

/* The row named s; NULL if none. */
const void *rowname_find(struct rowname_table t, const char *s);

/* The names in table order, NULL ones left out, joined by sep (last
 * before the last one: ", " and " or ") into buf, cut short if it does
 * not fit. */
const char *rowname_join(struct rowname_table t, const char *sep,
    const char *last, char *buf, size_t len);

#endif
