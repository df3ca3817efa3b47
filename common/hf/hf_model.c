/* SPDX-License-Identifier: ISC */
#include "hf_model.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bitnet_config.h"
#include "bitnet_names.h"
#include "io.h"
#include "jsonio.h"

static const char *const side_names[] = {
	"tokenizer.json", "tokenizer_config.json", "generation_config.json",
	"special_tokens_map.json",
};
#define N_SIDE_NAMES (sizeof side_names / sizeof side_names[0])

struct entry {
	const struct st_file *file;
	const struct st_tensor *st;
};

static int
path_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* True when path names file shard inside some folder: ".../shard". */
static int
is_file_in(const char *path, const char *shard)
{
	size_t n = strlen(path), k = strlen(shard);

	return n > k && path[n - k - 1] == '/' && strcmp(path + n - k, shard) == 0;
}

/* The disk folder: ctx is its path.  name's path in path: 0; 1 when there
 * is no such file; -1. */
static int
disk_path(void *ctx, const char *name, char *path, size_t len,
    struct diag *d)
{
	if (io_join(ctx, name, path, len, d) == -1)
		return -1;
	return path_exists(path) ? 0 : 1;
}

static int
disk_slurp(void *ctx, const char *name, size_t limit, char **buf,
    size_t *len, struct diag *d)
{
	char path[4096];
	int rc = disk_path(ctx, name, path, sizeof path, d);

	return rc != 0 ? rc : io_slurp(path, limit, buf, len, d);
}

static int
disk_open_st(void *ctx, const char *name, struct st_file *f, struct diag *d)
{
	char path[4096];
	int rc = disk_path(ctx, name, path, sizeof path, d);

	return rc != 0 ? rc : st_open(f, path, d);
}

static void
disk_folder(struct hf_folder *f, const char *dir)
{
	f->ctx = (void *)dir;
	f->label = dir;
	f->slurp = disk_slurp;
	f->open_st = disk_open_st;
}

static int
load_config(struct hf_model *m, const struct hf_folder *f,
    const char *config_path, struct diag *d)
{
	char buf[4096];
	size_t len;
	int rc;

	if (config_path != NULL) {
		m->config_path = strdup(config_path);
		rc = m->config_path == NULL ? diag_fail(d, BN_EXIT_IO,
		    "out of memory") : io_slurp(config_path, HF_MAX_CONFIG,
		    &m->config_text, &len, d);
	} else {
		if (io_join(f->label, "config.json", buf, sizeof buf, d) == -1)
			return -1;
		if ((m->config_path = strdup(buf)) == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		rc = f->slurp(f->ctx, "config.json", HF_MAX_CONFIG,
		    &m->config_text, &len, d);
		if (rc == 1)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: no config.json beside the weights; give one "
			    "with --config", m->path);
	}
	if (rc == -1)
		return -1;
	return bitnet_config_parse(m->config_text, len, m->config_path,
	    &m->config, d);
}

