/* SPDX-License-Identifier: ISC */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockq8.h"
#include "compact.h"
#include "recode.h"
#include "unit.h"

enum { ROWS = 4, COLS = 20 };

/* A ternary weight [ROWS, COLS] as it arrives (packed), and its values. */
struct weight {
	Tstream__TensorInfo in;
	uint64_t shape[2];
	int8_t t[ROWS * COLS];
};

static void
weight_init(struct weight *w)
{
	tstream__tensor_info__init(&w->in);
	w->in.name = "model.layers.0.mlp.up_proj.weight";
	w->in.has_dtype = w->in.has_encoding = w->in.has_payload_length = 1;
	w->in.dtype = TSTREAM__DTYPE__U8;
	w->in.encoding = TSTREAM__ENCODING__TERNARY_HF_PACKED;
	w->shape[0] = ROWS;
	w->shape[1] = COLS;
	w->in.shape = w->shape;
	w->in.n_shape = 2;
	w->in.payload_length = ROWS / 4 * COLS;
	for (int i = 0; i < ROWS * COLS; i++)
		w->t[i] = (int8_t)((i * 7 + i / 3) % 3 - 1);
}

/* --to's forms are the encodings' rows, --embed's the table forms'. */
START_TEST(form_names)
{
	const struct recode_table_form *tf;
	char names[64];

	ck_assert_int_eq(tstream_encoding_by_form("q2")->id,
	    TSTREAM__ENCODING__TERNARY_Q2);
	ck_assert_int_eq(tstream_encoding_by_form("q2s")->id,
	    TSTREAM__ENCODING__TERNARY_Q2_SLOT);
	ck_assert_int_eq(tstream_encoding_by_form("int8")->id,
	    TSTREAM__ENCODING__TERNARY_INT8);
	ck_assert_int_eq(tstream_encoding_by_form("f32")->id,
	    TSTREAM__ENCODING__PLAIN);
	ck_assert_ptr_null(tstream_encoding_by_form("q4"));
	ck_assert_ptr_null(tstream_encoding_by_form(""));
	ck_assert_str_eq(tstream_encoding_forms(", ", names, sizeof names),
	    "f32, int8, q2, q2s");
	ck_assert_str_eq(recode_table_form_names(", ", " or ", names,
	    sizeof names), "f16, f32, keep, q8, q4, q4-256 or int8");
	ck_assert_str_eq(recode_table_form_names(", ", " or ", names, 9),
	    "f16, f32");	/* cut short */
	ck_assert_ptr_eq(recode_table_form_at(0),
	    recode_table_form_by_name("f16"));
	tf = recode_table_form_by_name("q8");
	ck_assert_int_eq(tf->encoding, TSTREAM__ENCODING__BLOCK_Q8);
	ck_assert_uint_eq(tf->block, BLOCKQ8_TABLE_BLOCK);
	ck_assert_ptr_eq(recode_table_form_by_name("int8")->quantize_row,
	    blockq8_quantize_row_i8);
	ck_assert_ptr_eq(tf->quantize_row, blockq8_quantize_row);
	tf = recode_table_form_by_name("q4");
	ck_assert_int_eq(tf->encoding, TSTREAM__ENCODING__BLOCK_Q4);
	ck_assert_ptr_eq(tf->quantize_row, blockq4_quantize_row);
	ck_assert_uint_eq(tf->block, BLOCKQ8_TABLE_BLOCK);
	tf = recode_table_form_by_name("q4-256");
	ck_assert_int_eq(tf->encoding, TSTREAM__ENCODING__BLOCK_Q4);
	ck_assert_ptr_eq(tf->quantize_row, blockq4_quantize_row);
	ck_assert_uint_eq(tf->block, BLOCKQ4_WIDE_BLOCK);
	ck_assert_ptr_null(recode_table_form_by_name("q6"));
	ck_assert_ptr_null(recode_table_form_at(7));
}
END_TEST

