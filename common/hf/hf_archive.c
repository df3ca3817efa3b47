/* SPDX-License-Identifier: ISC */
#include "hf_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bitnet_names.h"
#include "io.h"

static const char *const endings[] = { ".tar", ".tar.gz", ".tgz",
    ".tar.zst", ".tar.xz", ".txz", ".tar.bz2", ".zip" };

/* What an entry is to the model, by its last component. */
enum kind { K_OTHER, K_CONFIG, K_INDEX, K_WEIGHTS, K_SIDE };

int
hf_archive_is_archive(const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < sizeof endings / sizeof *endings; i++) {
		size_t k = strlen(endings[i]);
		if (n > k && strcmp(path + n - k, endings[i]) == 0)
			return 1;
	}
	return 0;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static enum kind
kind_of(const char *name)
{
	size_t n = strlen(name);

	if (strcmp(name, "config.json") == 0)
		return K_CONFIG;
	if (strcmp(name, HF_INDEX_NAME) == 0)
		return K_INDEX;
	if (n > 12 && strcmp(name + n - 12, ".safetensors") == 0)
		return K_WEIGHTS;
	return hf_model_is_side_file(name) ? K_SIDE : K_OTHER;
}

static size_t
kind_limit(enum kind k)
{
	return k == K_CONFIG ? HF_MAX_CONFIG : k == K_INDEX ? HF_MAX_INDEX :
	    HF_MAX_SIDE_FILE;
}

/* The length of the folder part of path ("a/b/c" -> 3, "c" -> 0). */
static size_t
folder_len(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? (size_t)(s - path) : 0;
}

static int
in_folder(const char *path, const char *folder)
{
	size_t n = strlen(folder);

	return folder_len(path) == n && strncmp(path, folder, n) == 0;
}

static int
same_folder(const char *a, const char *b)
{
	return folder_len(a) == folder_len(b) &&
	    strncmp(a, b, folder_len(a)) == 0;
}

/* --- an archive file, read at random --------------------------------- */

/* The model files of the archive, in its order.  Once the entry that
 * names the model's folder has been met (config.json, or with --config
 * the weights), side files of other folders are no longer kept. */
static int
list_entries(struct hf_archive *x, int have_config, struct diag *d)
{
	const char *anchor = NULL;
	struct archive_entry *e;
	int r;

	while ((r = archive_cursor_next(&x->c, &e, d)) == 1) {
		const char *p = archive_entry_pathname(e);
		struct hf_archive_file *f;
		enum kind k = p ? kind_of(base_name(p)) : K_OTHER;

		if (archive_entry_filetype(e) != AE_IFREG || k == K_OTHER ||
		    (k == K_SIDE && anchor && !same_folder(p, anchor)))
			continue;
		for (size_t i = 0; i < x->n_files; i++)
			if (strcmp(x->files[i].path, p) == 0)
				return diag_fail(d, BN_EXIT_INPUT, "%s: %s "
				    "appears twice in the archive", x->path, p);
		if (x->n_files == HF_ARCHIVE_MAX_FILES)
			return diag_fail(d, BN_EXIT_INPUT, "%s: more than %u "
			    "model files", x->path, HF_ARCHIVE_MAX_FILES);
		f = &x->files[x->n_files];
		memset(f, 0, sizeof *f);
		f->st.fd = -1;
		f->x = x;
		if ((f->path = strdup(p)) == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		x->n_files++;
		f->name = base_name(f->path);
		f->entry = x->c.entry;
		f->size = archive_entry_size_is_set(e) ?
		    (int64_t)archive_entry_size(e) : -1;
		if (anchor == NULL && k == (have_config ? K_WEIGHTS : K_CONFIG))
			anchor = f->path;
	}
	return r;
}

static const struct hf_archive_file *
first_of(const struct hf_archive *x, enum kind k)
{
	for (size_t i = 0; i < x->n_files; i++)
		if (kind_of(x->files[i].name) == k)
			return &x->files[i];
	return NULL;
}

/* The model's folder: config.json's, or with --config the weights'; the
 * archive of one model has no config.json or weights elsewhere (they
 * would be another model's, dropped without a word). */
static int
choose_folder(struct hf_archive *x, int have_config, struct diag *d)
{
	const struct hf_archive_file *f = first_of(x, have_config ?
	    K_WEIGHTS : K_CONFIG);

	if (f == NULL && have_config)
		f = first_of(x, K_INDEX);
	if (first_of(x, K_WEIGHTS) == NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: no .safetensors file "
		    "in the archive", x->path);
	if (f == NULL)
		return diag_fail(d, BN_EXIT_INPUT, have_config ? "%s: no "
		    ".safetensors file in the archive" : "%s: no config.json "
		    "in the archive; give one with --config", x->path);
	for (size_t i = 0; i < x->n_files; i++) {
		const struct hf_archive_file *g = &x->files[i];
		enum kind k = kind_of(g->name);

		if ((k == K_WEIGHTS || k == K_INDEX || (!have_config &&
		    k == K_CONFIG)) && !same_folder(f->path, g->path))
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s and %s: "
			    "more than one model in the archive", x->path,
			    f->path, g->path);
	}
	x->folder = strndup(f->path, folder_len(f->path));
	return x->folder ? 0 : diag_fail(d, BN_EXIT_IO, "out of memory");
}

