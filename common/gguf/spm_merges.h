/* SPDX-License-Identifier: ISC */
/*
 * spm_merges.h - the BPE merges that encode as a SentencePiece vocabulary
 * with scores does: every way of writing a piece as two pieces of the
 * vocabulary (split between UTF-8 characters) is a merge, ranked by the
 * joined piece's score, highest first, then by the joined piece's id and
 * the two halves' ids.  A SentencePiece BPE model (and llama.cpp's SPM
 * tokenizer) joins, at each step, the adjacent pair whose joined piece
 * scores highest; these ranks make a BPE model do the same.  They are the
 * merges Hugging Face's own conversion of a SentencePiece model writes
 * (LLaMA-2's tokenizer.json has exactly them).
 */
#ifndef BN_SPM_MERGES_H
#define BN_SPM_MERGES_H

#include <jansson.h>

/* The merges, a JSON array of [left, right] pairs, of the pieces tokens
 * (strings) with scores (numbers, as many); vocab maps each piece to its
 * id.  NULL when memory runs out. */
json_t *spm_merges(json_t *tokens, json_t *scores, json_t *vocab);

#endif
