/* SPDX-License-Identifier: ISC */
/*
 * bitnet_config.h - config.json of a BitNet model into a ModelConfig.
 *
 * Keys that fix tensor shapes are required; the others take the defaults
 * of transformers' BitNetConfig and BitNetQuantConfig.
 */
#ifndef BN_BITNET_CONFIG_H
#define BN_BITNET_CONFIG_H

#include <stddef.h>

#include "bitnet_names.h"
#include "diag.h"
#include "tstream.pb-c.h"

/* Limits on sizes a config may claim (documented in st-read(1)). */
#define BITNET_MAX_DIM		(1u << 20)	/* hidden, ffn, heads */
#define BITNET_MAX_VOCAB	(1u << 24)
#define BITNET_MAX_LAYERS	4096u

/* Parse text (len bytes) read from path; *out is freed with
 * bitnet_config_free. */
int bitnet_config_parse(const char *text, size_t len, const char *path,
    Tstream__ModelConfig **out, struct diag *d);

void bitnet_config_free(Tstream__ModelConfig *c);

/* True when linear_class says weight_scale divides (transformers'
 * BitLinear) rather than multiplies (AutoBitLinear). */
int bitnet_config_scale_divides(const Tstream__ModelConfig *c);

/* The family of c (bitnet_family.h), by its model_type and
 * architecture. */
enum bitnet_family bitnet_config_family(const Tstream__ModelConfig *c);

/* Refuse a projection (t, as a source reader describes it) stored in a
 * form the config does not compute from: packed ternary under
 * quantization_mode online (transformers would quantize the bytes again
 * and ignore weight_scale); float weights under offline (it expects
 * packed ones) or without a quantization_config (plain Linear layers,
 * without BitNet's quantization).  Other tensors pass. */
int bitnet_config_check_projection(const Tstream__ModelConfig *c,
    const Tstream__TensorInfo *t, struct diag *d);

#endif
