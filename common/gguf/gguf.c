/* SPDX-License-Identifier: ISC */
#include "gguf.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggml_types.h"
#include "io.h"

enum gguf_value {
	GV_U8, GV_I8, GV_U16, GV_I16, GV_U32, GV_I32, GV_F32, GV_BOOL,
	GV_STRING, GV_ARRAY, GV_U64, GV_I64, GV_F64
};

/* The memory a metadata value takes once read (a jansson value and its
 * place in an array or object), counted against GGUF_MAX_METADATA with
 * the bytes of its strings: what gguf-read holds, not what the file
 * holds. */
#define GGUF_VALUE_COST	96u

#define RD_BUF	(64u << 10)

/* A buffered front-to-back reader of the file's head. */
struct rd {
	struct gguf_file *g;
	uint64_t pos;
	uint64_t meta;		/* metadata memory taken, against the limit */
	struct diag *d;
	unsigned char buf[RD_BUF];
	uint64_t buf_pos;	/* file offset of buf[0] */
	size_t buf_len;
};

static int
take(struct rd *r, void *out, uint64_t n)
{
	unsigned char *o = out;

	if (n > r->g->file_size || r->pos > r->g->file_size - n)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: the file ends at "
		    "%llu, inside its header (at %llu, %llu more bytes wanted)",
		    r->g->path, (unsigned long long)r->g->file_size,
		    (unsigned long long)r->pos, (unsigned long long)n);
	while (n > 0) {
		uint64_t at = r->pos - r->buf_pos;
		size_t k;

		if (r->pos < r->buf_pos || at >= r->buf_len) {
			size_t want = r->g->file_size - r->pos < RD_BUF ?
			    (size_t)(r->g->file_size - r->pos) : RD_BUF;

			if (io_pread_full(r->g->fd, r->buf, want, r->pos,
			    r->g->path, r->d) == -1)
				return -1;
			r->buf_pos = r->pos;
			r->buf_len = want;
			at = 0;
		}
		k = r->buf_len - at < n ? r->buf_len - (size_t)at : (size_t)n;
		memcpy(o, r->buf + at, k);
		o += k;
		r->pos += k;
		n -= k;
	}
	return 0;
}

/* Count a value's memory; past the limit, fail naming where. */
static int
charge(struct rd *r, uint64_t bytes)
{
	if ((r->meta += bytes + GGUF_VALUE_COST) <= GGUF_MAX_METADATA)
		return 0;
	return diag_fail(r->d, BN_EXIT_INPUT, "%s: the metadata would take "
	    "more than %u MiB of memory once read (at %llu)", r->g->path,
	    GGUF_MAX_METADATA >> 20, (unsigned long long)r->pos);
}

static int
u32(struct rd *r, uint32_t *v)
{
	unsigned char b[4];

	if (take(r, b, 4) == -1)
		return -1;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
	return 0;
}

