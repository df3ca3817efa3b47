/* SPDX-License-Identifier: ISC */
#include "bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bitnet_names.h"
#include "io.h"
#include "jsonio.h"
#include "onnx_write.h"
#include "outfile.h"

#define CONFIG_NAME	"config.json"
#define TJS_CONFIG	"transformers.js_config"
#define TJS_EXTERNAL	"use_external_data_format"
#define TJS_DEVICES	"device_config"
/* What transformers.js knows as a decoder with BitNet's interface. */
#define DECODER_TYPE	"llama"

static const char *const side_names[] = {
	"generation_config.json", "tokenizer.json", "tokenizer_config.json",
	"special_tokens_map.json",
};
#define N_SIDE (sizeof side_names / sizeof side_names[0])

/* The projections' bundle suffix: "" for float32, "_int8" or "_q2" for
 * compact ones (tstream_encoding.h). */
static int
pick_suffix(const Tstream__StreamHeader *h, const char **suffix,
    struct diag *d)
{
	const char *s = NULL;
	char forms[64];

	for (size_t i = 0; i < h->n_manifest; i++) {
		const Tstream__TensorInfo *t = h->manifest[i];
		const struct tstream_encoding *e;
		const char *mine;
		struct bitnet_name bn;

		bitnet_name_parse(t->name, &bn);
		if (!bn.is_projection)
			continue;
		e = tstream_encoding_of(t->encoding);
		mine = e && e->bundle_suffix ? e->bundle_suffix : "";
		if (s != NULL && strcmp(s, mine) != 0)
			return diag_fail(d, BN_EXIT_INPUT, "tensor '%s' is %s "
			    "while other projections are not; a bundle holds "
			    "one form (%s)", t->name,
			    tstream_encoding_name(t->encoding),
			    tstream_encoding_forms(", ", forms, sizeof forms));
		s = mine;
	}
	*suffix = s ? s : "";
	return 0;
}

static int
path_in(const struct bundle *b, const char *rel, char *buf, size_t len,
    struct diag *d)
{
	return io_join(b->dir, rel, buf, len, d);
}

/* The files a bundle may hold, by index: the side files, config.json,
 * the model, then its data files (ONNX_MAX_DATA_FILES of them). */
#define N_NAMES (N_SIDE + 2 + ONNX_MAX_DATA_FILES)

/* The path of file i (i < N_NAMES) relative to the folder, in rel. */
static const char *
bundle_rel_name(const struct bundle *b, size_t i, char *rel, size_t len)
{
	char model[64];

	if (i < N_SIDE)
		snprintf(rel, len, "%s", side_names[i]);
	else if (i == N_SIDE)
		snprintf(rel, len, "%s", CONFIG_NAME);
	else if (i == N_SIDE + 1)
		snprintf(rel, len, "onnx/model%s.onnx", b->suffix);
	else if (snprintf(model, sizeof model, "onnx/model%s.onnx",
	    b->suffix) < 0 || onnx_data_name(model, (unsigned)(i - N_SIDE -
	    2), rel, len) == NULL)
		return NULL;
	return rel;
}

int
bundle_has_tokenizer(const struct bundle *b)
{
	char path[PATH_MAX];
	struct diag quiet = { 0 };
	struct stat st;

	return path_in(b, "tokenizer.json", path, sizeof path, &quiet) == 0 &&
	    stat(path, &st) == 0;
}

static int
refuse_existing(const struct bundle *b, struct diag *d)
{
	char rel[128], path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < N_NAMES; i++) {
		if (bundle_rel_name(b, i, rel, sizeof rel) == NULL ||
		    path_in(b, rel, path, sizeof path, d) == -1)
			return diag_fail(d, BN_EXIT_INPUT, "%s: path too "
			    "long", b->dir);
		if (lstat(path, &st) == 0)
			return diag_fail(d, BN_EXIT_USAGE, "%s exists; "
			    "--force overwrites the files of a bundle", path);
	}
	return 0;
}

/* Make the folder path (with the mode the umask allows) unless it is
 * there; one we make is removed again if the run fails. */
