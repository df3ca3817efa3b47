/* SPDX-License-Identifier: ISC */
#include "model_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "version.h"

Tstream__TensorInfo *
model_table_entry(const struct model_table *t, size_t i)
{
	const struct model_rows *r = &t->tensors;

	return (Tstream__TensorInfo *)(void *)((char *)r->rows + i * r->size +
	    r->info_offset);
}

/* The indices of the tensors sel keeps, into p->kept. */
static int
keep(struct model_pick *p, const struct selection *sel, struct diag *d)
{
	const struct model_table *t = &p->table;
	int all = sel == NULL || selection_is_empty(sel);

	if (!all && selection_check_layers(sel, t->config->num_hidden_layers,
	    d) == -1)
		return -1;
	for (size_t i = 0; i < t->tensors.n; i++)
		if (all || selection_match(sel, model_table_entry(t, i)->name))
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
	src->table(st, &p->table);
	if ((p->kept = io_alloc((p->table.tensors.n + 1) * sizeof *p->kept,
	    "manifest", d)) == NULL || keep(p, sel, d) == -1 ||
	    (p->manifest = io_alloc((p->n_kept + 1) * sizeof *p->manifest,
	    "manifest", d)) == NULL)
		return -1;
	for (size_t i = 0; i < p->n_kept; i++)
		p->manifest[i] = model_table_entry(&p->table, p->kept[i]);
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
