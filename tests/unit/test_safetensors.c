/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"
#include "unit.h"

/* Parse json as a header for data_size bytes; returns the rc, d holds
 * the message. */
static int
parse(struct st_file *f, const char *json, uint64_t data_size,
    struct diag *d)
{
	memset(f, 0, sizeof *f);
	f->fd = -1;
	return st_parse_header(f, json, strlen(json), data_size, "m.st", d);
}

static void
expect_error(const char *json, uint64_t data_size, const char *needle)
{
	struct st_file f;
	struct diag d = { 0 };

	ck_assert_int_eq(parse(&f, json, data_size, &d), -1);
	ck_assert_msg(strstr(d.msg, needle) != NULL, "'%s' lacks '%s'",
	    d.msg, needle);
	ck_assert_msg(strstr(d.msg, "m.st") != NULL, "no file in '%s'", d.msg);
	st_close(&f);
}

START_TEST(valid_header)
{
	const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
	    "\"b\":{\"dtype\":\"U8\",\"shape\":[2,3],\"data_offsets\":[8,14]},"
	    "\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]},"
	    "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[14,18]}}";
	const struct st_tensor *t;
	struct st_file f;
	struct diag d = { 0 };

	ck_assert_int_eq(parse(&f, json, 18, &d), 0);
	ck_assert_uint_eq(f.n_tensors, 3);
	t = st_find(&f, "b");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->dtype, TSTREAM__DTYPE__U8);
	ck_assert_uint_eq(t->rank, 2);
	ck_assert_uint_eq(t->shape[1], 3);
	ck_assert_uint_eq(t->begin, 8);
	ck_assert_uint_eq(st_find(&f, "s")->rank, 0);
	ck_assert_ptr_null(st_find(&f, "__metadata__"));
	st_close(&f);
}
END_TEST

START_TEST(bad_headers)
{
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
	    "\"data_offsets\":[0,16]}}", 8, "out of range");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
	    "\"data_offsets\":[0,12]}}", 16, "needs 16");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	    "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
	    "\"data_offsets\":[4,12]}}", 16, "overlap");
	expect_error("{\"a\":{\"dtype\":\"Q4\",\"shape\":[4],"
	    "\"data_offsets\":[0,2]}}", 16, "dtype 'Q4'");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],"
	    "\"data_offsets\":[8,4]}}", 16, "out of range");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],"
	    "\"data_offsets\":[0,4]}}", 16, "'shape'");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
	    "4294967296],\"data_offsets\":[0,4]}}", 16, "overflows");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0]}}", 16, "'data_offsets'");
	expect_error("{\"a\":[1,2]}", 16, "not an object");
	expect_error("{\"a\": {\"dtype\":", 16, "invalid JSON");
	expect_error("[1,2,3]", 16, "not a JSON object");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[4,8]}}", 16, "invalid JSON");
	expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
	    "\"data_offsets\":[0,4]}}", 16, "at most 8");
}
END_TEST

static char *
write_temp(const void *data, size_t n)
{
	char *path = strdup("/tmp/bn-unit-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

static void
expect_open_error(const void *data, size_t n, const char *needle)
{
	char *path = write_temp(data, n);
	struct st_file f;
	struct diag d = { 0 };

	ck_assert_int_eq(st_open(&f, path, &d), -1);
	ck_assert_msg(strstr(d.msg, needle) != NULL, "'%s' lacks '%s'",
	    d.msg, needle);
	ck_assert_msg(strstr(d.msg, path) != NULL, "no path in '%s'", d.msg);
	st_close(&f);
	unlink(path);
	free(path);
}

START_TEST(open_checks_sizes)
{
	unsigned char past[16] = { 100, 0, 0, 0, 0, 0, 0, 0, '{', '}' };
	unsigned char huge[16] = { 0, 0, 0, 0, 0, 0, 0, 0x10, '{', '}' };

	expect_open_error("\x02\x00", 2, "too short");
	expect_open_error(past, sizeof past, "past the end");
	expect_open_error(huge, sizeof huge, "limit");
}
END_TEST

START_TEST(open_and_read)
{
	const char *json = "{\"t\":{\"dtype\":\"U8\",\"shape\":[4],"
	    "\"data_offsets\":[0,4]}}";
	unsigned char file[128] = { 0 }, got[4];
	size_t hl = strlen(json);
	struct st_file f;
	struct diag d = { 0 };
	char *path;

	file[0] = (unsigned char)hl;
	memcpy(file + 8, json, hl);
	memcpy(file + 8 + hl, "\x01\x02\x03\x04", 4);
	path = write_temp(file, 8 + hl + 4);
	ck_assert_int_eq(st_open(&f, path, &d), 0);
	ck_assert_int_eq(st_read_data(&f, &f.tensors[0], 1, got, 3, &d), 0);
	ck_assert_mem_eq(got, "\x02\x03\x04", 3);
	ck_assert_int_eq(st_read_data(&f, &f.tensors[0], 2, got, 3, &d), -1);
	st_close(&f);
	unlink(path);
	free(path);
}
END_TEST

Suite *
suite_safetensors(void)
{
	return UNIT_SUITE("safetensors", valid_header, bad_headers,
	    open_checks_sizes, open_and_read);
}