static int
alloc_side_files(struct hf_model *m, struct diag *d)
{
	if (m->side != NULL)
		return 0;
	m->side = calloc(N_SIDE_NAMES, sizeof *m->side);
	m->side_ptrs = calloc(N_SIDE_NAMES, sizeof *m->side_ptrs);
	if (m->side == NULL || m->side_ptrs == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}

/* Side files travel whole in the stream's header or trailer: their sum
 * is bounded as well as each one. */
static int
side_total_ok(const struct hf_model *m, size_t more, const char *name,
    struct diag *d)
{
	size_t total = more;

	for (size_t i = 0; i < m->n_side; i++)
		total += m->side[i].content.len;
	if (total > HF_MAX_SIDE_TOTAL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: the side files "
		    "come to more than the limit of %u bytes", m->path, name,
		    HF_MAX_SIDE_TOTAL);
	return 0;
}

static int
load_side_files(struct hf_model *m, const struct hf_folder *f,
    struct diag *d)
{
	char *buf;
	size_t len;
	int rc;

	if (alloc_side_files(m, d) == -1)
		return -1;
	for (size_t i = 0; i < N_SIDE_NAMES; i++) {
		rc = f->slurp(f->ctx, side_names[i], HF_MAX_SIDE_FILE, &buf,
		    &len, d);
		if (rc == 1)
			continue;
		if (rc == -1 || hf_model_add_side_file(m, side_names[i], buf,
		    len, d) == -1)
			return -1;
	}
	return 0;
}

int
hf_model_load_side_files(struct hf_model *m, const char *dir, struct diag *d)
{
	struct hf_folder f;

	disk_folder(&f, dir);
	return load_side_files(m, &f, d);
}

/* Open the safetensors files names of folder f: 0; 1 when one is missing
 * (the last of m->files, which names[m->n_files - 1] names); -1. */
static int
open_files(struct hf_model *m, const struct hf_folder *f, const char **names,
    size_t n, struct diag *d)
{
	int rc;

	if ((m->files = calloc(n, sizeof *m->files)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < n; i++) {
		m->files[i].fd = -1;
		m->n_files = i + 1;
		if ((rc = f->open_st(f->ctx, names[i], &m->files[i], d)) != 0)
			return rc;
	}
	return 0;
}

static int
no_such_file(const struct hf_model *m, const struct hf_folder *f,
    const char **names, struct diag *d)
{
	return diag_fail(d, BN_EXIT_INPUT, "%s/%s: no such file", f->label,
	    names[m->n_files - 1]);
}

static int
index_shard_names(json_t *map, const char *path, const char ***names,
    size_t *n, struct diag *d)
{
	const char *key;
	json_t *v;

	*names = calloc(json_object_size(map) + 1, sizeof **names);
	if (*names == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	*n = 0;
	json_object_foreach(map, key, v) {
		const char *s = json_string_value(v);
		size_t i;

		if (s == NULL || *s == '\0' || strchr(s, '/') != NULL ||
		    strcmp(s, "..") == 0 || strcmp(s, ".") == 0)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: weight_map['%s'] is not a file name in the "
			    "model folder", path, key);
		for (i = 0; i < *n && strcmp((*names)[i], s) != 0; i++)
			;
		if (i == *n && (*n)++ >= HF_MAX_SHARDS)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: more than %u shards", path, HF_MAX_SHARDS);
		(*names)[i] = s;
	}
	return 0;
}

/* Every weight_map entry must be in the shard it names, and no shard may
 * hold tensors the index does not list. */
static int
check_index(struct hf_model *m, json_t *map, const char *path,
    struct diag *d)
{
	size_t total = 0;
	const char *key;
	json_t *v;

	json_object_foreach(map, key, v) {
		const char *shard = json_string_value(v);
		size_t i;

		for (i = 0; i < m->n_files; i++)
			if (is_file_in(m->files[i].path, shard))
				break;
		if (i == m->n_files || st_find(&m->files[i], key) == NULL)
			return diag_fail(d, BN_EXIT_INPUT,
			    "%s: tensor '%s' is not in %s, where weight_map "
			    "says it is", path, key, shard);
	}
	for (size_t i = 0; i < m->n_files; i++)
		total += m->files[i].n_tensors;
	if (total != json_object_size(map))
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: the shards hold %zu tensors, weight_map lists %zu",
		    path, total, json_object_size(map));
	return 0;
}

/* The index (text, len bytes, freed here) named name in folder f, and
 * the shards it names. */
static int
open_index(struct hf_model *m, const struct hf_folder *f, const char *name,
    char *text, size_t len, struct diag *d)
{
	const char **names = NULL;
	json_t *root, *map;
	size_t n = 0;
	char path[4096];
	int rc;

	snprintf(path, sizeof path, "%s/%s", f->label, name);
	root = jsonio_parse(text, len, path, "the index", d);
	free(text);
	if (root == NULL)
		return -1;
	map = json_object_get(root, "weight_map");
	if (!json_is_object(map) || json_object_size(map) == 0)
		rc = diag_fail(d, BN_EXIT_INPUT,
		    "%s: no 'weight_map' object naming the shards", path);
	else if (json_object_size(map) > TSTREAM_MAX_TENSORS)
		rc = diag_fail(d, BN_EXIT_INPUT,
		    "%s: weight_map of more than %u tensors", path,
		    TSTREAM_MAX_TENSORS);
	else
		rc = index_shard_names(map, path, &names, &n, d);
	if (rc == 0 && (rc = open_files(m, f, names, n, d)) == 1)
		rc = no_such_file(m, f, names, d);
	if (rc == 0)
		rc = check_index(m, map, path, d);
	free(names);
	json_decref(root);
	return rc;
}

/* The weights in folder f: the file weights names (a .json index or a
 * .safetensors file), or by default the index if there is one, else
 * model.safetensors. */
static int
open_weights(struct hf_model *m, const struct hf_folder *f,
    const char *weights, struct diag *d)
{
	const char *name = weights ? weights : HF_INDEX_NAME;
	char *text;
	size_t len;
	int rc = 1;

	if (weights == NULL || ends_with(weights, ".json"))
		rc = f->slurp(f->ctx, name, HF_MAX_INDEX, &text, &len, d);
	if (rc == 0)
		return open_index(m, f, name, text, len, d);
	if (rc == -1)
		return -1;
	if (weights != NULL && ends_with(weights, ".json"))
		return diag_fail(d, BN_EXIT_INPUT, "%s/%s: no such file",
		    f->label, weights);
	name = weights ? weights : HF_SINGLE_NAME;
	if ((rc = open_files(m, f, &name, 1, d)) != 1)
		return rc;
	if (weights != NULL)
		return no_such_file(m, f, &name, d);
	return diag_fail(d, BN_EXIT_INPUT, "%s: no %s or %s in this folder",
	    f->label, HF_SINGLE_NAME, HF_INDEX_NAME);
}

static int
cmp_entry_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->st->name,
	    ((const struct entry *)b)->st->name);
}