/* Keep the files of the model's folder (listed once each). */
static void
keep_folder(struct hf_archive *x)
{
	size_t kept = 0;

	for (size_t i = 0; i < x->n_files; i++) {
		if (!in_folder(x->files[i].path, x->folder)) {
			free(x->files[i].path);
			continue;
		}
		x->files[kept++] = x->files[i];
	}
	x->n_files = kept;
}

/* A small file whole; its size, when the archive does not give it, is
 * found by reading up to its limit. */
static int
read_small(struct hf_archive *x, struct hf_archive_file *f, struct diag *d)
{
	size_t limit = kind_limit(kind_of(f->name)), n = 0, cap;
	char extra;
	ssize_t r = 0;

	if (f->size > (int64_t)limit)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: %lld bytes, more "
		    "than the limit of %zu", x->path, f->path,
		    (long long)f->size, limit);
	cap = f->size >= 0 ? (size_t)f->size : limit;
	if ((f->text = io_alloc(cap + 1, f->path, d)) == NULL)
		return -1;
	while (n < cap && (r = archive_cursor_read(&x->c, f->entry, n,
	    f->text + n, cap - n, d)) > 0)
		n += (size_t)r;
	if (r == -1)
		return -1;
	if (n < cap && f->size >= 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: "
		    "the entry ends %zu bytes short of its size", x->path,
		    f->path, cap - n);
	if (n == cap && f->size < 0 && (r = archive_cursor_read(&x->c,
	    f->entry, n, &extra, 1, d)) != 0)
		return r == -1 ? -1 : diag_fail(d, BN_EXIT_INPUT, "%s: %s: "
		    "more than the limit of %zu bytes", x->path, f->path,
		    limit);
	f->text[n] = '\0';
	f->len = n;
	return 0;
}

struct entry_src {
	struct hf_archive *x;
	size_t entry;
	uint64_t pos;
};

static ssize_t
entry_src_read(void *ctx, void *buf, size_t n, struct diag *d)
{
	struct entry_src *s = ctx;
	ssize_t r = archive_cursor_read(&s->x->c, s->entry, s->pos, buf, n,
	    d);

	if (r > 0)
		s->pos += (uint64_t)r;
	return r;
}

static int
file_pread(void *ctx, void *buf, size_t n, uint64_t off, struct diag *d)
{
	struct hf_archive_file *f = ctx;
	struct hf_archive *x = f->x;
	size_t idx = (size_t)(f - x->files);

	for (size_t i = 0; i < x->n_scales; i++)
		if (x->scales[i].file == idx && x->scales[i].off == off &&
		    x->scales[i].len == n) {
			memcpy(buf, x->scales[i].bytes, n);
			return 0;
		}
	return archive_cursor_read_full(&x->c, f->entry, off, buf, n, f->path,
	    d);
}