static int
make_dir(const struct bundle *b, const char *path, struct diag *d)
{
	struct stat st;
	sigset_t old;
	int rc;

	cleanup_block(&old);
	if ((rc = mkdir(path, 0777)) == 0 &&
	    cleanup_add(b->cleanup, path, 1) == -1) {
		rmdir(path);
		errno = EMFILE;
		rc = -1;
	}
	cleanup_unblock(&old);
	if (rc == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return diag_errno(d, "%s", path);
}

static int
add_file(struct bundle *b, const char *rel, struct diag *d)
{
	for (size_t i = 0; i < b->n_files; i++)
		if (strcmp(b->files[i], rel) == 0)
			return 0;
	if (b->n_files == BUNDLE_MAX_FILES ||
	    (b->files[b->n_files] = strdup(rel)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	b->n_files++;
	return 0;
}

/* A folder of ours in $TMPDIR; it, config.json and the side files are in
 * the cleanup table from the start (the model and its data files go in
 * as they are written: onnx_write.h's finals_in_cleanup). */
static int
temp_dir(struct bundle *b, struct diag *d)
{
	const char *tmp = getenv("TMPDIR");
	char rel[128], path[PATH_MAX];
	sigset_t old;
	int rc = 0;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((b->dir = io_concat(tmp, "/onnx-emit-bundle-XXXXXX")) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	cleanup_block(&old);
	if (mkdtemp(b->dir) == NULL)
		rc = diag_errno(d, "%s", b->dir);
	else if (cleanup_add(b->cleanup, b->dir, 1) == -1)
		rc = diag_fail(d, BN_EXIT_IO, "%s: too many files to clean "
		    "up", b->dir);
	cleanup_unblock(&old);
	if (rc == -1)
		return -1;
	b->temporary = 1;
	for (size_t i = 0; i <= N_SIDE; i++) {
		if (bundle_rel_name(b, i, rel, sizeof rel) == NULL ||
		    path_in(b, rel, path, sizeof path, d) == -1 ||
		    cleanup_add(b->cleanup, path, 0) == -1)
			return diag_fail(d, BN_EXIT_IO, "%s: too many files "
			    "to clean up", b->dir);
	}
	return 0;
}

int
bundle_open(struct bundle *b, const char *dir, int force,
    const Tstream__StreamHeader *h, struct cleanup *c, struct diag *d)
{
	char rel[64], path[PATH_MAX];

	memset(b, 0, sizeof *b);
	b->force = force;
	b->cleanup = c;
	if (pick_suffix(h, &b->suffix, d) == -1)
		return -1;
	if (strcmp(dir, "-") == 0) {
		if (temp_dir(b, d) == -1)
			return -1;
	} else if ((b->dir = strdup(dir)) == NULL) {
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	} else if ((!force && refuse_existing(b, d) == -1) ||
	    make_dir(b, b->dir, d) == -1) {
		return -1;
	}
	snprintf(rel, sizeof rel, "onnx/model%s.onnx", b->suffix);
	if (path_in(b, "onnx", path, sizeof path, d) == -1 ||
	    make_dir(b, path, d) == -1 ||
	    path_in(b, rel, path, sizeof path, d) == -1)
		return -1;
	if ((b->model_path = strdup(path)) == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	return 0;
}

/* The transformers.js_config object `key` of the bundle's config.json
 * as it is (a copy), so that a second form written into the folder keeps
 * the first one's entries; a new object if there is none. */
static json_t *
existing_tjs(const struct bundle *b, const char *key)
{
	char path[PATH_MAX], *text;
	struct diag quiet = { 0 };
	json_t *cfg, *rec = NULL, *old;
	size_t len;

	if (io_join(b->dir, CONFIG_NAME, path, sizeof path, &quiet) == 0 &&
	    io_slurp(path, 1 << 20, &text, &len, &quiet) == 0) {
		cfg = json_loadb(text, len, 0, NULL);
		free(text);
		old = json_object_get(json_object_get(cfg, TJS_CONFIG), key);
		if (json_is_object(old))
			rec = json_deep_copy(old);
		json_decref(cfg);
	}
	return rec != NULL ? rec : json_object();
}

/* The form transformers.js should pick by default on a device of the
 * browser, when the bundle has it: where its heavy operators run on that
 * device's provider of onnxruntime-web (see onnx-emit(1)). */
static const struct device_pick {
	const char *device;
	const char *suffix;		/* of the model file */
	Tstream__Encoding table;	/* of the embedding and head */
} device_picks[] = {
	/* MatMulInteger on WebAssembly SIMD, the head too */
	{ "wasm", "_int8", TSTREAM__ENCODING__ROW_I8 },
	/* MatMulNBits, bits 2 and 8, on the GPU; no float16 needed */
	{ "webgpu", "_q2", TSTREAM__ENCODING__BLOCK_Q8 },
};

static Tstream__Encoding
table_encoding(const Tstream__StreamHeader *h)
{
	const Tstream__TensorInfo *t = tstream_manifest_entry(h,
	    BITNET_HEAD_NAME);

	if (t == NULL)
		t = tstream_manifest_entry(h, BITNET_EMBED_NAME);
	return t ? t->encoding : TSTREAM__ENCODING__ENCODING_UNSPECIFIED;
}

/* transformers.js_config.device_config: dtype of each device this form
 * suits, the entries of forms written before kept (but one naming this
 * form where it no longer suits). */
static json_t *
device_config(const struct bundle *b, const Tstream__StreamHeader *h)
{
	json_t *rec = existing_tjs(b, TJS_DEVICES), *dev;
	int bad = 0;

	for (size_t i = 0; i < sizeof device_picks / sizeof *device_picks;
	    i++) {
		const struct device_pick *p = &device_picks[i];
		const char *had = json_string_value(json_object_get(
		    json_object_get(rec, p->device), "dtype"));

		if (strcmp(p->suffix, b->suffix) != 0)
			continue;
		if (p->table != table_encoding(h)) {
			/* this file no longer suits the device */
			if (had != NULL && strcmp(had, p->suffix + 1) == 0)
				json_object_del(rec, p->device);
			continue;
		}
		if ((dev = json_object()) == NULL ||
		    json_object_set_new(dev, "dtype", json_string(p->suffix +
		    1)) == -1 || json_object_set_new(rec, p->device, dev) == -1)
			bad = 1;
	}
	if (bad) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

/* config.json: the source's, as a decoder transformers.js knows, with the
 * number of external data files of each model file it must load and the
 * forms that suit the browser's devices. */
static json_t *
bundle_config(const struct bundle *b, const Tstream__StreamHeader *h,
    unsigned n_data, struct diag *d)
{
	const char *text = h->config_json ? h->config_json : "{}";
	json_t *cfg = jsonio_parse(text, strlen(text), "the stream header",
	    "config.json", d);
	json_t *tjs, *rec = existing_tjs(b, TJS_EXTERNAL);
	json_t *devs = device_config(b, h);
	char model[64];
	int bad = rec == NULL || devs == NULL;

	if (cfg == NULL || !json_is_object(cfg)) {
		if (cfg != NULL)
			diag_fail(d, BN_EXIT_INPUT, "the stream's config.json "
			    "is not a JSON object");
		json_decref(rec);
		json_decref(devs);
		json_decref(cfg);
		return NULL;
	}
	snprintf(model, sizeof model, "model%s.onnx", b->suffix);
	bad |= json_object_set_new(rec, model, json_integer(n_data));
	if (!json_is_object(tjs = json_object_get(cfg, TJS_CONFIG))) {
		tjs = json_object();
		bad |= json_object_set_new(cfg, TJS_CONFIG, tjs);
	}
	bad |= json_object_set_new(tjs, TJS_EXTERNAL, rec);
	if (json_object_size(devs) > 0)
		bad |= json_object_set(tjs, TJS_DEVICES, devs);
	else
		json_object_del(tjs, TJS_DEVICES);
	json_decref(devs);
	if (json_is_string(json_object_get(cfg, "model_type")))
		bad |= json_object_set(cfg, "bitnet_onnx_model_type",
		    json_object_get(cfg, "model_type"));
	bad |= json_object_set_new(cfg, "model_type",
	    json_string(DECODER_TYPE));
	if (bad) {
		json_decref(cfg);
		diag_fail(d, BN_EXIT_IO, "config.json: out of memory");
		return NULL;
	}
	return cfg;
}

static int
write_rel(struct bundle *b, const char *rel, const void *buf, size_t len,
    struct diag *d)
{
	char path[PATH_MAX];

	if (path_in(b, rel, path, sizeof path, d) == -1 ||
	    outfile_write_all(path, buf, len, b->cleanup, d) == -1)
		return -1;
	return add_file(b, rel, d);
}

static int
write_config(struct bundle *b, const Tstream__StreamHeader *h,
    unsigned n_data, struct diag *d)
{
	json_t *cfg = bundle_config(b, h, n_data, d);
	char *text;
	int rc;

	if (cfg == NULL)
		return -1;
	text = json_dumps(cfg, JSON_INDENT(2));
	json_decref(cfg);
	if (text == NULL)
		return diag_fail(d, BN_EXIT_IO, "config.json: out of memory");
	rc = write_rel(b, CONFIG_NAME, text, strlen(text), d);
	free(text);
	return rc;
}

static int
write_side_files(struct bundle *b, Tstream__SideFile *const *s, size_t n,
    struct diag *d)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < N_SIDE; k++)
			if (s[i]->name && strcmp(s[i]->name, side_names[k]) == 0 &&
			    write_rel(b, side_names[k], s[i]->content.data,
			    s[i]->content.len, d) == -1)
				return -1;
	return 0;
}

int
bundle_finish(struct bundle *b, const Tstream__StreamHeader *h,
    const Tstream__Trailer *t, unsigned n_data, struct diag *d)
{
	char rel[128];

	for (size_t i = N_SIDE + 1; i < N_SIDE + 2 + n_data; i++)
		if (bundle_rel_name(b, i, rel, sizeof rel) == NULL ||
		    add_file(b, rel, d) == -1)
			return d->msg[0] ? -1 : diag_fail(d, BN_EXIT_INPUT,
			    "%s: path too long", b->dir);
	if (write_config(b, h, n_data, d) == -1 ||
	    write_side_files(b, h->side_files, h->n_side_files, d) == -1)
		return -1;
	if (t != NULL && write_side_files(b, t->side_files, t->n_side_files,
	    d) == -1)
		return -1;
	return 0;
}

static int
tar_fail(struct archive *a, const char *what, struct diag *d)
{
	const char *msg = archive_error_string(a);

	if (archive_errno(a) == EPIPE)
		errno = EPIPE;
	return diag_fail(d, BN_EXIT_IO, "standard output: writing %s to the "
	    "tar stream: %s", what, msg ? msg : "unknown error");
}

/* One regular file of the folder into the archive. */
static int
tar_file(struct archive *a, const struct bundle *b, const char *rel,
    unsigned char *buf, struct diag *d)
{
	struct archive_entry *e = archive_entry_new();
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	if (e == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (path_in(b, rel, path, sizeof path, d) == -1 ||
	    (fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		archive_entry_free(e);
		return d->msg[0] ? -1 : diag_errno(d, "%s", path);
	}
	archive_entry_set_pathname(e, rel);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, st.st_mode & 0777);
	archive_entry_set_size(e, st.st_size);
	archive_entry_set_mtime(e, st.st_mtime, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = tar_fail(a, rel, d);
	while (rc == 0 && (n = read(fd, buf, TSTREAM_CHUNK)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			rc = diag_errno(d, "%s", path);
		else if (archive_write_data(a, buf, (size_t)n) != n)
			rc = tar_fail(a, rel, d);
	}
	close(fd);
	archive_entry_free(e);
	return rc;
}

/* A folder's entry, with the mode the umask gave its copy here. */
static int
tar_dir(struct archive *a, const struct bundle *b, const char *rel,
    struct diag *d)
{
	struct archive_entry *e = archive_entry_new();
	char path[PATH_MAX];
	struct stat st;
	int rc = 0;

	if (e == NULL)
		return diag_fail(d, BN_EXIT_IO, "out of memory");
	if (path_in(b, rel, path, sizeof path, d) == -1 ||
	    stat(path, &st) == -1) {
		archive_entry_free(e);
		return d->msg[0] ? -1 : diag_errno(d, "%s", path);
	}
	archive_entry_set_pathname(e, rel);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, st.st_mode & 0777);
	archive_entry_set_mtime(e, time(NULL), 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = tar_fail(a, rel, d);
	archive_entry_free(e);
	return rc;
}

int
bundle_write_tar(struct bundle *b, int fd, struct diag *d)
{
	struct archive *a = archive_write_new();
	unsigned char *buf = io_alloc(TSTREAM_CHUNK, "tar buffer", d);
	int rc = 0;

	if (a == NULL || buf == NULL) {
		archive_write_free(a);
		free(buf);
		return d->msg[0] ? -1 : diag_fail(d, BN_EXIT_IO,
		    "out of memory");
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK)
		rc = tar_fail(a, "the header", d);
	if (rc == 0)
		rc = tar_dir(a, b, "onnx/", d);
	for (size_t i = 0; rc == 0 && i < b->n_files; i++)
		rc = tar_file(a, b, b->files[i], buf, d);
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = tar_fail(a, "the end", d);
	archive_write_free(a);
	free(buf);
	return rc;
}

void
bundle_close(struct bundle *b)
{
	char rel[128], path[PATH_MAX];
	struct diag quiet = { 0 };

	if (b->temporary && b->dir != NULL) {
		for (size_t i = 0; i < b->n_files; i++)
			if (io_join(b->dir, b->files[i], path, sizeof path,
			    &quiet) == 0)
				unlink(path);
		for (size_t i = N_SIDE + 1; i < N_NAMES; i++)
			if (bundle_rel_name(b, i, rel, sizeof rel) != NULL &&
			    io_join(b->dir, rel, path, sizeof path,
			    &quiet) == 0)
				unlink(path);
		if (io_join(b->dir, "onnx", path, sizeof path, &quiet) == 0)
			rmdir(path);
		rmdir(b->dir);
	}
	for (size_t i = 0; i < b->n_files; i++)
		free(b->files[i]);
	free(b->model_path);
	free(b->dir);
	memset(b, 0, sizeof *b);
}
