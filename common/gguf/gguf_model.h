/* SPDX-License-Identifier: ISC */
/*
 * gguf_model.h - a bitnet.cpp GGUF model as a tensor stream.  Each
 * general.architecture bitnet.cpp's converters write is one row of a
 * table, naming the model family it holds: "bitnet-b1.58" and "bitnet-25"
 * (microsoft's BitNet b1.58), "bitnet" (1bitLLM's bitnet_b1_58) and
 * "llama" (the Llama family with BitLinear projections, whose q and k
 * rows llama.cpp's converter interleaves).  The hyper-parameters become
 * the config fields of that family's config.json (and a config.json text
 * is written for the stream), tensor names become the Hugging Face ones,
 * shapes are given outer dimension first, the tokenizer metadata travels
 * as the side file tokenizer.gguf.json, projections go out as ternary-i2s
 * tensors for tern-dequant (re-packed by gguf_proj.h where needed), and
 * the block-quantized types (ggml_types.h) as float32.
 */
#ifndef BN_GGUF_MODEL_H
#define BN_GGUF_MODEL_H

#include "bitnet_names.h"
#include "diag.h"
#include "ggml_types.h"
#include "gguf.h"
#include "model_source.h"
#include "tstream.h"

struct gguf_arch;	/* a row of the architectures read */

struct gguf_item {
	const struct gguf_tensor *t;
	const struct ggml_type *type;
	unsigned heads;		/* q or k rows interleaved over this many
				 * heads; 0 otherwise */
	int repack;		/* a projection re-packed (gguf_proj.h) */
	Tstream__TensorInfo info;
	uint64_t shape[TSTREAM_MAX_RANK];
	char *hf_name;
};

struct gguf_model {
	struct gguf_file g;
	const struct gguf_arch *arch;	/* general.architecture */
	char *config_json;
	Tstream__ModelConfig *config;
	/* tokenizer.gguf.json, and tokenizer.json and tokenizer_config.json
	 * when the tokenizer converts (gguf_tokenizer.h) */
	Tstream__SideFile side[3];
	Tstream__SideFile *side_ptrs[3];
	size_t n_side;
	/* why the tokenizer did not convert ("": it did, or there is none) */
	char tokenizer_note[4608];
	struct gguf_item *items;	/* model order */
	size_t n_items;
};

int gguf_model_open(struct gguf_model *m, const char *path, struct diag *d);
/* The model's tensor table (model_source.h), which points into m. */
void gguf_model_table(struct gguf_model *m, struct model_table *t);
int gguf_model_write_tensor(const struct gguf_model *m, size_t i,
    struct tstream_writer *w, void *buf, struct diag *d);
void gguf_model_close(struct gguf_model *m);

/* gguf-read's source: a GGUF file through gguf_model. */
extern const struct model_source gguf_model_source;

/* The Hugging Face name of a GGUF tensor name, as family f spells it,
 * into buf; -1 if unknown or not one of f's. */
int gguf_hf_name(enum bitnet_family f, const char *gguf_name, char *buf,
    size_t len);

/* The architectures read, for messages: "'bitnet-b1.58', ..." in buf. */
const char *gguf_arch_names(char *buf, size_t len);

#endif