/* The entries each form makes: layouts and the scales' shape. */
START_TEST(info_of_each_form)
{
	Tstream__TensorInfo out[2];
	uint64_t shapes[2][2];
	char sname[128];
	struct diag d = { 0 };
	struct weight w;

	weight_init(&w);
	ck_assert_int_eq(compact_info(&w.in, TSTREAM__ENCODING__TERNARY_INT8,
	    16, out, shapes, sname, sizeof sname, &d), 2);
	ck_assert_int_eq(out[0].encoding, TSTREAM__ENCODING__TERNARY_INT8);
	ck_assert_int_eq(out[0].dtype, TSTREAM__DTYPE__I8);
	ck_assert_uint_eq(out[0].payload_length, ROWS * COLS);
	ck_assert_str_eq(out[1].name,
	    "model.layers.0.mlp.up_proj.weight.scales");
	ck_assert_uint_eq(out[1].n_shape, 1);
	ck_assert_uint_eq(out[1].shape[0], 1);
	ck_assert_uint_eq(out[1].payload_length, 4);

	ck_assert_int_eq(compact_info(&w.in, TSTREAM__ENCODING__TERNARY_Q2, 16,
	    out, shapes, sname, sizeof sname, &d), 2);
	ck_assert_int_eq(out[0].encoding, TSTREAM__ENCODING__TERNARY_Q2);
	ck_assert_uint_eq(out[0].block_size, 16);
	/* 20 values: two blocks of 16, four bytes each */
	ck_assert_uint_eq(out[0].payload_length, ROWS * 2 * 4);
	ck_assert_uint_eq(out[1].n_shape, 2);
	ck_assert_uint_eq(out[1].shape[0], ROWS);
	ck_assert_uint_eq(out[1].shape[1], 2);
	ck_assert_uint_eq(out[1].payload_length, ROWS * 2 * 4);

	w.in.n_shape = 1;	/* not a matrix */
	ck_assert_int_eq(compact_info(&w.in, TSTREAM__ENCODING__TERNARY_Q2, 16,
	    out, shapes, sname, sizeof sname, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "must be a matrix"));
}
END_TEST

/* compact_write's stream for m in encoding enc (block 16): its two
 * payloads. */
static void
write_and_read(const struct weight *w, Tstream__Encoding enc,
    uint8_t *weight_out, size_t wlen, float *scales_out, size_t slen)
{
	struct ternary_matrix m = { (int8_t *)w->t, ROWS, COLS, 0.25f };
	Tstream__TensorInfo out[2], *manifest[2] = { &out[0], &out[1] };
	Tstream__ModelConfig cfg;
	Tstream__StreamHeader h;
	const Tstream__TensorInfo *t;
	struct tstream_writer wr;
	struct tstream_reader r;
	uint64_t shapes[2][2];
	char sname[128], *buf = NULL;
	size_t len;
	struct diag d = { 0 };
	FILE *fp = open_memstream(&buf, &len);

	ck_assert_int_eq(compact_info(&w->in, enc, 16, out, shapes, sname,
	    sizeof sname, &d), 2);
	tstream__model_config__init(&cfg);
	tstream__stream_header__init(&h);
	h.has_version = 1;
	h.version = TSTREAM_VERSION;
	h.config = &cfg;
	h.manifest = manifest;
	h.n_manifest = 2;
	ck_assert_int_eq(tstream_writer_open(&wr, fp, "mem", &h, &d), 0);
	ck_assert_int_eq(compact_write(&m, &w->in, enc, 16, &wr, &d), 0);
	ck_assert_int_eq(tstream_writer_finish(&wr, &d), 0);
	tstream_writer_close(&wr);
	fclose(fp);

	fp = fmemopen(buf, len, "rb");
	ck_assert_int_eq(tstream_reader_open(&r, fp, "mem", &d), 0);
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 1);
	ck_assert_uint_eq(t->payload_length, wlen);
	ck_assert_float_eq(t->scale, 0.25f);
	ck_assert_int_eq(tstream_read_payload(&r, weight_out, wlen, &d), 0);
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 1);
	ck_assert_uint_eq(t->payload_length, slen * sizeof(float));
	ck_assert_int_eq(tstream_read_payload(&r, scales_out,
	    slen * sizeof(float), &d), 0);
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 0);
	tstream_reader_close(&r);
	fclose(fp);
	free(buf);
}

START_TEST(int8_is_w_transposed)
{
	uint8_t got[ROWS * COLS];
	float scale;
	struct weight w;

	weight_init(&w);
	write_and_read(&w, TSTREAM__ENCODING__TERNARY_INT8, got, sizeof got,
	    &scale, 1);
	for (int r = 0; r < ROWS; r++)
		for (int c = 0; c < COLS; c++)
			ck_assert_int_eq((int8_t)got[c * ROWS + r],
			    w.t[r * COLS + c]);
	ck_assert_float_eq(scale, 0.25f);
}
END_TEST

