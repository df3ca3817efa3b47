/* SPDX-License-Identifier: ISC */
#include "gguf_proj.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "io.h"
#include "ternary.h"

/* Values packed and written at a time. */
#define OUT_VALUES	(GGUF_PROJ_BLOCK * 2048u)

struct repack {
	const struct gguf_proj *p;
	uint64_t base;		/* the tensor's data in the file */
	float m;		/* W = t * m */
	uint8_t *raw;		/* one source row as stored */
	float *f;		/* its values (a float source) */
	int8_t *codes;		/* OUT_VALUES + cols */
	uint8_t *packed;	/* OUT_VALUES / 4 */
	uint64_t filled;	/* codes waiting */
};

static int
is_float(const struct ggml_type *t)
{
	return t->id == GGML_TYPE_F32 || t->id == GGML_TYPE_F16 ||
	    t->id == GGML_TYPE_BF16;
}

int
gguf_proj_repacks(const struct gguf_proj *p)
{
	return p->heads != 0 || p->type->id != GGML_TYPE_I2_S;
}

uint64_t
gguf_proj_payload(const struct gguf_proj *p)
{
	return p->rows * p->cols / 4 + 32;
}

int
gguf_proj_check(const struct gguf_proj *p, struct diag *d)
{
	const char *path = p->g->path, *name = p->t->name;

	if (p->type->id != GGML_TYPE_I2_S && !is_float(p->type))
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is %s; a "
		    "BitNet projection is I2_S, or the F32, F16 or BF16 "
		    "weights of a ternary matrix", path, name, p->type->name);
	if (gguf_proj_repacks(p) && (p->rows == 0 || p->cols == 0 ||
	    p->cols > GGUF_PROJ_MAX_COLS))
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' is [%llu, "
		    "%llu]; a projection to re-pack has rows of 1 to %u values",
		    path, name, (unsigned long long)p->rows,
		    (unsigned long long)p->cols, GGUF_PROJ_MAX_COLS);
	if (gguf_proj_repacks(p) && p->rows * p->cols % GGUF_PROJ_BLOCK)
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' has "
		    "%llu values; it is re-packed as I2_S, which takes whole "
		    "blocks of %u", path, name,
		    (unsigned long long)(p->rows * p->cols), GGUF_PROJ_BLOCK);
	if (p->heads != 0 && (p->rows % p->heads != 0 ||
	    p->rows / p->heads % 2 != 0))
		return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' has %llu "
		    "rows, not %u heads of an even length", path, name,
		    (unsigned long long)p->rows, p->heads);
	return 0;
}

/* The file row that holds Hugging Face row r. */
static uint64_t
source_row(const struct gguf_proj *p, uint64_t r)
{
	uint64_t hd, half, w;

	if (p->heads == 0)
		return r;
	hd = p->rows / p->heads;
	half = hd / 2;
	w = r % hd;
	return r - w + 2 * (w % half) + w / half;
}

static int
read_float_row(struct repack *r, uint64_t row, struct diag *d)
{
	const struct gguf_proj *p = r->p;
	size_t es = dtype_size(p->type->dtype), len = p->cols * es;

	if (io_pread_full(p->g->fd, r->raw, len, r->base + row * len,
	    p->g->path, d) == -1)
		return -1;
	dtype_to_f32(p->type->dtype, r->raw, r->f, p->cols);
	return 0;
}

/* The codes of file row `row` of an I2_S source into out[cols]. */
static int
read_i2s_row(struct repack *r, uint64_t row, int8_t *out, struct diag *d)
{
	const struct gguf_proj *p = r->p;
	uint64_t a = row * p->cols, b0 = a / GGUF_PROJ_BLOCK, bad;
	uint64_t b1 = (a + p->cols - 1) / GGUF_PROJ_BLOCK;

	if (io_pread_full(p->g->fd, r->raw, (b1 - b0 + 1) * 32, r->base +
	    b0 * 32, p->g->path, d) == -1)
		return -1;
	if (ternary_i2s_unpack(r->raw, a - b0 * GGUF_PROJ_BLOCK, p->cols, out,
	    &bad) == 0)
		return 0;
	return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s': I2_S value %llu "
	    "has code 3, which is not a ternary value", p->g->path, p->t->name,
	    (unsigned long long)(a + bad));
}

