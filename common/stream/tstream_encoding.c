/* SPDX-License-Identifier: ISC */
#include "tstream_encoding.h"

#include <stdio.h>
#include <string.h>

#include "dtype.h"
#include "rowname.h"

uint64_t
tstream_blocks(uint64_t k, uint32_t block)
{
	return k / block + (k % block != 0);
}

int
tstream_block_ok(uint64_t b)
{
	return b >= TSTREAM_MIN_BLOCK && b <= TSTREAM_MAX_BLOCK &&
	    (b & (b - 1)) == 0;
}

/* PLAIN: numel elements of any dtype, the shape itself. */
static int
layout_plain(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	if (dtype_size(t->dtype) == 0 || n > UINT64_MAX / dtype_size(t->dtype))
		return -1;
	l->bytes = n * dtype_size(t->dtype);
	return 0;
}

/* TERNARY_HF_PACKED: u8 [rows/4, cols], four rows a byte. */
static int
layout_hf_packed(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	if (t->n_shape != 2 || t->shape[0] % 4)
		return -1;
	l->dims[0] = t->shape[0] / 4;
	l->bytes = n / 4;
	return 0;
}

/* TERNARY_I2S: the 2-bit codes of 128-value blocks, then a 32-byte
 * tail holding the f32 scale; stored flat. */
static int
layout_i2s(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	(void)t;
	if (n % 128)
		return -1;
	l->rank = 1;
	l->bytes = l->dims[0] = n / 4 + 32;
	return 0;
}

/* TERNARY_INT8: W transposed, i8 [cols, rows] (MatMulInteger's B). */
static int
layout_int8(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	if (t->n_shape != 2)
		return -1;
	l->dims[0] = t->shape[1];
	l->dims[1] = t->shape[0];
	l->bytes = n;
	return 0;
}


/* u8 [rows, blocks, block / per_byte]: rows of blocks of codes, per_byte
 * of them a byte (MatMulNBits' B). */
static int
layout_blocks(const Tstream__TensorInfo *t, unsigned per_byte,
    struct tstream_layout *l)
{
	if (t->n_shape != 2 || !t->has_block_size ||
	    !tstream_block_ok(t->block_size))
		return -1;
	l->rank = 3;
	l->dims[1] = tstream_blocks(t->shape[1],
	    tstream_block_values(t->encoding, t->block_size));
	l->dims[2] = t->block_size / per_byte;
	l->bytes = t->shape[0] * l->dims[1] * l->dims[2];
	return 0;
}

/* TERNARY_Q2 and TERNARY_Q2_SLOT: 2-bit codes, four a byte (MatMulNBits
 * bits=2). */
static int
layout_q2(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	(void)n;
	return layout_blocks(t, 4, l);
}

/* BLOCK_Q8: one byte a value (MatMulNBits bits=8). */
static int
layout_q8(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	(void)n;
	return layout_blocks(t, 1, l);
}

/* BLOCK_Q4: two codes a byte (MatMulNBits bits=4). */
static int
layout_q4(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	(void)n;
	return layout_blocks(t, 2, l);
}

/* ROW_I8: i8 [rows, cols], one byte a value, the shape itself. */
static int
layout_row_i8(const Tstream__TensorInfo *t, uint64_t n,
    struct tstream_layout *l)
{
	if (t->n_shape != 2)
		return -1;
	l->bytes = n;
	return 0;
}

/* int8: one f32, the weight scale as a multiplier. */
static size_t
scales_int8(uint64_t rows, uint64_t cols, uint32_t block, uint64_t dims[2])
{
	(void)rows, (void)cols, (void)block;
	dims[0] = 1;
	return 1;
}

/* q2, q2s, q8 and q4: f32 [rows, blocks], every block's scale (block:
 * the values a block holds). */
static size_t
scales_per_block(uint64_t rows, uint64_t cols, uint32_t block, uint64_t dims[2])
{
	dims[0] = rows;
	dims[1] = tstream_blocks(cols, block);
	return 2;
}

/* row-i8: f32 [rows, 1], every row's scale. */
static size_t
scales_rows(uint64_t rows, uint64_t cols, uint32_t block, uint64_t dims[2])
{
	(void)cols, (void)block;
	dims[0] = rows;
	dims[1] = 1;
	return 2;
}

