/* SPDX-License-Identifier: ISC */
#include "jsonio.h"

json_t *
jsonio_parse(const char *text, size_t len, const char *path,
    const char *what, struct diag *d)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

	if (root != NULL)
		return root;
	if (je.line < 0 && je.text[0] == '\0')	/* jansson's allocation */
		diag_fail(d, BN_EXIT_IO, "%s: out of memory parsing %s", path,
		    what);
	else
		diag_fail(d, BN_EXIT_INPUT, "%s: invalid JSON in %s at line %d "
		    "column %d: %s", path, what, je.line, je.column, je.text);
	return NULL;
}
