/* SPDX-License-Identifier: ISC */
#include "model_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "version.h"

/* The indices of the tensors sel keeps, into p->kept. */
static int
keep(struct model_pick *p, const struct selection *sel, struct diag *d)
{
	const struct model_table *t = &p->table;
	int all = sel == NULL || selection_is_empty(sel);

	if (!all && selection_check_layers(sel, t->config->num_hidden_layers,
	    d) == -1)
		return -1;
	for (size_t i = 0; i < t->n_tensors; i++)
		if (all || selection_match(sel, t->tensors[i]->name))
			p->kept[p->n_kept++] = i;
	if (!all && p->n_kept == 0)
		return diag_fail(d, BN_EXIT_USAGE,
		    "%s: the selection matches no tensor", t->path);
	return 0;
}

int
model_pick(const struct model_source *src, void *st,
    const struct selection *sel, struct model_pick *p, struct diag *d)
{
	memset(p, 0, sizeof *p);
	if (src->table(st, &p->table, d) == -1 ||
	    (p->kept = io_alloc((p->table.n_tensors + 1) * sizeof *p->kept,
	    "manifest", d)) == NULL || keep(p, sel, d) == -1 ||
	    (p->manifest = io_alloc((p->n_kept + 1) * sizeof *p->manifest,
	    "manifest", d)) == NULL)
		return -1;
	for (size_t i = 0; i < p->n_kept; i++)
		p->manifest[i] = p->table.tensors[p->kept[i]];
	tstream_header_init(&p->header, p->table.config_json,
	    p->table.config, p->manifest, p->n_kept, p->table.path);
	p->header.side_files = p->table.n_side_files ?
	    p->table.side_files : NULL;
	p->header.n_side_files = p->table.n_side_files;
	snprintf(p->producer, sizeof p->producer, "%s %s", src->prog,
	    BN_VERSION);
	p->producers[0] = p->producer;
	p->header.producers = p->producers;
	p->header.n_producers = 1;
	return 0;
}

int
model_pick_write(const struct model_source *src, void *st,
    const struct model_pick *p, struct tstream_writer *w, struct diag *d)
{
	return src->write(st, p->kept, p->n_kept, w, d);
}

void
model_pick_free(struct model_pick *p)
{
	free(p->kept);
	free(p->manifest);
	p->kept = NULL;
	p->manifest = NULL;
}
