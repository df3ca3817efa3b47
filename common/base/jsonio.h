/* SPDX-License-Identifier: ISC */
/*
 * jsonio.h - parse JSON text (jansson, duplicate keys refused) into a
 * value, with one message for a syntax error and another for running out
 * of memory, naming the file and what it holds.
 */
#ifndef BN_JSONIO_H
#define BN_JSONIO_H

#include <jansson.h>
#include <stddef.h>

#include "diag.h"

/* NULL with d set on failure; what is e.g. "the safetensors header". */
json_t *jsonio_parse(const char *text, size_t len, const char *path,
    const char *what, struct diag *d);

#endif