/* The small *_scale tensors of a safetensors entry whose header was just
 * read, in offset order, so that the archive is read forward. */
static int
read_scales(struct hf_archive *x, struct hf_archive_file *f, struct diag *d)
{
	size_t idx = (size_t)(f - x->files), sl = strlen(BITNET_CKPT_SCALE_SUFFIX);
	struct hf_archive_scale *v = realloc(x->scales, (x->n_scales +
	    f->st.n_tensors + 1) * sizeof *v);

	if (v == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	x->scales = v;
	for (size_t i = 0; i < f->st.n_tensors; i++) {
		const struct st_tensor *t = &f->st.tensors[i];
		size_t tl = strlen(t->name);
		struct hf_archive_scale *sc = &x->scales[x->n_scales];

		if (t->end - t->begin > sizeof sc->bytes || tl < sl ||
		    strcmp(t->name + tl - sl, BITNET_CKPT_SCALE_SUFFIX) != 0)
			continue;
		sc->file = idx;
		sc->off = f->st.data_start + t->begin;
		sc->len = (size_t)(t->end - t->begin);
		if (archive_cursor_read_full(&x->c, f->entry, sc->off,
		    sc->bytes, sc->len, f->st.path, d) == -1)
			return -1;
		x->n_scales++;
	}
	return 0;
}

/* The header of a safetensors entry; its data is read through
 * file_pread. */
static int
read_weights_head(struct hf_archive *x, struct hf_archive_file *f,
    struct diag *d)
{
	struct entry_src es = { x, f->entry, 0 };
	struct byte_source src = { &es, entry_src_read };
	struct st_onepass s;
	char label[4200];

	snprintf(label, sizeof label, "%s:%s", x->path, f->path);
	if (st_onepass_open(&s, &src, label, f->size < 0 ? UINT64_MAX :
	    (uint64_t)f->size, &f->st, d) == -1)
		return -1;
	f->has_st = 1;
	f->st.pread = file_pread;
	f->st.pread_ctx = f;
	f->st.order = f->entry;
	return read_scales(x, f, d);
}

static int
read_ahead(struct hf_archive *x, struct diag *d)
{
	size_t tensors = 0;

	for (size_t i = 0; i < x->n_files; i++) {
		struct hf_archive_file *f = &x->files[i];

		if (kind_of(f->name) != K_WEIGHTS) {
			if (read_small(x, f, d) == -1)
				return -1;
			continue;
		}
		if (read_weights_head(x, f, d) == -1)
			return -1;
		if ((tensors += f->st.n_tensors) > TSTREAM_MAX_TENSORS)
			return diag_fail(d, BN_EXIT_INPUT, "%s: more than %u "
			    "tensors", x->path, TSTREAM_MAX_TENSORS);
	}
	return 0;
}

static struct hf_archive_file *
folder_find(struct hf_archive *x, const char *name)
{
	for (size_t i = 0; i < x->n_files; i++)
		if (strcmp(x->files[i].name, name) == 0)
			return &x->files[i];
	return NULL;
}

static int
folder_slurp(void *ctx, const char *name, size_t limit, char **buf,
    size_t *len, struct diag *d)
{
	struct hf_archive_file *f = folder_find(ctx, name);

	if (f == NULL)
		return 1;
	if (f->text == NULL || f->len > limit)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: not a file to read "
		    "whole here", f->x->path, f->path);
	*buf = f->text;
	*len = f->len;
	f->text = NULL;		/* adopted */
	return 0;
}

/* model.safetensors, or else the one safetensors file of the folder. */
static int
folder_open_st(void *ctx, const char *name, struct st_file *out,
    struct diag *d)
{
	struct hf_archive *x = ctx;
	struct hf_archive_file *f = folder_find(x, name);
	size_t n = 0;

	if (f == NULL && strcmp(name, HF_SINGLE_NAME) == 0)
		for (size_t i = 0; i < x->n_files; i++)
			if (x->files[i].has_st && n++ == 0)
				f = &x->files[i];
	if (n > 1)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %zu safetensors files "
		    "and no %s in %s/", x->path, n, HF_INDEX_NAME, x->folder);
	if (f == NULL || !f->has_st)
		return 1;
	st_close(out);
	*out = f->st;		/* adopted: reads still come here */
	memset(&f->st, 0, sizeof f->st);
	f->st.fd = -1;
	f->has_st = 0;
	return 0;
}