static int
cmp_tensor_order(const void *a, const void *b)
{
	return bitnet_name_cmp(((const struct hf_tensor *)a)->info.name,
	    ((const struct hf_tensor *)b)->info.name);
}

static const struct entry *
find_entry(const struct entry *e, size_t n, const char *name)
{
	struct st_tensor key = { .name = (char *)name };
	struct entry k = { NULL, &key };

	return bsearch(&k, e, n, sizeof *e, cmp_entry_name);
}

static int
read_scale(const struct entry *s, float *out, struct diag *d)
{
	unsigned char raw[4];
	uint64_t n;

	shape_numel(s->st->shape, s->st->rank, &n);
	if (n != 1 || !dtype_is_float(s->st->dtype))
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s': expected one float, found %s with %llu "
		    "elements", s->file->path, s->st->name,
		    dtype_name(s->st->dtype), (unsigned long long)n);
	if (st_read_data(s->file, s->st, 0, raw, dtype_size(s->st->dtype),
	    d) == -1)
		return -1;
	dtype_to_f32(s->st->dtype, raw, out, 1);
	return 0;
}

static int
set_packed(struct hf_tensor *t, const struct entry *scale, struct diag *d)
{
	const struct st_tensor *st = t->st;

	if (st->dtype != TSTREAM__DTYPE__U8 || st->rank != 2 ||
	    st->shape[0] > UINT64_MAX / 4)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s' has a weight_scale, so it must be packed "
		    "u8 [out/4, in]; found %s of rank %zu", t->file->path,
		    st->name, dtype_name(st->dtype), st->rank);
	t->info.encoding = TSTREAM__ENCODING__TERNARY_HF_PACKED;
	t->shape[0] *= 4;
	if (!st_can_read(t->file))	/* one pass: the scale comes later */
		return 0;
	t->info.has_scale = 1;
	return read_scale(scale, &t->info.scale, d);
}

static int
describe_tensor(struct hf_tensor *t, const struct entry *all, size_t n,
    struct diag *d)
{
	char sname[TSTREAM_MAX_NAME + 16];
	const struct entry *scale;

