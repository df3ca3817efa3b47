/* SPDX-License-Identifier: ISC */
#define _GNU_SOURCE	/* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tstream.h"
#include "unit.h"

struct fixture {
	Tstream__ModelConfig cfg;
	Tstream__TensorInfo a, b;
	Tstream__TensorInfo *manifest[2];
	Tstream__StreamHeader h;
	uint64_t shape_a[2], shape_b[2];
};

static void
fixture_init(struct fixture *f)
{
	tstream__model_config__init(&f->cfg);
	f->cfg.model_type = "bitnet";
	f->cfg.has_hidden_size = 1;
	f->cfg.hidden_size = 8;
	tstream__tensor_info__init(&f->a);
	f->a.name = "w.a";
	f->a.has_dtype = f->a.has_encoding = f->a.has_payload_length = 1;
	f->a.dtype = TSTREAM__DTYPE__F32;
	f->a.encoding = TSTREAM__ENCODING__PLAIN;
	f->shape_a[0] = 3;
	f->shape_a[1] = 5;
	f->a.shape = f->shape_a;
	f->a.n_shape = 2;
	f->a.payload_length = 60;
	f->b = f->a;
	f->b.name = "w.b";
	f->b.dtype = TSTREAM__DTYPE__U8;
	f->b.encoding = TSTREAM__ENCODING__TERNARY_HF_PACKED;
	f->shape_b[0] = 8;
	f->shape_b[1] = 3;
	f->b.shape = f->shape_b;
	f->b.payload_length = 6;
	f->b.has_scale = 1;
	f->b.scale = 0.75f;
	f->manifest[0] = &f->a;
	f->manifest[1] = &f->b;
	tstream__stream_header__init(&f->h);
	f->h.has_version = 1;
	f->h.version = TSTREAM_VERSION;
	f->h.config = &f->cfg;
	f->h.manifest = f->manifest;
	f->h.n_manifest = 2;
}

/* Write the fixture's stream into a malloc'd buffer. */
static unsigned char *
write_stream(struct fixture *f, size_t *len)
{
	unsigned char payload[60];
	struct tstream_writer w;
	struct diag d = { 0 };
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (unsigned char)(i * 3);
	payload[0] = 0x15;	/* codes 1,1,1,0: no code 3 */
	ck_assert_int_eq(tstream_writer_open(&w, fp, "mem", &f->h, &d), 0);
	ck_assert_int_eq(tstream_begin_tensor(&w, &f->a, &d), 0);
	ck_assert_int_eq(tstream_write_payload(&w, payload, 17, &d), 0);
	ck_assert_int_eq(tstream_write_payload(&w, payload + 17, 43, &d), 0);
	ck_assert_int_eq(tstream_end_tensor(&w, &d), 0);
	ck_assert_int_eq(tstream_begin_tensor(&w, &f->b, &d), 0);
	ck_assert_int_eq(tstream_write_payload(&w, payload, 6, &d), 0);
	ck_assert_int_eq(tstream_end_tensor(&w, &d), 0);
	ck_assert_int_eq(tstream_writer_finish(&w, &d), 0);
	tstream_writer_close(&w);
	fclose(fp);
	return (unsigned char *)buf;
}

/* Read a whole stream; returns 0 when complete, else -1 with d set. */
static int
read_all(const unsigned char *buf, size_t len, struct diag *d)
{
	const Tstream__TensorInfo *t;
	struct tstream_reader r;
	unsigned char payload[64];
	FILE *fp = fmemopen((void *)buf, len ? len : 1, "rb");
	int rc;

	if (len == 0)
		fgetc(fp);	/* an empty input */
	rc = tstream_reader_open(&r, fp, "mem", d);
	while (rc == 0 && (rc = tstream_next_tensor(&r, &t, d)) == 1)
		rc = tstream_read_payload(&r, payload, t->payload_length, d);
	tstream_reader_close(&r);
	fclose(fp);
	return rc;
}