int
hf_archive_open_model(struct hf_archive *x, struct hf_model *m,
    const char *path, const char *config_path, struct diag *d)
{
	struct hf_folder folder;
	char label[4200];

	memset(x, 0, sizeof *x);
	x->path = path;
	if ((x->files = calloc(HF_ARCHIVE_MAX_FILES, sizeof *x->files)) ==
	    NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (archive_cursor_open(&x->c, path, d) == -1 ||
	    list_entries(x, config_path != NULL, d) == -1 ||
	    choose_folder(x, config_path != NULL, d) == -1)
		return -1;
	keep_folder(x);
	if (read_ahead(x, d) == -1)
		return -1;
	snprintf(label, sizeof label, "%s:%s", path, x->folder);
	folder.ctx = x;
	folder.label = label;
	folder.slurp = folder_slurp;
	folder.open_st = folder_open_st;
	return hf_model_open_folder(m, path, &folder, NULL, config_path, d);
}

/* --- an archive read once, through a pipe ---------------------------- */

static ssize_t
entry_read(void *ctx, void *buf, size_t n, struct diag *d)
{
	struct hf_archive *x = ctx;
	la_ssize_t r = archive_read_data(x->a, buf, n);

	if (r < 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", x->path,
		    archive_error_string(x->a));
	return (ssize_t)r;
}

/* The whole current entry, at most limit bytes, NUL-terminated. */
static int
slurp_entry(struct hf_archive *x, struct archive_entry *e, size_t limit,
    char **buf, size_t *len, struct diag *d)
{
	la_int64_t size = archive_entry_size(e);
	ssize_t r;

	if (size < 0 || (uint64_t)size > limit)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: %lld bytes, more "
		    "than the limit of %zu", x->path, archive_entry_pathname(e),
		    (long long)size, limit);
	if (kind_of(base_name(archive_entry_pathname(e))) == K_SIDE &&
	    (x->side_bytes += (size_t)size) > HF_MAX_SIDE_TOTAL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: the side files "
		    "come to more than the limit of %u bytes", x->path,
		    archive_entry_pathname(e), HF_MAX_SIDE_TOTAL);
	if ((*buf = io_alloc((size_t)size + 1, x->path, d)) == NULL)
		return -1;
	r = archive_read_data(x->a, *buf, (size_t)size);
	if (r != size) {
		free(*buf);
		*buf = NULL;
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s: %s", x->path,
		    archive_entry_pathname(e), r < 0 ?
		    archive_error_string(x->a) : "entry ends early");
	}
	(*buf)[size] = '\0';
	*len = (size_t)size;
	return 0;
}

/* A side file met before the model's folder is known: kept with its
 * path, dropped later if it is not in that folder. */