	tstream__tensor_info__init(&t->info);
	memcpy(t->shape, t->st->shape, sizeof t->shape);
	t->info.name = t->st->name;
	t->info.source = t->file->path;
	t->info.dtype = t->st->dtype;
	t->info.has_dtype = t->info.has_encoding = 1;
	t->info.encoding = TSTREAM__ENCODING__PLAIN;
	t->info.shape = t->shape;
	t->info.n_shape = t->st->rank;
	t->info.has_payload_length = 1;
	t->info.payload_length = t->st->end - t->st->begin;
	snprintf(sname, sizeof sname, "%s%s", t->st->name,
	    BITNET_CKPT_SCALE_SUFFIX);
	if ((scale = find_entry(all, n, sname)) != NULL)
		return set_packed(t, scale, d);
	if (t->st->dtype == TSTREAM__DTYPE__U8)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s' is u8 (packed ternary) but has no '%s'",
		    t->file->path, t->st->name, sname);
	return 0;
}

/* A weight_scale must sit beside the weight it scales. */
static int
check_scale_entry(const struct entry *e, const struct entry *all, size_t n,
    struct diag *d)
{
	size_t len = strlen(e->st->name), slen = strlen(BITNET_CKPT_SCALE_SUFFIX);
	char base[TSTREAM_MAX_NAME + 1];

	snprintf(base, sizeof base, "%.*s", (int)(len - slen), e->st->name);
	if (find_entry(all, n, base) == NULL)
		return diag_fail(d, BN_EXIT_INPUT,
		    "%s: tensor '%s' has no weight '%s' to scale",
		    e->file->path, e->st->name, base);
	return 0;
}

static void
sort_tensors(struct hf_model *m, int (*cmp)(const void *, const void *))
{
	qsort(m->tensors, m->n_tensors, sizeof *m->tensors, cmp);
	for (size_t i = 0; i < m->n_tensors; i++)	/* moved by qsort */
		m->tensors[i].info.shape = m->tensors[i].shape;
}

static int
build_tensors(struct hf_model *m, struct entry *all, size_t n,
    struct diag *d)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(all[i - 1].st->name, all[i].st->name) == 0)
			return diag_fail(d, BN_EXIT_INPUT,
			    "tensor '%s' is in both %s and %s",
			    all[i].st->name, all[i - 1].file->path,
			    all[i].file->path);
	if ((m->tensors = calloc(n ? n : 1, sizeof *m->tensors)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct hf_tensor *t = &m->tensors[m->n_tensors];

		if (ends_with(all[i].st->name, "." "weight" BITNET_CKPT_SCALE_SUFFIX)) {
			if (check_scale_entry(&all[i], all, n, d) == -1)
				return -1;
			continue;
		}
		t->file = all[i].file;
		t->st = all[i].st;
		if (describe_tensor(t, all, n, d) == -1 ||
		    bitnet_config_check_projection(m->config, &t->info, d) == -1)
			return -1;
		m->n_tensors++;
	}
	sort_tensors(m, cmp_tensor_order);
	return 0;
}

