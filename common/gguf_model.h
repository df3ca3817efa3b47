/* SPDX-License-Identifier: ISC */
/*
 * gguf_model.h - a bitnet.cpp GGUF model (general.architecture
 * "bitnet-b1.58" or "bitnet-25") as a tensor stream: the hyper-parameters
 * become the same config fields as a Hugging Face config.json (and a
 * config.json text is written for the stream), tensor names become the
 * Hugging Face ones, shapes are given outer dimension first, the tokenizer
 * metadata travels as the side file tokenizer.gguf.json, I2_S projections
 * go out as ternary-i2s tensors for tern-dequant, and the block-quantized
 * types (ggml_types.h) as float32.
 */
#ifndef BN_GGUF_MODEL_H
#define BN_GGUF_MODEL_H

#include "diag.h"
#include "ggml_types.h"
#include "gguf.h"
#include "reader_cli.h"
#include "selection.h"
#include "tstream.h"

/* The architectures read: the published 2B4T GGUF's, and what bitnet.cpp's
 * converter writes today (its loader treats the two alike). */
#define GGUF_ARCH	"bitnet-b1.58"
#define GGUF_ARCH_25	"bitnet-25"

struct gguf_item {
	const struct gguf_tensor *t;
	const struct ggml_type *type;
	Tstream__TensorInfo info;
	uint64_t shape[TSTREAM_MAX_RANK];
	char *hf_name;
};

struct gguf_model {
	struct gguf_file g;
	const char *arch;	/* general.architecture, one of the above */
	char *config_json;
	Tstream__ModelConfig *config;
	Tstream__SideFile side;
	Tstream__SideFile *side_ptr;
	struct gguf_item *items;	/* model order */
	size_t n_items;
};

int gguf_model_open(struct gguf_model *m, const char *path, struct diag *d);
int gguf_model_select(struct gguf_model *m, const struct selection *s,
    struct diag *d);
void gguf_model_header(struct gguf_model *m, Tstream__StreamHeader *h,
    Tstream__TensorInfo **manifest);
int gguf_model_write_tensor(const struct gguf_model *m, size_t i,
    struct tstream_writer *w, void *buf, struct diag *d);
void gguf_model_close(struct gguf_model *m);

/* gguf-read's source: a GGUF file through gguf_model. */
extern const struct model_source gguf_model_source;

/* The Hugging Face name of a GGUF tensor name into buf; -1 if unknown. */
int gguf_hf_name(const char *gguf_name, char *buf, size_t len);

#endif
