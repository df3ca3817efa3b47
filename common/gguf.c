/* SPDX-License-Identifier: ISC */
#include "gguf.h"

#include <fcntl.h>
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

/* A buffered front-to-back reader of the file's head. */
struct rd {
	struct gguf_file *g;
	uint64_t pos;
	uint64_t meta;		/* metadata bytes taken, against the limit */
	struct diag *d;
};

static int
take(struct rd *r, void *buf, uint64_t n)
{
	if (n > r->g->file_size || r->pos > r->g->file_size - n)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: the file ends at "
		    "%llu, inside its header (at %llu, %llu more bytes wanted)",
		    r->g->path, (unsigned long long)r->g->file_size,
		    (unsigned long long)r->pos, (unsigned long long)n);
	if (io_pread_full(r->g->fd, buf, (size_t)n, r->pos, r->g->path,
	    r->d) == -1)
		return -1;
	r->pos += n;
	return 0;
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
	if (n > GGUF_MAX_STRING || (r->meta += n) > GGUF_MAX_METADATA)
		return diag_fail(r->d, BN_EXIT_INPUT, "%s: a string of %llu "
		    "bytes at %llu, past the limits", r->g->path,
		    (unsigned long long)n, (unsigned long long)r->pos);
	if ((*out = io_alloc((size_t)n + 1, r->g->path, r->d)) == NULL)
		return -1;
	if (take(r, *out, n) == -1) {
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[n] = '\0';
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

	if (take(r, b, size[type]) == -1)
		return NULL;
	for (int i = size[type] - 1; i >= 0; i--)
		u = u << 8 | b[i];
	switch (type) {
	case GV_I8: return json_integer((int8_t)u);
	case GV_I16: return json_integer((int16_t)u);
	case GV_I32: return json_integer((int32_t)u);
	case GV_I64: return json_integer((json_int_t)u);
	case GV_BOOL: return json_boolean(u != 0);
	case GV_F32: { float f; uint32_t w = (uint32_t)u;
		memcpy(&f, &w, 4); return json_real(f); }
	case GV_F64: { double f; memcpy(&f, &u, 8); return json_real(f); }
	case GV_U64: return json_integer((json_int_t)u);
	default: return json_integer((json_int_t)u);
	}
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
		v = u32(r, &type) == -1 ? NULL : read_value(r, type, 0);
		if (v == NULL || json_object_set_new(r->g->kv, key, v) == -1) {
			free(key);
			return v == NULL ? -1 :
			    diag_fail(r->d, BN_EXIT_IO, "out of memory");
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
	}
	return 0;
}

int
gguf_open(struct gguf_file *g, const char *path, struct diag *d)
{
	struct rd r = { g, 0, 0, d };
	unsigned char magic[4];
	uint64_t n_tensors, n_kv;
	struct stat st;

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