static int
keep_early(struct hf_archive *x, struct archive_entry *e, const char *path,
    struct diag *d)
{
	for (size_t i = 0; i < x->n_early; i++)
		if (strcmp(x->early_path[i], path) == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s appears "
			    "twice in the archive", x->path, path);
	if (x->n_early == HF_ARCHIVE_MAX_EARLY)
		return diag_fail(d, BN_EXIT_INPUT, "%s: more than %u side "
		    "files before the weights", x->path, HF_ARCHIVE_MAX_EARLY);
	if (slurp_entry(x, e, HF_MAX_SIDE_FILE, &x->early_buf[x->n_early],
	    &x->early_len[x->n_early], d) == -1)
		return -1;
	if ((x->early_path[x->n_early] = strdup(path)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	x->n_early++;
	return 0;
}

/* The model's folder is that of the first config.json or weights met;
 * 0 when p is in it (or it is now set to p's), 1 when p is elsewhere. */
static int
claim_folder(struct hf_archive *x, const char *p, struct diag *d)
{
	if (x->folder != NULL)
		return in_folder(p, x->folder) ? 0 : 1;
	if ((x->folder = strndup(p, folder_len(p))) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}

/* Handle one entry before the weights; 1 when it is the weights. */
static int
early_entry(struct hf_archive *x, struct archive_entry *e, struct diag *d)
{
	const char *p = archive_entry_pathname(e);
	enum kind k = p ? kind_of(base_name(p)) : K_OTHER;
	int rc;

	if (archive_entry_filetype(e) != AE_IFREG || k == K_OTHER)
		return 0;
	if (k == K_SIDE)
		return x->folder != NULL && !in_folder(p, x->folder) ? 0 :
		    keep_early(x, e, p, d);
	if ((rc = claim_folder(x, p, d)) != 0)
		return rc == 1 ? 0 : -1;
	if (k == K_INDEX)
		return diag_fail(d, BN_EXIT_INPUT, "%s: a sharded model cannot "
		    "be read from an archive in one pass, through a pipe (the "
		    "stream's manifest needs every shard's header before any "
		    "data); give the archive as a file", x->path);
	if (k == K_WEIGHTS) {
		if ((x->weights = strdup(p)) == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		x->weights_size = archive_entry_size_is_set(e) ?
		    (uint64_t)archive_entry_size(e) : UINT64_MAX;
		return 1;
	}
	if (x->config_text != NULL)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s appears twice in "
		    "the archive", x->path, p);
	return slurp_entry(x, e, HF_MAX_CONFIG, &x->config_text,
	    &x->config_len, d);
}

int
hf_archive_sniff(const unsigned char *b, size_t n)
{
	static const struct {
		size_t at, len;
		const char *magic;
	} magics[] = {
		{ 0, 2, "\x1f\x8b" },			/* gzip */
		{ 0, 3, "BZh" },			/* bzip2 */
		{ 0, 6, "\xfd" "7zXZ\0" },		/* xz */
		{ 0, 4, "\x28\xb5\x2f\xfd" },	/* zstd */
		{ 0, 4, "\x04\x22\x4d\x18" },	/* lz4 */
		{ 0, 4, "PK\x03\x04" },		/* zip */
		{ 257, 5, "ustar" },			/* tar */
	};

	for (size_t i = 0; i < sizeof magics / sizeof *magics; i++)
		if (n >= magics[i].at + magics[i].len && memcmp(b +
		    magics[i].at, magics[i].magic, magics[i].len) == 0)
			return 1;
	return 0;
}

/* Read the entries up to the safetensors one (one pass). */
static int
read_early(struct hf_archive *x, struct diag *d)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(x->a, &e)) == ARCHIVE_OK) {
		int k = early_entry(x, e, d);
		if (k != 0)
			return k == 1 ? 0 : -1;
	}
	if (r != ARCHIVE_EOF)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", x->path,
		    archive_error_string(x->a));
	return diag_fail(d, BN_EXIT_INPUT, "%s: no .safetensors file in the "
	    "archive", x->path);
}

static int
new_reader(struct hf_archive *x, const char *path, struct diag *d)
{
	memset(x, 0, sizeof *x);
	x->path = path;
	x->src.ctx = x;
	x->src.read = entry_read;
	if ((x->a = archive_read_new()) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	archive_read_support_filter_all(x->a);
	archive_read_support_format_tar(x->a);
	archive_read_support_format_zip(x->a);
	return 0;
}

int
hf_archive_open(struct hf_archive *x, const char *path, struct diag *d)
{
	if (new_reader(x, path, d) == -1)
		return -1;
	if (archive_read_open_filename(x->a, path, 1 << 20) != ARCHIVE_OK)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", path,
		    archive_error_string(x->a));
	return read_early(x, d);
}

#define SOURCE_CHUNK	(1u << 20)

/* libarchive's read callback on x->in. */
static la_ssize_t
source_read(struct archive *a, void *ctx, const void **buf)
{
	struct hf_archive *x = ctx;
	ssize_t n = x->in->read(x->in->ctx, x->inbuf, SOURCE_CHUNK,
	    &x->in_diag);

	*buf = x->inbuf;
	if (n == -1)
		archive_set_error(a, EIO, "%s", x->in_diag.msg);
	return n;
}

