#!/bin/sh
# SPDX-License-Identifier: ISC
# Make the GGUF files of tests/models/bitnetcpp-tiny as bitnet.cpp writes
# them today: a tiny fixture (seed 31) of each family written as the F32
# GGUF bitnet.cpp's converter makes for it, then quantized by bitnet.cpp's
# own llama-quantize to I2_S (which stores a small vocabulary's embedding
# as Q8_0 or F16, and an untied head as Q8_0), for the tests of gguf-read.
# Not part of make check.
#
#   ggml-model-i2_s.gguf  tiny-tok, architecture bitnet-25 (BitNet b1.58)
#   llama-i2_s.gguf       tiny-llama-tok, architecture llama (q and k rows
#                         interleaved for llama.cpp's RoPE)
#   bitnet-i2_s.gguf      tiny-1bitllm-tok, architecture bitnet (1bitLLM)
#
#   tools/bitnetcpp_gguf.sh 'PATH/run llama-quantize'
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
quantize=${1:?usage: bitnetcpp_gguf.sh 'PATH/run llama-quantize'}
py=${PYTHON:-/usr/bin/python3}
out=$root/tests/models/bitnetcpp-tiny
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
for row in tiny-tok:bitnet-25:ggml-model-i2_s tiny-llama-tok:llama:llama-i2_s \
    tiny-1bitllm-tok:bitnet:bitnet-i2_s; do
	preset=${row%%:*} rest=${row#*:}
	arch=${rest%%:*} name=${rest#*:}
	"$py" "$root/tests/lib/gen_fixture.py" "$tmp/$preset" --preset "$preset" \
	    --seed 31 >/dev/null
	"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/$preset" "$tmp/$name.gguf" \
	    --proj f32 --arch "$arch"
	# shellcheck disable=SC2086
	$quantize "$tmp/$name.gguf" "$out/$name.gguf" I2_S 1 >/dev/null 2>&1
done
