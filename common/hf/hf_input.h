/* SPDX-License-Identifier: ISC */
/*
 * hf_input.h - where st-read's model comes from: a folder, a safetensors
 * file or an index, read at random; an archive file (hf_archive.h), read
 * as often as needed; or, in one pass, standard input ("-"), a pipe named
 * as the model (/dev/stdin, <(...)), or an archive arriving through one.
 * Either way the model is planned the same (hf_model.h) and written with
 * hf_input_write.
 */
#ifndef BN_HF_INPUT_H
#define BN_HF_INPUT_H

#include "diag.h"
#include "hf_archive.h"
#include "hf_model.h"
#include "model_source.h"
#include "st_onepass.h"
#include "tstream.h"

struct hf_input {
	struct hf_archive x;
	struct st_onepass s;
	struct byte_source stdin_src;
	struct st_peeked peek;	/* its first bytes: an archive or not */
	FILE *pipe;		/* a pipe named as the model */
	int one_pass;
};

/* Open model (a path, or "-" for standard input; a pipe, unless it is an
 * archive, needs config as standard input does).  An archive is known by
 * its name, or on standard input or a pipe by its first bytes. */
int hf_input_open(struct hf_input *in, struct hf_model *m, const char *model,
    const char *config, struct diag *d);

/* Write tensors kept[0 .. n - 1] of m to w, in that order; for an
 * archive, the side files met after the weights are set to go in w's
 * trailer. */
int hf_input_write(struct hf_input *in, struct hf_model *m, const size_t *kept,
    size_t n, struct tstream_writer *w, struct diag *d);

void hf_input_close(struct hf_input *in);

/* st-read's source: a Hugging Face model through hf_input. */
extern const struct model_source hf_model_source;

#endif
