/* SPDX-License-Identifier: ISC */
#include "compact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define Q2_ZERO_CODE	2u

int
compact_info(const Tstream__TensorInfo *in, Tstream__Encoding enc,
    uint32_t block, Tstream__TensorInfo out[2], uint64_t shapes[2][2],
    char *scales_name, size_t name_len, struct diag *d)
{
	const struct tstream_encoding *e = tstream_encoding_of(enc);
	struct tstream_layout l;

	if (e == NULL || e->scales_shape == NULL)
		return diag_fail(d, BN_EXIT_USAGE, "tensor '%s': encoding %d "
		    "is not a compact form", in->name, (int)enc);
	if (in->n_shape != 2)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': a weight to "
		    "store as %s must be a matrix", in->name, e->name);
	out[0] = *in;
	memcpy(shapes[0], in->shape, sizeof shapes[0]);
	out[0].shape = shapes[0];
	out[0].has_scale = e->header_scale;
	out[0].scale = e->header_scale ? 1.0f : 0.0f;	/* known once
							 * decoded */
	out[0].has_encoding = 1;
	out[0].has_dtype = 1;
	out[0].dtype = e->dtype;
	out[0].encoding = e->id;
	out[0].has_block_size = e->blocked;
	out[0].block_size = e->blocked ? block : 0;
	if (tstream_layout(&out[0], &l) == -1)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' cannot be "
		    "stored as %s", in->name, e->name);
	out[0].has_payload_length = 1;
	out[0].payload_length = l.bytes;
	if ((size_t)snprintf(scales_name, name_len, "%s%s", in->name,
	    COMPACT_SCALES_SUFFIX) >= name_len)
		return diag_fail(d, BN_EXIT_INPUT, "tensor '%s': name too "
		    "long", in->name);
	tstream__tensor_info__init(&out[1]);
	out[1].name = scales_name;
	out[1].has_dtype = out[1].has_encoding = 1;
	out[1].dtype = TSTREAM__DTYPE__F32;
	out[1].encoding = TSTREAM__ENCODING__PLAIN;
	out[1].shape = shapes[1];
	out[1].n_shape = tstream_scales_shape(&out[0], shapes[1]);
	out[1].has_payload_length = 1;
	out[1].payload_length = 4 * shapes[1][0] *
	    (out[1].n_shape == 2 ? shapes[1][1] : 1);
	out[1].source = in->source;
	return 2;
}

/* W^T, a row (one of W's columns) at a time. */
static int
write_int8(const struct ternary_matrix *m, uint32_t block,
    struct tstream_writer *w, void *vbuf, struct diag *d)
{
	int8_t *buf = vbuf;
	int rc = 0;

	(void)block;
	for (uint64_t c = 0; rc == 0 && c < m->cols; c++) {
		for (uint64_t r = 0; r < m->rows; r++)
			buf[r] = m->t[r * m->cols + c];
		rc = tstream_write_payload(w, buf, m->rows, d);
	}
	return rc;
}

/* One row of W as q2 blocks into out[blocks * block / 4], `per` values a
 * block (block, or block - 1 and a zero in the last slot). */
static void
pack_q2_row(const int8_t *t, uint64_t cols, uint32_t block, uint32_t per,
    uint8_t *out, uint64_t blocks)
{
	uint64_t nbytes = blocks * block / 4;

	for (uint64_t i = 0; i < nbytes; i++) {
		unsigned byte = 0;
		for (unsigned j = 0; j < 4; j++) {
			uint64_t p = 4 * i + j, slot = p % block;
			uint64_t k = p / block * per + slot;
			unsigned code = slot < per && k < cols ?
			    (unsigned)(t[k] + 2) : Q2_ZERO_CODE;
			byte |= code << (2 * j);
		}
		out[i] = (uint8_t)byte;
	}
}