static int
u64(struct rd *r, uint64_t *v)
{
	uint32_t lo, hi;

	if (u32(r, &lo) == -1 || u32(r, &hi) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int
string(struct rd *r, char **out)
{
	uint64_t n;

	if (u64(r, &n) == -1)
		return -1;
	if (n > GGUF_MAX_STRING)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: a string of %llu "
		    "bytes at %llu, more than %u", r->g->path,
		    (unsigned long long)n, (unsigned long long)r->pos,
		    GGUF_MAX_STRING);
	if (charge(r, n) == -1 ||
	    (*out = io_alloc((size_t)n + 1, r->g->path, r->d)) == NULL)
		return -1;
	if (take(r, *out, n) == -1) {
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[n] = '\0';
	/* a NUL would cut the string where llama.cpp keeps all n bytes */
	if (memchr(*out, '\0', (size_t)n) != NULL) {
		free(*out);
		*out = NULL;
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: the string of %llu "
		    "bytes that ends at %llu holds a NUL byte", r->g->path,
		    (unsigned long long)n, (unsigned long long)r->pos);
	}
	return 0;
}

static json_t *read_value(struct rd *r, uint32_t type, int depth);

static json_t *
read_number(struct rd *r, uint32_t type)
{
	static const unsigned char size[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8,
	    8, 8 };
	unsigned char b[8] = { 0 };
	uint64_t u = 0;

	float f32;
	double f;
	uint32_t w;

	if (take(r, b, size[type]) == -1 || charge(r, 0) == -1)
		return NULL;
	for (int i = size[type] - 1; i >= 0; i--)
		u = u << 8 | b[i];
	switch (type) {
	case GV_I8: return json_integer((int8_t)u);
	case GV_I16: return json_integer((int16_t)u);
	case GV_I32: return json_integer((int32_t)u);
	case GV_I64: return json_integer((json_int_t)u);
	case GV_BOOL: return json_boolean(u != 0);
	case GV_U64:
		if (u > (uint64_t)INT64_MAX) {
			diag_fail(r->d, BN_EXIT_INPUT, "%s: the uint64 value "
			    "that ends at %llu, %llu, is beyond what gguf-read "
			    "holds (2^63 - 1)", r->g->path,
			    (unsigned long long)r->pos, (unsigned long long)u);
			return NULL;
		}
		return json_integer((json_int_t)u);
	case GV_F32:
	case GV_F64:
		break;
	default: return json_integer((json_int_t)u);
	}
	w = (uint32_t)u;
	memcpy(&f32, &w, 4);
	if (type == GV_F64)
		memcpy(&f, &u, 8);
	else
		f = f32;
	if (!isfinite(f)) {
		diag_fail(r->d, BN_EXIT_INPUT, "%s: the float value that ends "
		    "at %llu is %g; metadata values must be finite",
		    r->g->path, (unsigned long long)r->pos, f);
		return NULL;
	}
	return json_real(f);
}

static json_t *
read_array(struct rd *r, int depth)
{
	uint32_t type;
	uint64_t n;
	json_t *a;

	if (u32(r, &type) == -1 || u64(r, &n) == -1)
		return NULL;
	if (depth > 2 || n > GGUF_MAX_ARRAY) {
		diag_fail(r->d, BN_EXIT_INPUT, "%s: an array of %llu elements "
		    "(nested %d deep) at %llu, past the limits", r->g->path,
		    (unsigned long long)n, depth, (unsigned long long)r->pos);
		return NULL;
	}
	if ((a = json_array()) == NULL)
		return NULL;
	for (uint64_t i = 0; i < n; i++) {
		json_t *v = read_value(r, type, depth + 1);
		if (v == NULL || json_array_append_new(a, v) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
read_value(struct rd *r, uint32_t type, int depth)
{
	char *s;
	json_t *v;

	if (type == GV_ARRAY)
		return read_array(r, depth);
	if (type == GV_STRING) {
		if (string(r, &s) == -1)
			return NULL;
		v = json_string(s);	/* NULL for invalid UTF-8 */
		if (v == NULL)
			diag_fail(r->d, BN_EXIT_INPUT, "%s: a string at %llu is "
			    "not UTF-8", r->g->path,
			    (unsigned long long)r->pos);
		free(s);
		return v;
	}
	if (type > GV_F64) {
		diag_fail(r->d, BN_EXIT_INPUT, "%s: unknown metadata value "
		    "type %u at %llu", r->g->path, type,
		    (unsigned long long)r->pos);
		return NULL;
	}
	return read_number(r, type);
}

/* A key as llama.cpp takes it: UTF-8, and not one already read (its
 * loader refuses a file that repeats one, rather than take either). */
static int
check_key(struct rd *r, const char *key)
{
	json_t *s = json_string(key);

	if (s == NULL)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: the metadata key "
		    "that ends at %llu is not UTF-8", r->g->path,
		    (unsigned long long)r->pos);
	json_decref(s);
	if (json_object_get(r->g->kv, key) != NULL)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: metadata key '%s' "
		    "appears twice", r->g->path, key);
	return 0;
}

/* The keys whose value type GGUF fixes, and that gguf-read reads with
 * that meaning. */
static int
check_type(struct rd *r, const char *key, uint32_t type)
{
	if (strcmp(key, "general.alignment") == 0 && type != GV_U32)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: general.alignment "
		    "has value type %u; GGUF makes it a uint32 (type %u)",
		    r->g->path, type, GV_U32);
	return 0;
}

static int
read_kv(struct rd *r, uint64_t n)
{
	if (n > GGUF_MAX_KV)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: %llu metadata keys, "
		    "more than %u", r->g->path, (unsigned long long)n,
		    GGUF_MAX_KV);
	if ((r->g->kv = json_object()) == NULL)
		return diag_fail(r->d, BN_EXIT_IO, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		uint32_t type;
		char *key;
		json_t *v;

		if (string(r, &key) == -1)
			return -1;
		if (check_key(r, key) == -1 || u32(r, &type) == -1 ||
		    check_type(r, key, type) == -1 ||
		    (v = read_value(r, type, 0)) == NULL) {
			free(key);
			return -1;
		}
		if (json_object_set_new(r->g->kv, key, v) == -1) {
			free(key);
			return diag_fail(r->d, BN_EXIT_IO, "out of memory");
		}
		free(key);
	}
	return 0;
}