int
hf_archive_open_source(struct hf_archive *x, const char *name,
    struct byte_source *in, struct diag *d)
{
	if (new_reader(x, name, d) == -1)
		return -1;
	x->in = in;
	if ((x->inbuf = malloc(SOURCE_CHUNK)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (archive_read_open(x->a, x, NULL, source_read, NULL) != ARCHIVE_OK)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", name,
		    archive_error_string(x->a));
	return read_early(x, d);
}

int
hf_archive_give_side_files(struct hf_archive *x, struct hf_model *m,
    struct diag *d)
{
	for (size_t i = 0; i < x->n_early; i++) {
		char *buf = x->early_buf[i];

		x->early_buf[i] = NULL;	/* adopted by m, or freed */
		if (!in_folder(x->early_path[i], x->folder)) {
			free(buf);
			continue;
		}
		if (hf_model_add_side_file(m, base_name(x->early_path[i]),
		    buf, x->early_len[i], d) == -1)
			return -1;
	}
	return 0;
}

static int
keep_late(struct hf_archive *x, struct archive_entry *e, const char *name,
    struct diag *d)
{
	Tstream__SideFile *s;
	char *buf;
	size_t len;

	for (size_t i = 0; i < x->n_early; i++)
		if (strcmp(base_name(x->early_path[i]), name) == 0 &&
		    in_folder(x->early_path[i], x->folder))
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s appears "
			    "twice in the archive", x->path,
			    archive_entry_pathname(e));
	for (size_t i = 0; i < x->n_late; i++)
		if (strcmp(x->late[i]->name, name) == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s appears "
			    "twice in the archive", x->path,
			    archive_entry_pathname(e));
	if (x->late == NULL && (x->late = calloc(HF_ARCHIVE_MAX_EARLY,
	    sizeof *x->late)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if ((s = calloc(1, sizeof *s)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	tstream__side_file__init(s);
	x->late[x->n_late++] = s;
	if (slurp_entry(x, e, HF_MAX_SIDE_FILE, &buf, &len, d) == -1)
		return -1;
	s->name = strdup(name);
	s->has_content = 1;
	s->content.data = (uint8_t *)buf;
	s->content.len = len;
	return s->name ? 0 : diag_fail(d, BN_EXIT_IO, "out of memory");
}

int
hf_archive_finish(struct hf_archive *x, struct diag *d)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(x->a, &e)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(e);
		enum kind k = p ? kind_of(base_name(p)) : K_OTHER;

		if (archive_entry_filetype(e) != AE_IFREG || k == K_OTHER ||
		    !in_folder(p, x->folder))
			continue;
		if (k == K_WEIGHTS || k == K_INDEX)
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s: a second "
			    "weights file; a sharded model cannot be read from "
			    "an archive in one pass, through a pipe", x->path,
			    p);
		if (k == K_CONFIG)
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s after the "
			    "weights: an archive read in one pass, through a "
			    "pipe, needs it first (or give it with --config)",
			    x->path, p);
		if (keep_late(x, e, base_name(p), d) == -1)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", x->path,
		    archive_error_string(x->a));
	return 0;
}

void
hf_archive_close(struct hf_archive *x)
{
	for (size_t i = 0; i < x->n_files; i++) {
		free(x->files[i].path);
		free(x->files[i].text);
		st_close(&x->files[i].st);
	}
	free(x->files);
	free(x->scales);
	archive_cursor_close(&x->c);
	if (x->a != NULL)
		archive_read_free(x->a);
	free(x->inbuf);
	for (size_t i = 0; i < x->n_early; i++) {
		free(x->early_path[i]);
		free(x->early_buf[i]);
	}
	for (size_t i = 0; i < x->n_late; i++) {
		free(x->late[i]->name);
		free(x->late[i]->content.data);
		free(x->late[i]);
	}
	free(x->late);
	free(x->config_text);
	free(x->weights);
	free(x->folder);
	memset(x, 0, sizeof *x);
}
