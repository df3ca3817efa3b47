/* SPDX-License-Identifier: ISC */
/*
 * selection.h - which tensors a partial conversion takes: --tensors GLOB
 * (any of several fnmatch(3) patterns) and --layers LIST ("3", "0-3,29").
 * A tensor is selected when it passes every kind of selector given.
 */
#ifndef BN_SELECTION_H
#define BN_SELECTION_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct layer_range {
	long first, last;
};

struct selection {
	const char **globs;
	size_t n_globs;
	struct layer_range *ranges;
	size_t n_ranges;
};

int selection_add_glob(struct selection *s, const char *glob,
    struct diag *d);

/* Parse a LIST of layers: comma-separated numbers and ranges a-b. */
int selection_add_layers(struct selection *s, const char *list,
    struct diag *d);

/* True when a model of n_layers layers has every listed layer. */
int selection_check_layers(const struct selection *s, uint32_t n_layers,
    struct diag *d);

int selection_match(const struct selection *s, const char *name);

int selection_is_empty(const struct selection *s);

void selection_free(struct selection *s);

#endif
