/* SPDX-License-Identifier: ISC */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "jsonio.h"

static int
get_u64_array(json_t *a, uint64_t *out, size_t max, size_t *n)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return -1;
	for (i = 0; i < json_array_size(a); i++) {
		json_t *v = json_array_get(a, i);
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return -1;
		out[i] = (uint64_t)json_integer_value(v);
	}
	*n = i;
	return 0;
}

static int
parse_dtype(struct st_tensor *t, json_t *v, const char *path, struct diag *d)
{
	const char *s = json_string_value(v);

	if (s == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': 'dtype' is not a string", path, t->name);
	t->dtype = dtype_from_safetensors(s);
	if (t->dtype == TSTREAM__DTYPE__DTYPE_UNSPECIFIED)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': unknown or unsupported dtype '%.32s' "
		    "(expected F32, F16, BF16, U8, I8, I32, I64 or F64)", path,
		    t->name, s);
	return 0;
}

static int
parse_entry(struct st_tensor *t, json_t *v, uint64_t data_size,
    const char *path, struct diag *d)
{
	uint64_t offs[2], numel, bytes;
	size_t n;

	if (!json_is_object(v))
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': entry is not an object", path, t->name);
	if (parse_dtype(t, json_object_get(v, "dtype"), path, d) == -1)
		return -1;
	if (get_u64_array(json_object_get(v, "shape"), t->shape,
	    TSTREAM_MAX_RANK, &t->rank) == -1)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': 'shape' is not a list of at most %u "
		    "non-negative integers", path, t->name, TSTREAM_MAX_RANK);
	if (get_u64_array(json_object_get(v, "data_offsets"), offs, 2,
	    &n) == -1 || n != 2)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': 'data_offsets' is not a pair of "
		    "non-negative integers", path, t->name);
	t->begin = offs[0];
	t->end = offs[1];
	if (shape_numel(t->shape, t->rank, &numel) == -1 ||
	    numel > UINT64_MAX / dtype_size(t->dtype))
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': shape overflows 64 bits", path, t->name);
	bytes = numel * dtype_size(t->dtype);
	if (t->end < t->begin || t->end > data_size)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': data_offsets [%llu, %llu] out of range "
		    "(the file holds %llu bytes of data)", path, t->name,
		    (unsigned long long)t->begin, (unsigned long long)t->end,
		    (unsigned long long)data_size);
	if (t->end - t->begin != bytes)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': data_offsets span %llu bytes, but %s "
		    "shape needs %llu", path, t->name,
		    (unsigned long long)(t->end - t->begin),
		    dtype_name(t->dtype), (unsigned long long)bytes);
	return 0;
}

static int
cmp_begin(const void *a, const void *b)
{
	const struct st_tensor *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static int
check_overlap(struct st_file *f, const char *path, struct diag *d)
{
	qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_begin);
	for (size_t i = 1; i < f->n_tensors; i++) {
		const struct st_tensor *a = &f->tensors[i - 1];
		const struct st_tensor *b = &f->tensors[i];
		if (b->begin < a->end)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, "
			    "%llu] overlap", path, a->name,
			    (unsigned long long)a->begin,
			    (unsigned long long)a->end, b->name,
			    (unsigned long long)b->begin,
			    (unsigned long long)b->end);
	}
	return 0;
}

static int
parse_entries(struct st_file *f, json_t *root, uint64_t data_size,
    const char *path, struct diag *d)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		struct st_tensor *t;

		if (strcmp(key, "__metadata__") == 0)
			continue;
		if (strlen(key) == 0 || strlen(key) > TSTREAM_MAX_NAME)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: tensor name of %zu bytes (1 to %u allowed)",
			    path, strlen(key), TSTREAM_MAX_NAME);
		t = &f->tensors[f->n_tensors];
		if ((t->name = strdup(key)) == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		f->n_tensors++;
		if (parse_entry(t, v, data_size, path, d) == -1)
			return -1;
	}
	return check_overlap(f, path, d);
}

int
st_parse_header(struct st_file *f, const char *json, size_t len,
    uint64_t data_size, const char *path, struct diag *d)
{
	json_t *root;
	size_t n;
	int rc;

	root = jsonio_parse(json, len, path, "the safetensors header", d);
	if (root == NULL)
		return -1;
	if (!json_is_object(root)) {
		json_decref(root);
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: safetensors header is not a JSON object", path);
	}
	n = json_object_size(root);
	if (n > TSTREAM_MAX_TENSORS) {
		json_decref(root);
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: %zu tensors, more than the limit of %u", path, n,
		    TSTREAM_MAX_TENSORS);
	}
	f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
	f->n_tensors = 0;
	rc = f->tensors ? parse_entries(f, root, data_size, path, d) :
	    diag_fail(d, BN_EXIT_IO, "%s: out of memory", path);
	json_decref(root);
	return rc;
}

static int
read_header(struct st_file *f, struct diag *d)
{
	unsigned char lenbuf[8];
	uint64_t hlen = 0;
	char *json;
	int rc;

	if (f->file_size < 8)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: %llu bytes, too short for a safetensors header",
		    f->path, (unsigned long long)f->file_size);
	if (io_pread_full(f->fd, lenbuf, 8, 0, f->path, d) == -1)
		return -1;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | lenbuf[i];
	if (hlen > ST_MAX_HEADER)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: header length %llu is more than the limit of %u",
		    f->path, (unsigned long long)hlen, ST_MAX_HEADER);
	if (hlen > f->file_size - 8)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: header length %llu runs past the end of the file "
		    "(%llu bytes)", f->path, (unsigned long long)hlen,
		    (unsigned long long)f->file_size);
	if ((json = io_alloc(hlen, f->path, d)) == NULL)
		return -1;
	rc = io_pread_full(f->fd, json, hlen, 8, f->path, d);
	f->data_start = 8 + hlen;
	if (rc == 0)
		rc = st_parse_header(f, json, hlen, f->file_size - 8 - hlen,
		    f->path, d);
	free(json);
	return rc;
}

int
st_open(struct st_file *f, const char *path, struct diag *d)
{
	struct stat st;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	if ((f->path = strdup(path)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if ((f->fd = io_open_regular(path, &st, d)) == -1)
		return -1;
	f->file_size = (uint64_t)st.st_size;
	return read_header(f, d);
}

const struct st_tensor *
st_find(const struct st_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_tensors; i++)
		if (strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

int
st_read_data(const struct st_file *f, const struct st_tensor *t, uint64_t off,
    void *buf, size_t n, struct diag *d)
{
	if (off > t->end - t->begin || n > t->end - t->begin - off)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': read past its data", f->path, t->name);
	if ((f->fd >= 0 ? io_pread_full(f->fd, buf, n, f->data_start +
	    t->begin + off, f->path, d) : f->pread != NULL ?
	    f->pread(f->pread_ctx, buf, n, f->data_start + t->begin + off, d) :
	    diag_fail(d, BN_EXIT_INPUT, "%s: read in one pass", f->path)) == -1)
		return diag_prefix(d, "tensor '%s'", t->name);
	return 0;
}

int
st_can_read(const struct st_file *f)
{
	return f->fd >= 0 || f->pread != NULL;
}

void
st_close(struct st_file *f)
{
	for (size_t i = 0; i < f->n_tensors; i++)
		free(f->tensors[i].name);
	free(f->tensors);
	free(f->path);
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof *f);
	f->fd = -1;
}
