/* SPDX-License-Identifier: ISC */
/*
 * hf_model.h - a Hugging Face BitNet model on disk: config.json, the side
 * files beside it, and one safetensors file or an index with shards.
 *
 * Opening checks every header and pairs each packed projection with its
 * weight_scale; the tensors are then listed in model order, as they go
 * into a stream (weight_scale travels in its weight's TensorInfo).
 */
#ifndef BN_HF_MODEL_H
#define BN_HF_MODEL_H

#include "diag.h"
#include "safetensors.h"
#include "model_source.h"
#include "tstream.h"

#define HF_MAX_SIDE_FILE	(64u << 20)
#define HF_MAX_SIDE_TOTAL	(64u << 20)	/* all side files together */
#define HF_MAX_CONFIG		(16u << 20)
#define HF_MAX_INDEX		(64u << 20)
#define HF_MAX_SHARDS		4096u

#define HF_INDEX_NAME		"model.safetensors.index.json"
#define HF_SINGLE_NAME		"model.safetensors"

struct hf_tensor {
	const struct st_file *file;
	const struct st_tensor *st;
	Tstream__TensorInfo info;	/* what goes into the stream */
	uint64_t shape[TSTREAM_MAX_RANK];
};

struct hf_model {
	char *path;
	char *config_path;
	char *config_text;
	Tstream__ModelConfig *config;
	struct st_file *files;
	size_t n_files;
	struct hf_tensor *tensors;	/* model order */
	size_t n_tensors;
	Tstream__SideFile *side;
	Tstream__SideFile **side_ptrs;
	size_t n_side;
};

/* The folder a model's files are read from: one on disk, or the model's
 * folder inside an archive (hf_archive.h). */
struct hf_folder {
	void *ctx;
	const char *label;	/* the folder, for messages */
	/* The whole file name, at most limit bytes, NUL-terminated, in *buf
	 * (to free): 0; 1 when the folder has no such file; -1 on error. */
	int (*slurp)(void *ctx, const char *name, size_t limit, char **buf,
	    size_t *len, struct diag *d);
	/* The safetensors file name with its header read, in *f: 0, 1 or -1
	 * as above; its data readable at any offset (st_read_data). */
	int (*open_st)(void *ctx, const char *name, struct st_file *f,
	    struct diag *d);
};

/* As hf_model_open, from the files of folder f: weights names the
 * safetensors file or index in it (NULL: the index if there is one, else
 * model.safetensors); config_path as below. */
int hf_model_open_folder(struct hf_model *m, const char *path,
    const struct hf_folder *f, const char *weights, const char *config_path,
    struct diag *d);

/* m must be zeroed before any open, and closed after it, failed or not.
 * path: a folder, a .safetensors file or a model.safetensors.index.json;
 * config_path: NULL to look for config.json beside the weights. */
int hf_model_open(struct hf_model *m, const char *path,
    const char *config_path, struct diag *d);

/* The model's tensor table (model_source.h), which points into m. */
void hf_model_table(struct hf_model *m, struct model_table *t);

/* Order the tensors as their files lie in their archive (st_file order),
 * then by offset: the order that reads an archive front to back. */
void hf_model_sort_by_file(struct hf_model *m);

/* Copy the payload of tensor i into w, chunk by chunk through buf of
 * TSTREAM_CHUNK bytes. */
int hf_model_write_tensor(const struct hf_model *m, size_t i,
    struct tstream_writer *w, void *buf, struct diag *d);

/* The model of one safetensors file read in one pass (standard input, an
 * archive): file holds its parsed header (fd -1) and is adopted, as is
 * config_text.  Packed projections get their scale as the data comes. */
int hf_model_open_stream(struct hf_model *m, const char *path,
    char *config_text, size_t config_len, const char *config_name,
    struct st_file *file, struct diag *d);

/* Carry the side files found in dir. */
int hf_model_load_side_files(struct hf_model *m, const char *dir,
    struct diag *d);

/* True for the side files a model carries (tokenizer.json, ...). */
int hf_model_is_side_file(const char *name);

/* Carry a side file read by the caller (buf is adopted, or freed on
 * failure); each name once, all of them within HF_MAX_SIDE_TOTAL. */
int hf_model_add_side_file(struct hf_model *m, const char *name, char *buf,
    size_t len, struct diag *d);

void hf_model_close(struct hf_model *m);

#endif
