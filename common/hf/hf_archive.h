/* SPDX-License-Identifier: ISC */
/*
 * hf_archive.h - a Hugging Face model folder inside an archive (.tar,
 * .tar.gz, .tar.zst, .tar.xz, .zip: whatever libarchive reads), never
 * unpacked to disk.
 *
 * The model's folder is the archive folder that holds config.json (with
 * --config, the one that holds the weights); entries of other folders are
 * ignored, and a file of the model's folder that appears twice is refused.
 *
 * An archive given as a regular file is read as often as needed
 * (archive_cursor.h), so its entries may come in any order, a sharded
 * model included: a first read lists the entries, a second takes
 * config.json, the side files, the index, each safetensors header and the
 * weight scales, and the tensors are then read in the archive's order.
 *
 * An archive that arrives through a pipe is read once: config.json must
 * come before the weights (or be given apart), it holds one safetensors
 * file, and side files met after the weights travel in the stream's
 * trailer.
 */
#ifndef BN_HF_ARCHIVE_H
#define BN_HF_ARCHIVE_H

#include <stdint.h>

#include "archive_cursor.h"
#include "diag.h"
#include "hf_model.h"
#include "st_onepass.h"

#define HF_ARCHIVE_MAX_FILES	(HF_MAX_SHARDS + 64u)	/* model files */
#define HF_ARCHIVE_MAX_EARLY	8u	/* one-pass side files held */

struct hf_archive;

/* A file of the model's folder (or, while listing, of any folder). */
struct hf_archive_file {
	char *path;		/* the entry's path in the archive */
	const char *name;	/* its last component, within path */
	size_t entry;		/* its place in the archive, from 0 */
	int64_t size;		/* -1 when the archive does not say */
	char *text;		/* a small file, read ahead, until taken */
	size_t len;
	struct st_file st;	/* a safetensors file, its header read */
	int has_st;
	struct hf_archive *x;
};

/* A weight scale read ahead, so that reading the model's tensors never
 * goes back in the archive. */
struct hf_archive_scale {
	size_t file;
	uint64_t off;
	size_t len;
	unsigned char bytes[16];
};

struct hf_archive {
	const char *path;
	char *folder;		/* the model's folder in the archive */
	/* an archive file, read at random */
	struct archive_cursor c;
	struct hf_archive_file *files;
	size_t n_files;
	struct hf_archive_scale *scales;
	size_t n_scales;
	/* an archive read once, through a pipe */
	struct archive *a;
	char *config_text;	/* config.json, when met before the weights */
	size_t config_len;
	char *weights;		/* the safetensors entry's name */
	uint64_t weights_size;
	struct byte_source src;	/* reads the current entry */
	Tstream__SideFile **late;	/* side files after the weights */
	size_t n_late;
	size_t side_bytes;	/* of every side file taken */
	char *early_path[HF_ARCHIVE_MAX_EARLY];	/* before the weights */
	char *early_buf[HF_ARCHIVE_MAX_EARLY];
	size_t early_len[HF_ARCHIVE_MAX_EARLY];
	size_t n_early;
	/* an archive read from a byte source (standard input) */
	struct byte_source *in;
	unsigned char *inbuf;
	struct diag in_diag;	/* why the source failed */
};

/* True when path names an archive (by its ending). */
int hf_archive_is_archive(const char *path);

/* True when the first n bytes of a stream are those of an archive or a
 * compressed file (tar, zip, gzip, bzip2, xz, zstd, lz4), not of a
 * safetensors file. */
int hf_archive_sniff(const unsigned char *b, size_t n);

/* An archive file: open model m from it (config_path may be NULL). */
int hf_archive_open_model(struct hf_archive *x, struct hf_model *m,
    const char *path, const char *config_path, struct diag *d);

/* An archive read once: open and read up to the safetensors entry. */
int hf_archive_open(struct hf_archive *x, const char *path, struct diag *d);
/* The same from a byte source (standard input), named name. */
int hf_archive_open_source(struct hf_archive *x, const char *name,
    struct byte_source *in, struct diag *d);

/* Give the side files read so far to m (one pass). */
int hf_archive_give_side_files(struct hf_archive *x, struct hf_model *m,
    struct diag *d);

/* After the weights: read the rest, keeping late side files (one pass). */
int hf_archive_finish(struct hf_archive *x, struct diag *d);

void hf_archive_close(struct hf_archive *x);

#endif