START_TEST(q2_codes_blocks_and_padding)
{
	uint8_t got[ROWS * 2 * 4];
	float scales[ROWS * 2];
	struct weight w;

	weight_init(&w);
	write_and_read(&w, TSTREAM__ENCODING__TERNARY_Q2, got, sizeof got,
	    scales, ROWS * 2);
	for (int r = 0; r < ROWS; r++)
		for (int k = 0; k < 32; k++) {	/* two blocks of 16 */
			unsigned code = (got[r * 8 + k / 4] >> (2 * (k % 4))) &
			    3;
			int want = k < COLS ? w.t[r * COLS + k] + 2 : 2;

			ck_assert_uint_eq(code, (unsigned)want);
		}
	for (int i = 0; i < ROWS * 2; i++)
		ck_assert_float_eq(scales[i], 0.25f);
}
END_TEST

/* q2-slot: 15 values a block of 16, a zero code in its last slot; the
 * 20 values take two blocks, the second padded with zeros. */
START_TEST(q2_slot_codes_and_zero_slot)
{
	uint8_t got[ROWS * 2 * 4];
	float scales[ROWS * 2];
	struct weight w;

	weight_init(&w);
	write_and_read(&w, TSTREAM__ENCODING__TERNARY_Q2_SLOT, got,
	    sizeof got, scales, ROWS * 2);
	for (int r = 0; r < ROWS; r++)
		for (int p = 0; p < 32; p++) {
			unsigned code = (got[r * 8 + p / 4] >> (2 * (p % 4))) &
			    3;
			int k = p / 16 * 15 + p % 16;
			int want = p % 16 < 15 && k < COLS ?
			    w.t[r * COLS + k] + 2 : 2;

			ck_assert_uint_eq(code, (unsigned)want);
		}
	ck_assert_uint_eq((got[3] >> 6) & 3, 2);	/* slot 15 of row 0 */
	for (int i = 0; i < ROWS * 2; i++)
		ck_assert_float_eq(scales[i], 0.25f);
}
END_TEST

/* Q8_0's rounding: d = max|x| / 127, q = round half away from zero of
 * x * (1/d); a zero block; the padded tail; a value that is not finite. */
START_TEST(block_q8_rows)
{
	float x[40] = { 127.0f, -63.5f, 0.5f, -0.5f, 1.49f, 0.0f };
	uint8_t codes[64], i8[64];
	float scales[2];
	uint64_t bad = 0;

	ck_assert_int_eq(blockq8_quantize_row(x, 40, 32, codes, scales, &bad),
	    0);
	ck_assert_float_eq(scales[0], 1.0f);
	ck_assert_uint_eq(codes[0], 128 + 127);
	ck_assert_uint_eq(codes[1], 128 - 64);	/* -63.5 away from zero */
	ck_assert_uint_eq(codes[2], 128 + 1);
	ck_assert_uint_eq(codes[3], 128 - 1);
	ck_assert_uint_eq(codes[4], 128 + 1);
	ck_assert_uint_eq(codes[5], 128);
	ck_assert_float_eq(scales[1], 0.0f);	/* x[32..39] are zeros */
	for (int k = 32; k < 64; k++)
		ck_assert_uint_eq(codes[k], BLOCKQ8_ZERO);
	/* as int8: the same values, padding included, without the offset */
	ck_assert_int_eq(blockq8_quantize_row_i8(x, 40, 32, i8, scales, &bad),
	    0);
	for (int k = 0; k < 64; k++)
		ck_assert_int_eq((int8_t)i8[k], (int)codes[k] - 128);
	x[32] = 1e-40f;		/* a subnormal block: 1 / d overflows */
	ck_assert_int_eq(blockq8_quantize_row(x, 40, 32, codes, scales, &bad),
	    0);
	for (int k = 33; k < 64; k++)
		ck_assert_uint_eq(codes[k], BLOCKQ8_ZERO);
	x[32] = 0.0f;
	x[37] = NAN;
	ck_assert_int_eq(blockq8_quantize_row(x, 40, 32, codes, scales, &bad),
	    -1);
	ck_assert_uint_eq(bad, 37);
}
END_TEST

/* The value (code - 8) * scale of code i of a block-q4 row. */
static float
q4_value(const uint8_t *codes, const float *scales, int i, int block)
{
	int c = i % 2 ? codes[i / 2] >> 4 : codes[i / 2] & 15;

	return (float)(c - (int)BLOCKQ4_ZERO) * scales[i / block];
}