static int
plan_tensors(struct hf_model *m, struct diag *d)
{
	struct entry *all;
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < m->n_files; i++)
		n += m->files[i].n_tensors;
	if ((all = calloc(n ? n : 1, sizeof *all)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	n = 0;
	for (size_t i = 0; i < m->n_files; i++)
		for (size_t j = 0; j < m->files[i].n_tensors; j++) {
			all[n].file = &m->files[i];
			all[n++].st = &m->files[i].tensors[j];
		}
	qsort(all, n, sizeof *all, cmp_entry_name);
	rc = build_tensors(m, all, n, d);
	free(all);
	return rc;
}

int
hf_model_open_folder(struct hf_model *m, const char *path,
    const struct hf_folder *f, const char *weights, const char *config_path,
    struct diag *d)
{
	if ((m->path = strdup(path)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (open_weights(m, f, weights, d) == -1 ||
	    load_config(m, f, config_path, d) == -1 ||
	    load_side_files(m, f, d) == -1)
		return -1;
	return plan_tensors(m, d);
}

int
hf_model_open(struct hf_model *m, const char *path, const char *config_path,
    struct diag *d)
{
	struct hf_folder f;
	char dir[4096];
	const char *slash;
	struct stat st;

	memset(m, 0, sizeof *m);
	if (stat(path, &st) == -1)
		return diag_errno(d, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		disk_folder(&f, path);
		return hf_model_open_folder(m, path, &f, NULL, config_path, d);
	}
	io_dirname(path, dir, sizeof dir);
	disk_folder(&f, dir);
	slash = strrchr(path, '/');
	return hf_model_open_folder(m, path, &f, slash ? slash + 1 : path,
	    config_path, d);
}

int
hf_model_is_side_file(const char *name)
{
	for (size_t i = 0; i < N_SIDE_NAMES; i++)
		if (strcmp(name, side_names[i]) == 0)
			return 1;
	return 0;
}

int
hf_model_add_side_file(struct hf_model *m, const char *name, char *buf,
    size_t len, struct diag *d)
{
	Tstream__SideFile *s;

	if (alloc_side_files(m, d) == -1 ||
	    side_total_ok(m, len, name, d) == -1) {
		free(buf);
		return -1;
	}
	for (size_t i = 0; i < m->n_side; i++)
		if (strcmp(m->side[i].name, name) == 0) {
			free(buf);
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s appears twice",
			    m->path, name);
		}
	for (size_t i = 0; i < N_SIDE_NAMES; i++)
		if (strcmp(name, side_names[i]) == 0) {
			s = &m->side[m->n_side];
			tstream__side_file__init(s);
			s->name = (char *)side_names[i];
			s->has_content = 1;
			s->content.data = (uint8_t *)buf;
			s->content.len = len;
			m->side_ptrs[m->n_side++] = s;
			return 0;
		}
	free(buf);
	return diag_fail(d, BN_EXIT_INPUT, "%s: '%s' is not a side file",
	    m->path, name);
}

int
hf_model_open_stream(struct hf_model *m, const char *path, char *config_text,
    size_t config_len, const char *config_name, struct st_file *file,
    struct diag *d)
{
	m->path = strdup(path);
	m->config_path = strdup(config_name);
	m->config_text = config_text;
	if (m->path == NULL || m->config_path == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (bitnet_config_parse(config_text, config_len, config_name,
	    &m->config, d) == -1 || alloc_side_files(m, d) == -1)
		return -1;
	if ((m->files = calloc(1, sizeof *m->files)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	m->files[0] = *file;	/* adopted: file is left empty */
	memset(file, 0, sizeof *file);
	file->fd = -1;
	m->n_files = 1;
	return plan_tensors(m, d);
}

void
hf_model_table(struct hf_model *m, struct model_table *t)
{
	*t = (struct model_table){ .path = m->path,
	    .config_json = m->config_text, .config = m->config,
	    .side_files = m->side_ptrs, .n_side_files = m->n_side,
	    .tensors = MODEL_ROWS(m->tensors, m->n_tensors, struct hf_tensor,
	    info) };
}

int
hf_model_write_tensor(const struct hf_model *m, size_t i,
    struct tstream_writer *w, void *buf, struct diag *d)
{
	const struct hf_tensor *t = &m->tensors[i];
	uint64_t len = t->info.payload_length;

	if (tstream_begin_tensor(w, &t->info, d) == -1)
		return -1;
	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < TSTREAM_CHUNK ?
		    (size_t)(len - off) : TSTREAM_CHUNK;
		if (st_read_data(t->file, t->st, off, buf, n, d) == -1 ||
		    tstream_write_payload(w, buf, n, d) == -1)
			return -1;
		off += n;
	}
	return tstream_end_tensor(w, d);
}

void
hf_model_close(struct hf_model *m)
{
	for (size_t i = 0; i < m->n_files; i++)
		st_close(&m->files[i]);
	for (size_t i = 0; i < m->n_side; i++)
		free(m->side[i].content.data);
	free(m->files);
	free(m->tensors);
	free(m->side);
	free(m->side_ptrs);
	bitnet_config_free(m->config);
	free(m->config_text);
	free(m->config_path);
	free(m->path);
	memset(m, 0, sizeof *m);
}

static int
cmp_file_order(const void *a, const void *b)
{
	const struct hf_tensor *x = a, *y = b;

	if (x->file->order != y->file->order)
		return x->file->order < y->file->order ? -1 : 1;
	if (x->st->begin != y->st->begin)
		return x->st->begin < y->st->begin ? -1 : 1;
	return 0;
}

void
hf_model_sort_by_file(struct hf_model *m)
{
	sort_tensors(m, cmp_file_order);
}