START_TEST(round_trip)
{
	const Tstream__TensorInfo *t;
	struct tstream_reader r;
	struct fixture f;
	struct diag d = { 0 };
	unsigned char *buf, got[60];
	size_t len;
	FILE *fp;

	fixture_init(&f);
	buf = write_stream(&f, &len);
	ck_assert_mem_eq(buf, TSTREAM_MAGIC, 8);
	fp = fmemopen(buf, len, "rb");
	ck_assert_int_eq(tstream_reader_open(&r, fp, "mem", &d), 0);
	ck_assert_uint_eq(r.header->n_manifest, 2);
	ck_assert_str_eq(r.header->config->model_type, "bitnet");
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 1);
	ck_assert_str_eq(t->name, "w.a");
	ck_assert_int_eq(tstream_read_payload(&r, got, 60, &d), 0);
	ck_assert_uint_eq(got[59], (59 * 3) & 0xff);
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 1);
	ck_assert_str_eq(t->name, "w.b");
	ck_assert(t->has_scale && t->scale == 0.75f);
	ck_assert_uint_eq(t->shape[0], 8);
	ck_assert_int_eq(tstream_skip_payload(&r, &d), 0);
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 0);
	tstream_reader_close(&r);
	fclose(fp);
	free(buf);
}
END_TEST

START_TEST(every_truncation_fails)
{
	struct fixture f;
	struct diag d = { 0 };
	unsigned char *buf;
	size_t len;

	fixture_init(&f);
	buf = write_stream(&f, &len);
	ck_assert_int_eq(read_all(buf, len, &d), 0);
	for (size_t cut = 0; cut < len; cut++) {
		ck_assert_msg(read_all(buf, cut, &d) == -1,
		    "a stream cut at %zu of %zu bytes was accepted", cut, len);
		ck_assert_msg(strstr(d.msg, "mem") != NULL, "%s", d.msg);
	}
	ck_assert_int_eq(read_all(buf, len - 20, &d), -1);
	ck_assert_msg(strstr(d.msg, "truncated") != NULL, "%s", d.msg);
	free(buf);
}
END_TEST

START_TEST(corruption_is_caught)
{
	struct fixture f;
	struct diag d = { 0 };
	unsigned char *buf, *p;
	size_t len;

	fixture_init(&f);
	buf = write_stream(&f, &len);
	buf[0] = 'X';
	ck_assert_int_eq(read_all(buf, len, &d), -1);
	ck_assert_msg(strstr(d.msg, "bad magic") != NULL, "%s", d.msg);
	buf[0] = 0x89;
	/* flip one payload byte of w.a: its checksum must not match */
	p = memmem(buf, len, "TEND", 4);
	ck_assert_ptr_nonnull(p);
	p[-5] ^= 0x40;
	ck_assert_int_eq(read_all(buf, len, &d), -1);
	ck_assert_msg(strstr(d.msg, "checksum mismatch") != NULL &&
	    strstr(d.msg, "w.a") != NULL, "%s", d.msg);
	free(buf);
}
END_TEST

START_TEST(writer_keeps_to_manifest)
{
	Tstream__TensorInfo stranger;
	struct tstream_writer w;
	struct fixture f;
	struct diag d = { 0 };
	char *buf = NULL;
	size_t len;
	FILE *fp = open_memstream(&buf, &len);

	fixture_init(&f);
	stranger = f.a;
	stranger.name = "w.c";
	ck_assert_int_eq(tstream_writer_open(&w, fp, "mem", &f.h, &d), 0);
	ck_assert_int_eq(tstream_begin_tensor(&w, &stranger, &d), -1);
	ck_assert_msg(strstr(d.msg, "not in the manifest") != NULL, "%s",
	    d.msg);
	ck_assert_int_eq(tstream_begin_tensor(&w, &f.a, &d), 0);
	ck_assert_int_eq(tstream_write_payload(&w, buf, 61, &d), -1);
	ck_assert_int_eq(tstream_end_tensor(&w, &d), -1);
	ck_assert_msg(strstr(d.msg, "short") != NULL, "%s", d.msg);
	tstream_writer_close(&w);
	fclose(fp);
	free(buf);
}
END_TEST

