#include "hf_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

static const char *const endings[] = { ".tar", ".tar.gz", ".tgz",
    ".tar.zst", ".tar.xz", ".txz", ".tar.bz2", ".zip" };

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

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
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

static int
keep_early(struct hf_archive *x, struct archive_entry *e, const char *name,
    struct diag *d)
{
	if (x->n_early == sizeof x->early_buf / sizeof *x->early_buf)
		return diag_fail(d, BN_EXIT_INPUT, "%s: too many side files",
		    x->path);
	if (slurp_entry(x, e, HF_MAX_SIDE_FILE, &x->early_buf[x->n_early],
	    &x->early_len[x->n_early], d) == -1)
		return -1;
	if ((x->early_name[x->n_early] = strdup(name)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	x->n_early++;
	return 0;
}

/* Handle one entry before the weights; 1 when it is the weights. */
static int
early_entry(struct hf_archive *x, struct archive_entry *e, struct diag *d)
{
	const char *name = base_name(archive_entry_pathname(e));
	size_t n = strlen(name);

	if (archive_entry_filetype(e) != AE_IFREG)
		return 0;
	if (strcmp(name, "model.safetensors.index.json") == 0)
		return diag_fail(d, BN_EXIT_INPUT, "%s: a sharded model cannot "
		    "be read from an archive in one pass (the stream's "
		    "manifest needs every shard's header before any data); "
		    "unpack it and give st-read the folder", x->path);
	if (n > 12 && strcmp(name + n - 12, ".safetensors") == 0) {
		if ((x->weights = strdup(archive_entry_pathname(e))) == NULL)
			return diag_fail(d, BN_EXIT_IO, "out of memory");
		x->weights_size = archive_entry_size_is_set(e) ?
		    (uint64_t)archive_entry_size(e) : UINT64_MAX;
		return 1;
	}
	if (strcmp(name, "config.json") == 0) {
		if (x->config_text != NULL)
			return diag_fail(d, BN_EXIT_INPUT, "%s: more than one "
			    "config.json", x->path);
		return slurp_entry(x, e, HF_MAX_CONFIG, &x->config_text,
		    &x->config_len, d);
	}
	if (hf_model_is_side_file(name))
		return keep_early(x, e, name, d);
	return 0;
}

int
hf_archive_open(struct hf_archive *x, const char *path, struct diag *d)
{
	struct archive_entry *e;
	int r;

	memset(x, 0, sizeof *x);
	x->path = path;
	x->src.ctx = x;
	x->src.read = entry_read;
	if ((x->a = archive_read_new()) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	archive_read_support_filter_all(x->a);
	archive_read_support_format_tar(x->a);
	archive_read_support_format_zip(x->a);
	if (archive_read_open_filename(x->a, path, 1 << 20) != ARCHIVE_OK)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", path,
		    archive_error_string(x->a));
	while ((r = archive_read_next_header(x->a, &e)) == ARCHIVE_OK) {
		int k = early_entry(x, e, d);
		if (k != 0)
			return k == 1 ? 0 : -1;
	}
	if (r != ARCHIVE_EOF)
		return diag_fail(d, BN_EXIT_INPUT, "%s: %s", path,
		    archive_error_string(x->a));
	return diag_fail(d, BN_EXIT_INPUT, "%s: no .safetensors file in the "
	    "archive", path);
}

int
hf_archive_give_side_files(struct hf_archive *x, struct hf_model *m,
    struct diag *d)
{
	for (size_t i = 0; i < x->n_early; i++) {
		if (hf_model_add_side_file(m, x->early_name[i],
		    x->early_buf[i], x->early_len[i], d) == -1)
			return -1;
		x->early_buf[i] = NULL;	/* adopted by m */
	}
	return 0;
}

static int
keep_late(struct hf_archive *x, struct archive_entry *e, const char *name,
    struct diag *d)
{
	Tstream__SideFile **v = realloc(x->late, (x->n_late + 1) * sizeof *v);
	Tstream__SideFile *s = calloc(1, sizeof *s);
	char *buf;
	size_t len;

	if (v != NULL)
		x->late = v;
	if (v == NULL || s == NULL) {
		free(s);
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	}
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
		const char *name = base_name(archive_entry_pathname(e));
		size_t n = strlen(name);

		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if ((n > 12 && strcmp(name + n - 12, ".safetensors") == 0) ||
		    strcmp(name, "model.safetensors.index.json") == 0)
			return diag_fail(d, BN_EXIT_INPUT, "%s: %s: a second "
			    "weights file; a sharded model cannot be read from "
			    "an archive in one pass", x->path,
			    archive_entry_pathname(e));
		if (hf_model_is_side_file(name) && keep_late(x, e, name, d))
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
	if (x->a != NULL)
		archive_read_free(x->a);
	for (size_t i = 0; i < x->n_early; i++) {
		free(x->early_name[i]);
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
	memset(x, 0, sizeof *x);
}