static const struct tstream_encoding encodings[] = {
	{ TSTREAM__ENCODING__PLAIN, "plain", 0, 0, 0, 0, "f32", "",
	    layout_plain, NULL, 0 },
	{ TSTREAM__ENCODING__TERNARY_HF_PACKED, "ternary-hf-packed",
	    TSTREAM__DTYPE__U8, 1, 1, 0, NULL, NULL, layout_hf_packed, NULL,
	    0 },
	{ TSTREAM__ENCODING__TERNARY_I2S, "ternary-i2s", TSTREAM__DTYPE__U8,
	    1, 0, 0, NULL, NULL, layout_i2s, NULL, 0 },
	{ TSTREAM__ENCODING__TERNARY_INT8, "ternary-int8", TSTREAM__DTYPE__I8,
	    1, 1, 0, "int8", "_int8", layout_int8, scales_int8, 0 },
	{ TSTREAM__ENCODING__TERNARY_Q2, "ternary-q2", TSTREAM__DTYPE__U8,
	    1, 1, 1, "q2", "_q2", layout_q2, scales_per_block, 0 },
	{ TSTREAM__ENCODING__BLOCK_Q8, "block-q8", TSTREAM__DTYPE__U8, 0, 0,
	    1, NULL, NULL, layout_q8, scales_per_block, 0 },
	{ TSTREAM__ENCODING__BLOCK_Q4, "block-q4", TSTREAM__DTYPE__U8, 0, 0,
	    1, NULL, NULL, layout_q4, scales_per_block, 0 },
	{ TSTREAM__ENCODING__ROW_I8, "row-i8", TSTREAM__DTYPE__I8, 0, 0, 0,
	    NULL, NULL, layout_row_i8, scales_rows, 0 },
	{ TSTREAM__ENCODING__TERNARY_Q2_SLOT, "ternary-q2-slot",
	    TSTREAM__DTYPE__U8, 1, 1, 1, "q2s", "_q2", layout_q2,
	    scales_per_block, 1 },
};
#define N_ENCODINGS	(sizeof encodings / sizeof *encodings)

const struct tstream_encoding *
tstream_encoding_of(Tstream__Encoding e)
{
	for (size_t i = 0; i < N_ENCODINGS; i++)
		if (encodings[i].id == e)
			return &encodings[i];
	return NULL;
}

const struct tstream_encoding *
tstream_encoding_by_form(const char *s)
{
	return rowname_find(ROWNAME_TABLE(encodings, struct tstream_encoding,
	    form), s);
}

const char *
tstream_encoding_forms(const char *sep, char *buf, size_t len)
{
	return rowname_join(ROWNAME_TABLE(encodings, struct tstream_encoding,
	    form), sep, sep, buf, len);
}

const char *
tstream_encoding_name(Tstream__Encoding e)
{
	const struct tstream_encoding *enc = tstream_encoding_of(e);

	return enc ? enc->name : "?";
}

int
tstream_layout(const Tstream__TensorInfo *t, struct tstream_layout *l)
{
	const struct tstream_encoding *enc = tstream_encoding_of(t->encoding);
	uint64_t n;

	if (enc == NULL || t->n_shape > TSTREAM_MAX_RANK ||
	    shape_numel(t->shape, t->n_shape, &n) == -1 ||
	    (enc->dtype != 0 && t->dtype != enc->dtype))
		return -1;
	l->dtype = t->dtype;
	l->rank = t->n_shape;
	if (t->n_shape > 0)
		memcpy(l->dims, t->shape, t->n_shape * sizeof *t->shape);
	return enc->layout(t, n, l);
}

size_t
tstream_scales_shape(const Tstream__TensorInfo *t, uint64_t dims[2])
{
	const struct tstream_encoding *enc = tstream_encoding_of(t->encoding);

	if (enc == NULL || enc->scales_shape == NULL || t->n_shape != 2)
		return 0;
	return enc->scales_shape(t->shape[0], t->shape[1],
	    t->block_size - enc->slot, dims);
}

uint32_t
tstream_block_values(Tstream__Encoding e, uint32_t block)
{
	const struct tstream_encoding *enc = tstream_encoding_of(e);

	return enc != NULL ? block - enc->slot : block;
}
