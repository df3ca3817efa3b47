/* SPDX-License-Identifier: ISC */
/*
 * bitnet_graph.h - the ONNX graph of a BitNet b1.58 decoder (the forward
 * pass bitnet-onnx(7) describes) in opset 17 standard operators (the
 * compact forms' com.microsoft ones aside), with
 * the decoder interface of transformers.js / Optimum / onnxruntime-genai:
 *
 *   in:  input_ids, attention_mask, position_ids (int64),
 *        past_key_values.{i}.key|value [batch, kv_heads, past, head_dim]
 *   out: logits [batch, seq, vocab], present.{i}.key|value
 *
 * or a part of it (bitnet_plan.h).  Every size comes from the config.
 * Weights are graph initializers named as in the Hugging Face model and
 * are streamed in by the writer.
 */
#ifndef BN_BITNET_GRAPH_H
#define BN_BITNET_GRAPH_H

#include "bitnet_plan.h"
#include "diag.h"
#include "onnx_graph.h"
#include "onnx_write.h"
#include "tstream.h"


struct bitnet_graph_opts {
	int act_quant;		/* per-token int8 activation quantization */
	int accuracy_level;	/* MatMulNBits' accuracy_level (q2 weights);
				 * -1: not given (0) */
	int gqa;		/* attention as com.microsoft.GroupQueryAttention */
	int last_logits;	/* logits [batch, 1, vocab] of the last position */
	uint64_t table_piece;	/* the embedding and head in pieces of rows
				 * of at most this many float32 bytes; 0:
				 * whole */
};

/* The default table_piece: 128 MiB, the storage buffer binding that
 * every WebGPU device offers, and no float32 temporary of a piece's
 * dequantized rows above it. */
#define BITNET_TABLE_PIECE	(UINT64_C(128) << 20)

/* Rows a piece of table tensor t (the embedding, the head or their
 * scales) holds under table_piece, or 0 when t stays whole. */
uint64_t bitnet_table_piece_rows(const Tstream__StreamHeader *h,
    const Tstream__TensorInfo *t, uint64_t table_piece);

/* The initializers the writer streams in for header h (onnx_write.h):
 * one per manifest entry, the tables' in pieces of rows as o says;
 * allocated in g's arena.  Returns the count, or -1. */
long bitnet_graph_weights(struct onnx_graph *g, const Tstream__StreamHeader *h,
    const struct bitnet_graph_opts *o, struct onnx_weight **w,
    struct diag *d);

/* -1 (a usage error) for options that the projections of header h
 * cannot take or that would change nothing: no activation quantization
 * where a projection's integer matmul needs it (int8, q2-slot), an
 * accuracy level where no projection takes one (only q2 does; q2-slot
 * always runs at 4), GroupQueryAttention for a head size it lacks. */
int bitnet_graph_refuse_opts(const Tstream__StreamHeader *h,
    const struct bitnet_graph_opts *o, struct diag *d);

/* Add the graph of part (see bitnet_plan.h) to g, from the config and
 * manifest of h.  Projections stored as int8 take MatMulInteger, q2 ones
 * com.microsoft.MatMulNBits (compact.h); the rest is plain float32. */
int bitnet_graph_build(struct onnx_graph *g, const Tstream__StreamHeader *h,
    const struct bitnet_part *part, const struct bitnet_graph_opts *o,
    struct diag *d);

/* Fill m for the graph g converted from the stream of header h: IR
 * version 8, opset 17, producer, and metadata naming the source config
 * and every tool that made it (producer is appended to the chain). */
int bitnet_graph_model(struct onnx_graph *g, Onnx__ModelProto *m,
    const Tstream__StreamHeader *h, const char *producer, struct diag *d);

#endif