int
gguf_type_size(uint32_t t, uint64_t n, uint64_t *out)
{
	const struct ggml_type *g = ggml_type_of(t);

	if (g == NULL || n % g->block != 0 ||
	    n / g->block > (UINT64_MAX - g->tail) / g->block_bytes)
		return -1;
	*out = n / g->block * g->block_bytes + g->tail;
	return 0;
}

static int
read_tensor_info(struct rd *r, struct gguf_tensor *t)
{
	uint64_t n = 1;
	char names[128];

	if (string(r, &t->name) == -1 || u32(r, &t->n_dims) == -1)
		return -1;
	if (t->n_dims == 0 || t->n_dims > TSTREAM_MAX_RANK)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: tensor '%s': %u "
		    "dimensions (1 to %u allowed)", r->g->path, t->name,
		    t->n_dims, TSTREAM_MAX_RANK);
	for (uint32_t i = 0; i < t->n_dims; i++) {
		if (u64(r, &t->dims[i]) == -1)
			return -1;
		if (t->dims[i] != 0 && n > UINT64_MAX / t->dims[i])
			return diag_fail(r->d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "shape overflows 64 bits", r->g->path, t->name);
		n *= t->dims[i];
	}
	if (u32(r, &t->type) == -1 || u64(r, &t->offset) == -1)
		return -1;
	/* a block type's rows are whole blocks (I2_S's blocks run over the
	 * whole tensor, its scale after them) */
	if (ggml_type_of(t->type) != NULL && ggml_type_of(t->type)->tail == 0 &&
	    t->dims[0] % ggml_type_of(t->type)->block != 0)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: tensor '%s': rows "
		    "of %llu values are not whole %s blocks of %u", r->g->path,
		    t->name, (unsigned long long)t->dims[0],
		    ggml_type_of(t->type)->name, ggml_type_of(t->type)->block);
	if (gguf_type_size(t->type, n, &t->size) == -1)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: tensor '%s': ggml "
		    "type %u (%s) with %llu values is not one gguf-read reads "
		    "(%s, in whole blocks)", r->g->path, t->name, t->type,
		    ggml_type_of(t->type) ? ggml_type_of(t->type)->name :
		    "unsupported", (unsigned long long)n,
		    ggml_type_names(names, sizeof names));
	return 0;
}

