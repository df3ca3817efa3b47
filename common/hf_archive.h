/*
 * hf_archive.h - a Hugging Face model folder inside an archive (.tar,
 * .tar.gz, .tar.zst, .tar.xz, .zip: whatever libarchive reads), read as a
 * stream in one pass, never unpacked to disk.  config.json must come
 * before the weights (or be given apart), since the stream's header needs
 * it; side files met after the weights travel in the stream's trailer.
 * One safetensors file per archive: a sharded model cannot be streamed in
 * one pass, as the manifest needs every shard's header first.
 */
#ifndef BN_HF_ARCHIVE_H
#define BN_HF_ARCHIVE_H

#include <stdint.h>

#include "diag.h"
#include "hf_model.h"
#include "st_stream.h"

struct archive;

struct hf_archive {
	struct archive *a;
	const char *path;
	char *config_text;	/* config.json, when met before the weights */
	size_t config_len;
	char *weights;		/* the safetensors entry's name */
	uint64_t weights_size;
	struct byte_source src;	/* reads the current entry */
	Tstream__SideFile **late;	/* side files after the weights */
	size_t n_late;
	/* side files before the weights, until handed to a model */
	char *early_name[8];
	char *early_buf[8];
	size_t early_len[8];
	size_t n_early;
};

/* True when path names an archive (by its ending). */
int hf_archive_is_archive(const char *path);

/* Open and read up to the safetensors entry. */
int hf_archive_open(struct hf_archive *x, const char *path, struct diag *d);

/* Give the side files read so far to m. */
int hf_archive_give_side_files(struct hf_archive *x, struct hf_model *m,
    struct diag *d);

/* After the weights: read the rest, keeping late side files. */
int hf_archive_finish(struct hf_archive *x, struct diag *d);

void hf_archive_close(struct hf_archive *x);

#endif
