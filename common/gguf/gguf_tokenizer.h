/* SPDX-License-Identifier: ISC */
/*
 * gguf_tokenizer.h - the Hugging Face tokenizer.json and
 * tokenizer_config.json of a GGUF file's tokenizer, built from llama.cpp's
 * tokenizer metadata, so that a model read from GGUF carries the tokenizer
 * transformers.js loads and tokenizes as llama.cpp does.
 *
 * Converted, one row of kinds[] each:
 *  - tokenizer.ggml.model "gpt2" (byte-level BPE) with tokenizer.ggml.pre
 *    "llama-bpe" or "llama3" (Llama 3's tokenizer, as BitNet b1.58 2B4T and
 *    Llama3-8B-1.58 have it: Llama 3's split pattern, then byte-level
 *    symbols, whole words found in the vocabulary before any merge, a BOS
 *    by default), or "gpt-2" (GPT-2's byte-level pre-tokenizer);
 *  - tokenizer.ggml.model "llama" (SentencePiece, as 1bitLLM's models have
 *    it) with no pre-tokenizer or "default": a BPE model with byte
 *    fallback whose merges come from the pieces' scores (spm_merges.h),
 *    spaces written as U+2581 with one before the text unless
 *    tokenizer.ggml.add_space_prefix is false, a BOS by default.
 * Control tokens (and SentencePiece's unknown token) become special added
 * tokens, user-defined ones added tokens; a BOS is prepended and an EOS
 * appended when tokenizer.ggml.add_bos_token / add_eos_token say so;
 * tokenizer.chat_template goes into tokenizer_config.json.  Anything else
 * (Falcon3's pre-tokenizer, whose Hugging Face form is not confirmed to be
 * the Llama 3 pattern llama.cpp reads it as, other models and
 * pre-tokenizers, keys whose effect is not reproduced) is not converted,
 * and the reason is given.
 */
#ifndef BN_GGUF_TOKENIZER_H
#define BN_GGUF_TOKENIZER_H

#include <stddef.h>

#include <jansson.h>

/* From the tokenizer.* keys of kv: 1 with *tokenizer and *config set
 * (JSON texts, the caller frees them), 0 with why (len bytes) saying why
 * the tokenizer is not converted, or -1 when memory ran out. */
int gguf_tokenizer_convert(json_t *kv, char **tokenizer, char **config,
    char *why, size_t len);

#endif