static int
by_offset(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(struct gguf_tensor *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* No two tensors share a byte (llama.cpp's loader takes each span as the
 * tensor's own). */
static int
check_overlaps(const struct gguf_file *g, struct diag *d)
{
	struct gguf_tensor **t = calloc(g->n_tensors + 1, sizeof *t);
	int rc = 0;

	if (t == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < g->n_tensors; i++)
		t[i] = &g->tensors[i];
	qsort(t, g->n_tensors, sizeof *t, by_offset);
	for (size_t i = 1; rc == 0 && i < g->n_tensors; i++)
		if (t[i - 1]->offset + t[i - 1]->size > t[i]->offset)
			rc = diag_fail(d, BN_EXIT_INPUT, "%s: tensors '%s' and "
			    "'%s' overlap (bytes %llu to %llu and from %llu)",
			    g->path, t[i - 1]->name, t[i]->name,
			    (unsigned long long)t[i - 1]->offset,
			    (unsigned long long)(t[i - 1]->offset +
			    t[i - 1]->size), (unsigned long long)t[i]->offset);
	free(t);
	return rc;
}

static int
read_tensors(struct rd *r, uint64_t n)
{
	struct gguf_file *g = r->g;
	json_t *a = json_object_get(g->kv, "general.alignment");
	uint64_t align = json_is_integer(a) ? (uint64_t)json_integer_value(a)
	    : 32;

	if (n > GGUF_MAX_TENSORS)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: %llu tensors, more "
		    "than %u", g->path, (unsigned long long)n, GGUF_MAX_TENSORS);
	if (align == 0 || align > 65536 || (align & (align - 1)))
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: general.alignment "
		    "%llu is not a power of two up to 65536", g->path,
		    (unsigned long long)align);
	if ((g->tensors = calloc(n ? n : 1, sizeof *g->tensors)) == NULL)
		return diag_fail(r->d, BN_EXIT_IO, "out of memory");
	for (; g->n_tensors < n; g->n_tensors++)
		if (read_tensor_info(r, &g->tensors[g->n_tensors]) == -1) {
			free(g->tensors[g->n_tensors].name);
			g->tensors[g->n_tensors].name = NULL;
			return -1;
		}
	g->data_start = (r->pos + align - 1) / align * align;
	for (size_t i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor *t = &g->tensors[i];
		if (g->data_start > g->file_size ||
		    t->offset > g->file_size - g->data_start ||
		    t->size > g->file_size - g->data_start - t->offset)
			return diag_fail(r->d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "its %llu bytes at offset %llu lie past the end of "
			    "the file", g->path, t->name,
			    (unsigned long long)t->size,
			    (unsigned long long)t->offset);
		if (t->offset % align != 0)
			return diag_fail(r->d, BN_EXIT_INPUT, "%s: tensor '%s': "
			    "offset %llu is not a multiple of the alignment "
			    "%llu", g->path, t->name,
			    (unsigned long long)t->offset,
			    (unsigned long long)align);
	}
	return check_overlaps(g, r->d);
}

int
gguf_open(struct gguf_file *g, const char *path, struct diag *d)
{
	struct rd r;
	unsigned char magic[4];
	uint64_t n_tensors, n_kv;
	struct stat st;

	memset(&r, 0, sizeof r);
	r.g = g;
	r.d = d;
	memset(g, 0, sizeof *g);
	g->fd = -1;
	if ((g->path = strdup(path)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if ((g->fd = io_open_regular(path, &st, d)) == -1)
		return -1;
	g->file_size = (uint64_t)st.st_size;
	if (take(&r, magic, 4) == -1 || memcmp(magic, "GGUF", 4) != 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: not a GGUF file (no "
		    "GGUF magic)", path);
	if (u32(&r, &g->version) == -1 || u64(&r, &n_tensors) == -1 ||
	    u64(&r, &n_kv) == -1)
		return -1;
	if (g->version != 3)
		return diag_fail(d, BN_EXIT_INPUT, "%s: GGUF version %u; "
		    "gguf-read reads version 3", path, g->version);
	if (read_kv(&r, n_kv) == -1)
		return -1;
	return read_tensors(&r, n_tensors);
}

void
gguf_close(struct gguf_file *g)
{
	for (size_t i = 0; i < g->n_tensors; i++)
		free(g->tensors[i].name);
	free(g->tensors);
	json_decref(g->kv);
	if (g->fd >= 0)
		close(g->fd);
	free(g->path);
	memset(g, 0, sizeof *g);
	g->fd = -1;
}
