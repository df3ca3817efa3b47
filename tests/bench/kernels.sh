#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# One projection of the 2B4T (2560 -> 6912, the ffn's gate) alone, in
# each weight form a runtime could run a ternary matrix as: MatMulNBits
# of 2-, 4- and 8-bit codes in blocks of 32 to 256 at accuracy level 0 and
# 4, and the int8 form's MatMulInteger (kernel_models.py).  Timed by
# kernels.js in onnxruntime-node (THREADS threads, every core by default),
# with the weights streamed from memory as in a decoder's token (copies
# that make 128 MiB) and with one copy that stays in the last-level cache
# (the kernel's arithmetic alone), and in onnxruntime-web's WebAssembly
# as transformers.js ships it, on 1 and 2 threads (streamed).  Every
# form's output is checked against x @ W^T before it is timed.  It shows
# which form each runtime's kernels make fastest, and what a new
# onnxruntime release changes, in minutes rather than a whole benchmark
# run.  Figures only: nothing here passes or fails on time.
#
#   tests/bench/kernels.sh [DIR]      (models in DIR/kernels; default
#                                      build/bench)
set -euo pipefail

BENCH_FIXTURE=no . "$(dirname "$0")/common.sh"
threads=${THREADS:-$(nproc)}
kdir=$dir/kernels
here=$root/tests/bench

for set in stream cache; do
	[ -f "$kdir/$set/forms.json" ] && continue
	mib=128
	[ "$set" = cache ] && mib=0
	"$py" "$here/kernel_models.py" "$kdir/$set" --mib "$mib"
done
version() {
	sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/tests/$1/package.json"
}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(cpu_simd))," \
    "last-level cache $(lscpu | sed -n 's/^L3 cache: *//p')"
echo "# onnxruntime-node $(version ort/node_modules/onnxruntime-node)" \
    "on $threads threads; onnxruntime-web" \
    "$(version tjs/node_modules/onnxruntime-web) (transformers.js's)"
node "$here/kernels.js" "$kdir/stream" node "$threads" >"$kdir/node.jsonl"
node "$here/kernels.js" "$kdir/cache" node "$threads" >"$kdir/node-cache.jsonl"
node "$here/kernels.js" "$kdir/stream" wasm 1 >"$kdir/wasm1.jsonl"
node "$here/kernels.js" "$kdir/stream" wasm 2 >"$kdir/wasm2.jsonl"
"$py" - "$kdir" <<'PY'
import json, os, sys
d = sys.argv[1]
forms = json.load(open(os.path.join(d, "stream", "forms.json")))["forms"]
runs = {}
for key in ("node", "node-cache", "wasm1", "wasm2"):
    with open(os.path.join(d, key + ".jsonl")) as f:
        runs[key] = {r["name"]: r for r in map(json.loads, f)}
print("| form | MB | Node ms (GB/s) | Node in cache ms | wasm ms, 1 thread "
      "| wasm ms, 2 threads |")
print("|---|---|---|---|---|---|")
for f in forms:
    n, r = f["name"], lambda key: runs[key][f["name"]]
    print("| %s | %.2f | %.3f (%.1f) | %.3f | %.2f | %.2f |" % (
        n, f["weight_bytes"] / 1e6, r("node")["ms"], r("node")["gbps"],
        r("node-cache")["ms"], r("wasm1")["ms"], r("wasm2")["ms"]))
PY
