/* SPDX-License-Identifier: ISC */
/*
 * gguf-read - read a bitnet.cpp GGUF model and write a tensor stream.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gguf_model.h"
#include "reader_cli.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: gguf-read [--tensors GLOB]... [--layers LIST] "
	    "[--list [--json]]\n"
	    "                 [--progress | -q] MODEL.gguf\n"
	    "Reads a bitnet.cpp GGUF v3 model (architecture bitnet-b1.58, "
	    "bitnet-25,\n"
	    "bitnet or llama; F32, F16, BF16 and I2_S tensors passed on, "
	    "Q8_0, Q4_0,\n"
	    "Q4_K and Q6_K dequantized to float32, projections re-packed as "
	    "I2_S\n"
	    "where needed) and writes it as a tensor stream.  Names and row "
	    "order\n"
	    "are the Hugging Face ones; a Llama 3 or GPT-2 byte-level BPE or "
	    "a\n"
	    "SentencePiece tokenizer also travels as tokenizer.json (a note "
	    "says why\n"
	    "when another does not).\n"
	    READER_OPTIONS_HELP);
	exit(status);
}

int
main(int argc, char **argv)
{
	return reader_main(&gguf_model_source, argc, argv, usage);
}
