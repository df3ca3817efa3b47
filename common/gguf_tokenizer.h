/* SPDX-License-Identifier: ISC */
/*
 * gguf_tokenizer.h - the Hugging Face tokenizer.json and
 * tokenizer_config.json of a GGUF file's byte-level BPE tokenizer, built
 * from llama.cpp's tokenizer metadata, so that a model read from GGUF
 * carries the tokenizer transformers.js loads.
 *
 * Converted: tokenizer.ggml.model "gpt2" with tokenizer.ggml.pre
 *  - "llama-bpe" or "llama3" (Llama 3's tokenizer, as BitNet b1.58 2B4T and
 *    Llama3-8B-1.58 have it): Llama 3's split pattern, then byte-level
 *    symbols, whole words found in the vocabulary before any merge;
 *  - "gpt-2": GPT-2's byte-level pre-tokenizer.
 * Tokens of type control (3) or user-defined (4) become added tokens
 * (special when control); a BOS is prepended when
 * tokenizer.ggml.add_bos_token says so; tokenizer.chat_template goes into
 * tokenizer_config.json.  Anything else (SentencePiece's "llama" model,
 * other pre-tokenizers, whose patterns llama.cpp only approximates) is not
 * converted, and the reason is given.
 */
#ifndef BN_GGUF_TOKENIZER_H
#define BN_GGUF_TOKENIZER_H

#include <jansson.h>

/* From the tokenizer.* keys of kv: 1 with *tokenizer and *config set
 * (JSON texts, the caller frees them), or 0 with *why set when the
 * tokenizer is not one converted (or could not be). */
int gguf_tokenizer_convert(json_t *kv, char **tokenizer, char **config,
    const char **why);

#endif