/* Block-q4: a block of multiples of one step in -8..7 comes back exactly,
 * two codes a byte, the first low; a block of other values with less
 * squared error than Q4_0's d = m / -8 leaves; the padded tail; a value
 * that is not finite. */
START_TEST(block_q4_rows)
{
	static const float steps[8] = { -8, 7, 3, -2, 0, 1, -5, 6 };
	float x[72] = { 0 }, scales[3];
	uint8_t codes[48];	/* 3 blocks of 16 bytes, the last padded */
	uint64_t bad = 0;
	double err = 0.0, q40 = 0.0;

	for (int k = 0; k < 32; k++) {
		x[k] = 0.25f * steps[k % 8];
		x[32 + k] = sinf(0.7f * (float)k) * (1.0f + (float)k / 8.0f);
	}
	ck_assert_int_eq(blockq4_quantize_row(x, 72, 32, codes, scales, &bad),
	    0);
	ck_assert_float_eq(scales[0], 0.25f);
	ck_assert_uint_eq(codes[0], 0u | 15u << 4);	/* -8 + 8, 7 + 8 */
	for (int k = 0; k < 32; k++)
		ck_assert_float_eq(q4_value(codes, scales, k, 32), x[k]);
	float m = 0.0f;
	for (int k = 32; k < 64; k++)
		m = fabsf(x[k]) > fabsf(m) ? x[k] : m;
	for (int k = 32; k < 64; k++) {
		float q = fminf(fmaxf(roundf(x[k] * -8.0f / m), -8.0f), 7.0f);
		double e = x[k] - q * (m / -8.0f);

		q40 += e * e;
		e = x[k] - q4_value(codes, scales, k, 32);
		err += e * e;
	}
	ck_assert(err < q40 && err > 0.0);
	ck_assert_float_eq(scales[2], 0.0f);	/* x[64..71] are zeros */
	for (int k = 32; k < 48; k++)
		ck_assert_uint_eq(codes[k], BLOCKQ4_ZERO * 17u);
	x[65] = INFINITY;
	ck_assert_int_eq(blockq4_quantize_row(x, 72, 32, codes, scales, &bad),
	    -1);
	ck_assert_uint_eq(bad, 65);
	/* a block of one subnormal and zeros: 1 / d overflows, and the
	 * zeros still code as zeros (the fuzzer found 0 * inf here) */
	memset(x, 0, 32 * sizeof *x);
	x[0] = 1e-40f;
	ck_assert_int_eq(blockq4_quantize_row(x, 32, 32, codes, scales, &bad),
	    0);
	ck_assert_uint_eq(codes[0] >> 4, BLOCKQ4_ZERO);
	for (int k = 1; k < 16; k++)
		ck_assert_uint_eq(codes[k], BLOCKQ4_ZERO * 17u);
}
END_TEST

/* Blocks of 256 (q4-256): one scale for 256 values, exact on a grid of
 * its steps; a row of 300 pads its second block with zero codes. */
START_TEST(block_q4_wide_rows)
{
	static const float steps[8] = { -8, 7, 3, -2, 0, 1, -5, 6 };
	float x[300], scales[2];
	uint8_t codes[256];	/* 2 blocks of 128 bytes */
	uint64_t bad = 0;

	for (int k = 0; k < 300; k++)
		x[k] = (k < 256 ? 0.5f : 0.125f) * steps[k % 8];
	ck_assert_int_eq(blockq4_quantize_row(x, 300, BLOCKQ4_WIDE_BLOCK,
	    codes, scales, &bad), 0);
	ck_assert_float_eq(scales[0], 0.5f);
	ck_assert_float_eq(scales[1], 0.125f);
	for (int k = 0; k < 300; k++)
		ck_assert_float_eq(q4_value(codes, scales, k,
		    BLOCKQ4_WIDE_BLOCK), x[k]);
	for (int k = 128 + 22; k < 256; k++)	/* values 300..511 */
		ck_assert_uint_eq(codes[k], BLOCKQ4_ZERO * 17u);
	x[299] = NAN;
	ck_assert_int_eq(blockq4_quantize_row(x, 300, BLOCKQ4_WIDE_BLOCK,
	    codes, scales, &bad), -1);
	ck_assert_uint_eq(bad, 299);
}
END_TEST

Suite *
suite_compact(void)
{
	return UNIT_SUITE("compact", form_names, info_of_each_form,
	    int8_is_w_transposed, q2_codes_blocks_and_padding,
	    q2_slot_codes_and_zero_slot, block_q8_rows, block_q4_rows,
	    block_q4_wide_rows);
}