/* m of a float source: every value 0 or +-m, m finite; checked whole
 * before anything is written. */
static int
scan_floats(struct repack *r, struct diag *d)
{
	const struct gguf_proj *p = r->p;

	r->m = 0;
	for (uint64_t row = 0; row < p->rows; row++) {
		if (read_float_row(r, row, d) == -1)
			return -1;
		for (uint64_t k = 0; k < p->cols; k++) {
			float v = fabsf(r->f[k]);

			if (r->f[k] == 0 || v == r->m)
				continue;
			if (r->m == 0 && isfinite(v)) {
				r->m = v;
				continue;
			}
			return diag_fail(d, BN_EXIT_INPUT, "%s: tensor '%s' (%s) "
			    "is not ternary: value %llu is %g where the others "
			    "are 0 or +-%g", p->g->path, p->t->name,
			    p->type->name, (unsigned long long)(row * p->cols +
			    k), (double)r->f[k], (double)r->m);
		}
	}
	return 0;
}

/* m of an I2_S source: the float after the codes. */
static int
read_i2s_scale(struct repack *r, struct diag *d)
{
	const struct gguf_proj *p = r->p;

	return io_pread_full(p->g->fd, &r->m, sizeof r->m, r->base +
	    p->rows * p->cols / 4, p->g->path, d);
}

/* Hugging Face row `row` appended to the codes waiting. */
static int
add_row(struct repack *r, uint64_t row, struct diag *d)
{
	const struct gguf_proj *p = r->p;
	uint64_t src = source_row(p, row);
	int8_t *out = r->codes + r->filled;

	r->filled += p->cols;
	if (p->type->id == GGML_TYPE_I2_S)
		return read_i2s_row(r, src, out, d);
	if (read_float_row(r, src, d) == -1)
		return -1;
	for (uint64_t k = 0; k < p->cols; k++)
		out[k] = (int8_t)(r->f[k] == 0 ? 0 : r->f[k] > 0 ? 1 : -1);
	return 0;
}

/* Pack and write the whole blocks waiting; the rest moves to the front. */
static int
flush(struct repack *r, struct tstream_writer *w, struct diag *d)
{
	uint64_t n = r->filled / GGUF_PROJ_BLOCK * GGUF_PROJ_BLOCK;

	ternary_i2s_pack(r->codes, n, r->packed);
	memmove(r->codes, r->codes + n, r->filled - n);
	r->filled -= n;
	return tstream_write_payload(w, r->packed, n / 4, d);
}

static int
write_rows(struct repack *r, struct tstream_writer *w, struct diag *d)
{
	unsigned char tail[32] = { 0 };

	for (uint64_t row = 0; row < r->p->rows; row++) {
		if (add_row(r, row, d) == -1)
			return -1;
		if (r->filled >= OUT_VALUES && flush(r, w, d) == -1)
			return -1;
	}
	if (flush(r, w, d) == -1)
		return -1;
	memcpy(tail, &r->m, sizeof r->m);
	return tstream_write_payload(w, tail, sizeof tail, d);
}

int
gguf_proj_write(const struct gguf_proj *p, const Tstream__TensorInfo *info,
    struct tstream_writer *w, struct diag *d)
{
	struct repack r = { p, p->g->data_start + p->t->offset, 0, NULL, NULL,
	    NULL, NULL, 0 };
	size_t row = p->cols * sizeof(float) + 64;
	int rc;

	r.raw = io_alloc(row, p->t->name, d);
	r.f = r.raw ? io_alloc(row, p->t->name, d) : NULL;
	r.codes = r.f ? io_alloc(OUT_VALUES + p->cols, p->t->name, d) : NULL;
	r.packed = r.codes ? io_alloc(OUT_VALUES / 4, p->t->name, d) : NULL;
	rc = r.packed == NULL ? -1 : p->type->id == GGML_TYPE_I2_S ?
	    read_i2s_scale(&r, d) : scan_floats(&r, d);
	if (rc == 0)
		rc = tstream_begin_tensor(w, info, d) == -1 ||
		    write_rows(&r, w, d) == -1 ||
		    tstream_end_tensor(w, d) == -1 ? -1 : 0;
	free(r.raw);
	free(r.f);
	free(r.codes);
	free(r.packed);
	return rc;
}
