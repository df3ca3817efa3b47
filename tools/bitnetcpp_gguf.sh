#!/bin/sh
# SPDX-License-Identifier: ISC
# Make tests/models/bitnetcpp-tiny/ggml-model-i2_s.gguf: the tiny-tok
# fixture (seed 31) written as an F32 GGUF of architecture bitnet-25, then
# quantized by bitnet.cpp's own llama-quantize to I2_S, which stores the
# embedding of a small vocabulary as Q8_0: a file as bitnet.cpp writes it
# today, for the tests of gguf-read.  Not part of make check.
#
#   tools/bitnetcpp_gguf.sh 'PATH/run llama-quantize'
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
quantize=${1:?usage: bitnetcpp_gguf.sh 'PATH/run llama-quantize'}
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$root/tests/lib/gen_fixture.py" "$tmp/m" --preset tiny-tok --seed 31 \
    >/dev/null
"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/m" "$tmp/f32.gguf" --proj f32 \
    --arch bitnet-25
mkdir -p "$root/tests/models/bitnetcpp-tiny"
# shellcheck disable=SC2086
$quantize "$tmp/f32.gguf" "$root/tests/models/bitnetcpp-tiny/ggml-model-i2_s.gguf" \
    I2_S 1 >/dev/null 2>&1