/* q2 and q2-slot: each row in blocks of `per` values. */
static int
write_q2_blocks(const struct ternary_matrix *m, uint32_t block, uint32_t per,
    struct tstream_writer *w, void *buf, struct diag *d)
{
	uint64_t blocks = tstream_blocks(m->cols, per);
	int rc = 0;

	for (uint64_t r = 0; rc == 0 && r < m->rows; r++) {
		pack_q2_row(m->t + r * m->cols, m->cols, block, per, buf,
		    blocks);
		rc = tstream_write_payload(w, buf, blocks * block / 4, d);
	}
	return rc;
}

static int
write_q2(const struct ternary_matrix *m, uint32_t block,
    struct tstream_writer *w, void *buf, struct diag *d)
{
	return write_q2_blocks(m, block, block, w, buf, d);
}

static int
write_q2_slot(const struct ternary_matrix *m, uint32_t block,
    struct tstream_writer *w, void *buf, struct diag *d)
{
	return write_q2_blocks(m, block, tstream_block_values(
	    TSTREAM__ENCODING__TERNARY_Q2_SLOT, block), w, buf, d);
}

/* The scales tensor `info` (compact_info's): every value m's scale. */
static int
write_scales(const struct ternary_matrix *m, const Tstream__TensorInfo *info,
    struct tstream_writer *w, float *buf, struct diag *d)
{
	uint64_t rows = info->n_shape == 2 ? info->shape[0] : 1;
	uint64_t per = info->shape[info->n_shape - 1];
	int rc = 0;

	for (uint64_t i = 0; i < per; i++)
		buf[i] = m->scale;
	for (uint64_t r = 0; rc == 0 && r < rows; r++)
		rc = tstream_write_payload(w, buf, per * sizeof *buf, d);
	return rc;
}

/* One codec per ternary compact encoding: the weight's payload. */
static const struct {
	Tstream__Encoding enc;
	int (*write)(const struct ternary_matrix *m, uint32_t block,
	    struct tstream_writer *w, void *buf, struct diag *d);
} codecs[] = {
	{ TSTREAM__ENCODING__TERNARY_INT8, write_int8 },
	{ TSTREAM__ENCODING__TERNARY_Q2, write_q2 },
	{ TSTREAM__ENCODING__TERNARY_Q2_SLOT, write_q2_slot },
};

static int
write_weight(const struct ternary_matrix *m, Tstream__Encoding enc,
    uint32_t block, struct tstream_writer *w, void *buf, struct diag *d)
{
	for (size_t i = 0; i < sizeof codecs / sizeof *codecs; i++)
		if (codecs[i].enc == enc)
			return codecs[i].write(m, block, w, buf, d);
	return diag_fail(d, BN_EXIT_USAGE, "encoding %s has no ternary "
	    "writer", tstream_encoding_name(enc));
}

int
compact_write(const struct ternary_matrix *m, const Tstream__TensorInfo *in,
    Tstream__Encoding enc, uint32_t block, struct tstream_writer *w,
    struct diag *d)
{
	Tstream__TensorInfo out[2];
	uint64_t shapes[2][2];
	char sname[TSTREAM_MAX_NAME + 16];
	size_t row = (m->rows > m->cols ? m->rows : m->cols) + 4 *
	    TSTREAM_MAX_BLOCK;
	void *buf;
	int n, rc;

	if ((n = compact_info(in, enc, block, out, shapes, sname, sizeof sname,
	    d)) == -1 || (buf = io_alloc(row * sizeof(float), in->name,
	    d)) == NULL)
		return -1;
	out[0].scale = m->scale;
	rc = tstream_begin_tensor(w, &out[0], d);
	if (rc == 0)
		rc = write_weight(m, enc, block, w, buf, d);
	if (rc == 0)
		rc = tstream_end_tensor(w, d);
	if (rc == 0 && n == 2) {
		rc = tstream_begin_tensor(w, &out[1], d);
		if (rc == 0)
			rc = write_scales(m, &out[1], w, buf, d);
		if (rc == 0)
			rc = tstream_end_tensor(w, d);
	}
	free(buf);
	return rc;
}
