/* SPDX-License-Identifier: ISC */
#include "selection.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_names.h"

int
selection_add_glob(struct selection *s, const char *glob, struct diag *d)
{
	const char **g = realloc(s->globs, (s->n_globs + 1) * sizeof *g);

	if (g == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	s->globs = g;
	s->globs[s->n_globs++] = glob;
	return 0;
}

static int
parse_layer_number(const char *p, char **end, long *out)
{
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*out = strtol(p, end, 10);
	return errno ? -1 : 0;
}

static int
add_range(struct selection *s, long first, long last, struct diag *d)
{
	struct layer_range *r = realloc(s->ranges,
	    (s->n_ranges + 1) * sizeof *r);

	if (r == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	s->ranges = r;
	s->ranges[s->n_ranges].first = first;
	s->ranges[s->n_ranges].last = last;
	s->n_ranges++;
	return 0;
}

int
selection_add_layers(struct selection *s, const char *list, struct diag *d)
{
	const char *p = list;

	for (;;) {
		long first, last;
		char *end;

		if (parse_layer_number(p, &end, &first) == -1)
			break;
		last = first;
		if (*end == '-' &&
		    parse_layer_number(end + 1, &end, &last) == -1)
			break;
		if (last < first)
			return diag_fail(d, BN_EXIT_USAGE,
			    "--layers '%s': range %ld-%ld runs backwards",
			    list, first, last);
		if (add_range(s, first, last, d) == -1)
			return -1;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			break;
		p = end + 1;
	}
	return diag_fail(d, BN_EXIT_USAGE,
	    "--layers '%s': expected numbers and ranges like 0-3,29", list);
}

int
selection_check_layers(const struct selection *s, uint32_t n_layers,
    struct diag *d)
{
	for (size_t i = 0; i < s->n_ranges; i++)
		if (s->ranges[i].last >= (long)n_layers)
			return diag_fail(d, BN_EXIT_USAGE,
			    "--layers: layer %ld does not exist; the model "
			    "has layers 0 to %ld", s->ranges[i].last,
			    (long)n_layers - 1);
	return 0;
}

static int
match_layers(const struct selection *s, const char *name)
{
	struct bitnet_name bn;

	bitnet_name_parse(name, &bn);
	if (bn.group != BITNET_GROUP_LAYER)
		return 0;
	for (size_t i = 0; i < s->n_ranges; i++)
		if (bn.layer >= s->ranges[i].first &&
		    bn.layer <= s->ranges[i].last)
			return 1;
	return 0;
}

static int
match_globs(const struct selection *s, const char *name)
{
	for (size_t i = 0; i < s->n_globs; i++)
		if (fnmatch(s->globs[i], name, 0) == 0)
			return 1;
	return 0;
}

int
selection_match(const struct selection *s, const char *name)
{
	if (s->n_ranges > 0 && !match_layers(s, name))
		return 0;
	if (s->n_globs > 0 && !match_globs(s, name))
		return 0;
	return 1;
}

int
selection_is_empty(const struct selection *s)
{
	return s->n_globs == 0 && s->n_ranges == 0;
}

void
selection_free(struct selection *s)
{
	free(s->globs);
	free(s->ranges);
	memset(s, 0, sizeof *s);
}
