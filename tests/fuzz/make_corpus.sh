#!/bin/sh
# SPDX-License-Identifier: ISC
# Write the seed corpus of the fuzz targets from a micro fixture (a few KB
# each).  The files are committed; run this only to renew them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/bin
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
c=$here/corpus
mkdir -p "$c/safetensors" "$c/config" "$c/index" "$c/tstream" "$c/onnx" \
    "$c/archive"
"$py" "$root/tests/lib/gen_fixture.py" "$tmp/m" --preset micro --seed 3
"$py" "$root/tests/lib/gen_fixture.py" "$tmp/s" --preset micro --seed 4 \
    --shards 2 --linear-class bitlinear
cp "$tmp/m/model.safetensors" "$c/safetensors/micro.safetensors"
cp "$tmp/s/model-00001-of-00002.safetensors" "$c/safetensors/shard.safetensors"
cp "$tmp/m/config.json" "$c/config/micro.json"
cp "$tmp/s/config.json" "$c/config/bitlinear.json"
cp "$tmp/s/model.safetensors.index.json" "$c/index/micro.json"
cat > "$c/index/matching.json" <<'JSON'
{"metadata": {"total_size": 34}, "weight_map": {
 "model.layers.0.mlp.up_proj.weight": "a.safetensors",
 "model.layers.0.mlp.up_proj.weight_scale": "a.safetensors",
 "model.norm.weight": "a.safetensors"}}
JSON
"$bin/st-read" "$tmp/m" > "$c/tstream/packed.tstream"
"$bin/tern-dequant" "$c/tstream/packed.tstream" > "$c/tstream/f32.tstream"
"$bin/st-read" -l 0 "$tmp/s" > "$c/tstream/bitlinear-layer.tstream"
"$bin/onnx-emit" -q "$c/tstream/f32.tstream" > "$c/onnx/micro.onnx"
"$bin/tern-dequant" "$c/tstream/bitlinear-layer.tstream" |
    "$bin/onnx-emit" -q > "$c/onnx/block.onnx"
(cd "$tmp/m" && tar cf "$c/archive/micro.tar" config.json model.safetensors \
    tokenizer_config.json)
(cd "$tmp/m" && tar cf - config.json model.safetensors | gzip -n \
    > "$c/archive/micro.tar.gz")
mkdir -p "$c/gguf"	# I2_S needs multiples of 128 values: a wider model
"$py" -c "import sys; sys.path.insert(0, '$root/tests/lib'); import gen_fixture \
as g; g.write_model('$tmp/w', dict(hidden_size=16, num_hidden_layers=1, \
num_attention_heads=2, num_key_value_heads=1, intermediate_size=16, \
vocab_size=8), 3, truth=False)"
"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/w" "$c/gguf/small.gguf"
"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/w" "$c/gguf/small-f16.gguf" \
    --embed f16
# the llama architecture (q and k rows interleaved), I2_S and float32
# projections: gguf-read re-packs them
"$py" -c "import sys; sys.path.insert(0, '$root/tests/lib'); import gen_fixture \
as g; g.write_model('$tmp/l', dict(model_type='llama', hidden_size=16, \
num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, \
intermediate_size=16, vocab_size=8), 3, truth=False)"
"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/l" "$c/gguf/small-llama.gguf" \
    --arch llama
"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/l" \
    "$c/gguf/small-llama-f32.gguf" --arch llama --proj f32
# a byte-level BPE tokenizer in the metadata (gguf-read converts it to
# tokenizer.json): the tokenizer paths
"$py" -c "import sys; sys.path.insert(0, '$root/tests/lib'); import gen_fixture \
as g; g.write_model('$tmp/t', dict(hidden_size=16, num_hidden_layers=1, \
num_attention_heads=2, num_key_value_heads=1, intermediate_size=16, \
vocab_size=300), 3, truth=False)"
"$py" "$root/tests/lib/gguf_fixture.py" "$tmp/t" "$c/gguf/small-tokenizer.gguf"
# a SentencePiece vocabulary (tokenizer.ggml.model llama): the merges made
# from its scores
"$py" -c "import sys; sys.path.insert(0, '$root/tests/lib'); \
import gguf_fixture as f, spm_vocab as s; \
p = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % i for i in range(256)] + \
list('\u2581abcde') + ['\u2581a', 'ab', '\u2581ab', 'cd', 'abcd', '\u2581abcd']; \
t = [2, 3, 3] + [6] * 256 + [1] * (len(p) - 259); \
sc = [0.0] * 259 + [-float(i) for i in range(len(p) - 259)]; \
f.write_gguf('$tmp/t', '$c/gguf/small-spm.gguf', arch='bitnet', \
tokenizer=s.records(p, sc, t, 1, 2, 0))"
ls -l "$c"/*
