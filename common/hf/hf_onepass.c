/* SPDX-License-Identifier: ISC */
#include "hf_onepass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_names.h"
#include "dtype.h"
#include "io.h"

struct held {
	struct hf_tensor *t;	/* a packed projection waiting for its scale */
	uint8_t *data;
};

struct pass {
	struct hf_model *m;
	struct st_onepass *s;
	struct tstream_writer *w;
	uint8_t *buf;
	struct held held;
	float *scales;		/* per hf_tensor: the scale read early */
	unsigned char *has_scale;
	struct hf_tensor **by_name;	/* the selected tensors, sorted */
	size_t n_selected;
};

static int
cmp_by_name(const void *a, const void *b)
{
	return strcmp((*(struct hf_tensor *const *)a)->info.name,
	    (*(struct hf_tensor *const *)b)->info.name);
}

static struct hf_tensor *
selected(const struct pass *p, const char *name)
{
	struct hf_tensor key, *k = &key, **hit;

	key.info.name = (char *)name;
	hit = bsearch(&k, p->by_name, p->n_selected, sizeof *p->by_name,
	    cmp_by_name);
	return hit ? *hit : NULL;
}

static int
copy_tensor(struct pass *p, struct hf_tensor *t, struct diag *d)
{
	uint64_t left = t->info.payload_length;
	char what[TSTREAM_MAX_NAME + 16];

	snprintf(what, sizeof what, "tensor '%s'", t->info.name);
	if (tstream_begin_tensor(p->w, &t->info, d) == -1)
		return -1;
	while (left > 0) {
		size_t n = left < TSTREAM_CHUNK ? (size_t)left : TSTREAM_CHUNK;

		if (st_onepass_read(p->s, p->buf, n, what, d) == -1 ||
		    tstream_write_payload(p->w, p->buf, n, d) == -1)
			return -1;
		left -= n;
	}
	return tstream_end_tensor(p->w, d);
}

static int
emit_held(struct pass *p, float scale, struct diag *d)
{
	struct hf_tensor *t = p->held.t;
	int rc;

	t->info.has_scale = 1;
	t->info.scale = scale;
	rc = tstream_begin_tensor(p->w, &t->info, d);
	if (rc == 0)
		rc = tstream_write_payload(p->w, p->held.data,
		    t->info.payload_length, d);
	if (rc == 0)
		rc = tstream_end_tensor(p->w, d);
	free(p->held.data);
	p->held.data = NULL;
	p->held.t = NULL;
	return rc;
}

/* A packed projection: out at once if its scale came first, else held. */
static int
take_packed(struct pass *p, struct hf_tensor *t, struct diag *d)
{
	size_t i = (size_t)(t - p->m->tensors);

	if (p->has_scale[i]) {
		t->info.has_scale = 1;
		t->info.scale = p->scales[i];
		return copy_tensor(p, t, d);
	}
	if (p->held.t != NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' comes while "
		    "'%s' still waits for its weight_scale; a one-pass read "
		    "holds one projection at a time", p->s->name, t->info.name,
		    p->held.t->info.name);
	if (t->info.payload_length > HF_MAX_HELD)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' of %llu "
		    "bytes comes before its weight_scale, more than the %u "
		    "bytes a one-pass read holds", p->s->name, t->info.name,
		    (unsigned long long)t->info.payload_length, HF_MAX_HELD);
	if ((p->held.data = io_alloc(t->info.payload_length, t->info.name,
	    d)) == NULL)
		return -1;
	p->held.t = t;
	return st_onepass_read(p->s, p->held.data, t->info.payload_length,
	    t->info.name, d);
}

static int
take_scale(struct pass *p, const struct st_tensor *st, struct diag *d)
{
	char base[TSTREAM_MAX_NAME + 1];
	size_t len = strlen(st->name) - strlen(BITNET_CKPT_SCALE_SUFFIX);
	unsigned char raw[8];
	struct hf_tensor *t;
	float v;

	snprintf(base, sizeof base, "%.*s", (int)len, st->name);
	if ((t = selected(p, base)) == NULL)
		return 0;	/* its weight is not selected */
	if (st->end - st->begin > sizeof raw || !dtype_is_float(st->dtype))
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': expected "
		    "one float", p->s->name, st->name);
	if (st_onepass_read(p->s, raw, (size_t)(st->end - st->begin), st->name,
	    d) == -1)
		return -1;
	dtype_to_f32(st->dtype, raw, &v, 1);
	if (p->held.t == t)
		return emit_held(p, v, d);
	p->scales[t - p->m->tensors] = v;
	p->has_scale[t - p->m->tensors] = 1;
	return 0;
}

static int
take(struct pass *p, const struct st_tensor *st, struct diag *d)
{
	struct bitnet_name bn;
	struct hf_tensor *t;

	bitnet_name_parse(st->name, &bn);
	if (st_onepass_seek(p->s, st->begin, d) == -1)
		return -1;
	if (bn.is_scale)
		return take_scale(p, st, d);
	if ((t = selected(p, st->name)) == NULL)
		return 0;
	if (t->info.encoding == TSTREAM__ENCODING__TERNARY_HF_PACKED)
		return take_packed(p, t, d);
	return copy_tensor(p, t, d);
}

int
hf_onepass_write(struct hf_model *m, const size_t *kept, size_t n,
    struct st_onepass *s, struct tstream_writer *w, struct diag *d)
{
	const struct st_file *f = &m->files[0];
	struct pass p = { m, s, w, NULL, { NULL, NULL }, NULL, NULL, NULL, n };
	int rc = 0;

	p.buf = io_alloc(TSTREAM_CHUNK, "buffer", d);
	p.scales = calloc(m->n_tensors + 1, sizeof *p.scales);
	p.has_scale = calloc(m->n_tensors + 1, 1);
	p.by_name = calloc(n + 1, sizeof *p.by_name);
	if (p.buf == NULL || p.scales == NULL || p.has_scale == NULL ||
	    p.by_name == NULL)
		rc = diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++)
		p.by_name[i] = &m->tensors[kept[i]];
	if (rc == 0)
		qsort(p.by_name, n, sizeof *p.by_name, cmp_by_name);
	for (size_t i = 0; rc == 0 && i < f->n_tensors; i++)
		rc = take(&p, &f->tensors[i], d);
	if (rc == 0 && p.held.t != NULL)
		rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' never got "
		    "its weight_scale", s->name, p.held.t->info.name);
	free(p.held.data);
	free(p.buf);
	free(p.scales);
	free(p.has_scale);
	free(p.by_name);
	return rc;
}
