#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark the ONNX forms of the full BitNet-b1.58-2B-4T shapes in
# onnxruntime-node (CPU), all in one run so that the ratios hold on a
# noisy machine.
#
#   tests/bench/run.sh [DIR]        (default: build/bench)
#
# Converts the 2B4T-shaped fixture of convert.sh (made in DIR if missing)
# to f32, int8 and q2 (block 64, accuracy_level 0, accuracy_level 4, and
# with onnxruntime's GroupQueryAttention, onnx-emit --gqa),
# then for each model and setting (q2 also with the session option
# mlas.use_lut_gemm) prints: file bytes, projection bytes, session load
# time, peak RSS, prefill of PREFILL tokens (64) and decode of DECODE
# tokens (32) with the KV cache, in tokens/s; the ratios to f32; a copy
# bandwidth measured in the same run, and the decode rate it bounds
# (copy bytes/s over the weight bytes a token reads).  Figures only:
# nothing here passes or fails on time.
set -euo pipefail

. "$(dirname "$0")/common.sh"
prefill=${PREFILL:-64}
decode=${DECODE:-32}

# name | tern-dequant options | onnx-emit options
forms=(
	"f32||"
	"int8|--to int8|"
	"q2|--to q2|"
	"q2-acc4|--to q2|--accuracy-level 4"
	"q2-gqa|--to q2|--gqa"
)
for f in "${forms[@]}"; do
	IFS='|' read -r name dq em <<<"$f"
	out=$dir/model-$name.onnx
	[ -f "$out" ] && continue
	# shellcheck disable=SC2086
	"$bin/st-read" -q "$model" | "$bin/tern-dequant" -q $dq |
	    "$bin/onnx-emit" -q $em --external-data -o "$out"
done

cfg() { "$py" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
    "$model/config.json" "$1"; }
heads=$(cfg num_attention_heads)
export KV_HEADS HEAD_DIM VOCAB
KV_HEADS=$(cfg num_key_value_heads)
HEAD_DIM=$(( $(cfg hidden_size) / heads ))
VOCAB=$(cfg vocab_size)

# Bytes of the initializers of a model as read per token at run time
# (bf16 and f16 ones count 4: onnxruntime widens them behind their Cast
# when it loads), and of its projections alone.
sizes() {
	"$py" - "$1" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
total = proj = 0
for t in m.graph.initializer:
    n = 1
    for d in t.dims:
        n *= d
    b = n * {1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 4, 16: 4}[t.data_type]
    total += b
    if "_proj." in t.name:
        proj += b
print(total, proj)
PY
}

# Copy bandwidth: one thread per core copying its own 512 MiB buffer four
# times; bytes read plus bytes written per second, all threads together.
bandwidth=$(node -e '
const { Worker } = require("worker_threads");
const os = require("os");
const code = `
const { parentPort } = require("worker_threads");
const n = 512 << 20, a = Buffer.alloc(n, 1), b = Buffer.alloc(n);
a.copy(b);
parentPort.postMessage(0);
parentPort.once("message", () => {
  for (let i = 0; i < 4; i++) a.copy(b);
  parentPort.postMessage(2 * 4 * n);
});`;
const k = os.cpus().length;
const ws = Array.from({ length: k }, () => new Worker(code, { eval: true }));
const ready = ws.map((w) => new Promise((r) => w.once("message", r)));
Promise.all(ready).then(() => {
  const t0 = process.hrtime.bigint();
  const done = ws.map((w) => new Promise((r) => w.once("message", r)));
  ws.forEach((w) => w.postMessage(0));
  return Promise.all(done).then((bytes) => {
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(bytes.reduce((x, y) => x + y) / s);
    ws.forEach((w) => w.terminate());
  });
});')

printf '%-22s %8s %8s %7s %8s %9s %9s %8s %8s\n' form "file MB" "proj MB" \
    "load s" "RSS MiB" "prefill/s" "decode/s" "x f32" "of bound"
base=
for run in f32 int8 q2 q2+lut q2-acc4 q2-acc4+lut q2-gqa+lut; do
	name=${run%+lut}
	extra='{}'
	[ "$run" != "$name" ] && extra='{"mlas.use_lut_gemm":"1"}'
	path=$dir/model-$name.onnx
	read -r total proj < <(sizes "$path")
	file=$(( $(stat -c %s "$path") + $(stat -c %s "${path}_data") ))
	res=$(LOGITS_OUT=$dir/logits-$run.bin node "$root/tests/bench/decode.js" \
	    "$path" "$prefill" "$decode" "$extra" 2>/dev/null)
	echo "$res" >"$dir/result-$run.json"
	"$py" - "$run" "$file" "$total" "$proj" "$bandwidth" "$res" \
	    "${base:-$res}" <<'PY'
import json, sys
run, file, total, proj, bw = sys.argv[1], *map(float, sys.argv[2:6])
r, base = json.loads(sys.argv[6]), json.loads(sys.argv[7])
bound = bw / total
print("%-22s %8.0f %8.0f %7.1f %8.0f %9.2f %9.2f %8.2f %7.0f%%" % (
    run, file / 1e6, proj / 1e6, r["load_s"], r["peak_rss_mib"],
    r["prefill_tok_s"], r["decode_tok_s"],
    r["decode_tok_s"] / base["decode_tok_s"],
    100 * r["decode_tok_s"] / bound))
PY
	[ -n "$base" ] || base=$res
done
"$py" - "$bandwidth" "$dir" <<'PY'
import json, sys
import numpy as np
d = sys.argv[2]
print("copy bandwidth %.1f GB/s (read + written, a thread per core); "
      "'of bound' is decode tokens/s over bandwidth / initializer bytes"
      % (float(sys.argv[1]) / 1e9))
f32 = np.fromfile("%s/logits-f32.bin" % d, np.float32)
toks = json.load(open("%s/result-f32.json" % d))["tokens"]
for r in ("int8", "q2", "q2+lut", "q2-acc4", "q2-acc4+lut", "q2-gqa+lut"):
    got = np.fromfile("%s/logits-%s.bin" % (d, r), np.float32)
    same = sum(a == b for a, b in zip(toks, json.load(open(
        "%s/result-%s.json" % (d, r)))["tokens"]))
    print("%-12s prefill logits max |diff| / max |f32| = %.2e; greedy "
          "tokens equal to f32's: %d of %d" % (
              r, np.abs(got - f32).max() / np.abs(f32).max(), same,
              len(toks)))
PY