START_TEST(writer_refuses_bad_header)
{
	struct tstream_writer w;
	struct fixture f;
	struct diag d = { 0 };
	char *buf = NULL;
	size_t len;
	FILE *fp = open_memstream(&buf, &len);

	fixture_init(&f);
	f.a.payload_length = 59;
	ck_assert_int_eq(tstream_writer_open(&w, fp, "mem", &f.h, &d), -1);
	ck_assert_msg(strstr(d.msg, "expected 60") != NULL, "%s", d.msg);
	tstream_writer_close(&w);
	fixture_init(&f);
	f.b.name = "w.a";
	ck_assert_int_eq(tstream_writer_open(&w, fp, "mem", &f.h, &d), -1);
	ck_assert_msg(strstr(d.msg, "twice") != NULL, "%s", d.msg);
	tstream_writer_close(&w);
	fixture_init(&f);
	f.shape_b[0] = 6;	/* not a multiple of 4: cannot be packed */
	ck_assert_int_eq(tstream_writer_open(&w, fp, "mem", &f.h, &d), -1);
	ck_assert_msg(strstr(d.msg, "cannot hold") != NULL, "%s", d.msg);
	tstream_writer_close(&w);
	fclose(fp);
	free(buf);
}
END_TEST

START_TEST(empty_tensor)
{
	const Tstream__TensorInfo *t;
	struct tstream_writer w;
	struct tstream_reader r;
	struct fixture f;
	struct diag d = { 0 };
	char *buf = NULL;
	size_t len;
	FILE *fp = open_memstream(&buf, &len);

	fixture_init(&f);
	f.shape_a[0] = 0;
	f.a.payload_length = 0;
	f.h.n_manifest = 1;
	ck_assert_int_eq(tstream_writer_open(&w, fp, "mem", &f.h, &d), 0);
	ck_assert_int_eq(tstream_begin_tensor(&w, &f.a, &d), 0);
	ck_assert_int_eq(tstream_end_tensor(&w, &d), 0);
	ck_assert_int_eq(tstream_writer_finish(&w, &d), 0);
	tstream_writer_close(&w);
	fclose(fp);
	fp = fmemopen(buf, len, "rb");
	ck_assert_int_eq(tstream_reader_open(&r, fp, "mem", &d), 0);
	ck_assert_int_eq(tstream_next_tensor(&r, &t, &d), 1);
	ck_assert_uint_eq(t->payload_length, 0);
	ck_assert_msg(tstream_next_tensor(&r, &t, &d) == 0, "%s", d.msg);
	tstream_reader_close(&r);
	fclose(fp);
	free(buf);
}
END_TEST

START_TEST(header_copy_is_deep)
{
	Tstream__StreamHeader *c;
	struct fixture f;
	struct diag d = { 0 };

	fixture_init(&f);
	c = tstream_header_copy(&f.h, &d);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_ne(c->manifest[0], &f.a);
	ck_assert_str_eq(c->manifest[1]->name, "w.b");
	ck_assert_int_eq(tstream_header_add_producer(c, "x 1", &d), 0);
	ck_assert_uint_eq(c->n_producers, 1);
	ck_assert_uint_eq(f.h.n_producers, 0);
	tstream__stream_header__free_unpacked(c, NULL);
}
END_TEST

Suite *
suite_tstream(void)
{
	return UNIT_SUITE("tstream", round_trip, every_truncation_fails,
	    corruption_is_caught, writer_keeps_to_manifest,
	    writer_refuses_bad_header, header_copy_is_deep, empty_tensor);
}
