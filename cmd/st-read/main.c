/* SPDX-License-Identifier: ISC */
/*
 * st-read - read a Hugging Face BitNet model and write a tensor stream.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hf_input.h"
#include "reader_cli.h"

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: st-read [--config FILE] [--tensors GLOB]... "
	    "[--layers LIST]\n"
	    "               [--list [--json]] [--progress | -q] MODEL\n"
	    "MODEL is a folder (config.json + model.safetensors or "
	    "model.safetensors.index.json\n"
	    "and shards), a .safetensors file, an index .json file, an "
	    "archive of a folder\n"
	    "(.tar, .tar.gz, .tar.zst, .tar.xz, .zip; its entries in any "
	    "order), or - or a\n"
	    "pipe for a safetensors file read in one pass (with "
	    "--config).\n"
	    "  -c, --config FILE    config.json to use (default: beside "
	    "the weights)\n"
	    READER_OPTIONS_HELP);
	exit(status);
}

int
main(int argc, char **argv)
{
	return reader_main(&hf_model_source, argc, argv, usage);
}
