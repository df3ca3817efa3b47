#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Benchmark the ONNX forms of the full BitNet-b1.58-2B-4T shapes in
# onnxruntime-node (CPU, the version tests/ort installs), beside
# bitnet.cpp when one is given, all in one run so that the ratios hold on
# a noisy machine.
#
#   tests/bench/run.sh [--llama-bench 'CMD' [--llama-quantize 'QCMD']] [DIR]
#                                                    (default: build/bench)
#
# CMD runs bitnet.cpp's llama-bench, e.g. 'PATH/bin/llama-bench' or
# 'PATH/run llama-bench'; without it (or $LLAMA_BENCH) the peer rows are
# left out.  Its model is an I2_S GGUF of the same weights, written from
# the fixture by tests/lib/gguf_fixture.py (token_embd in f16, as
# bitnet.cpp's llama-quantize stores the 2B4T one).  QCMD (or
# $LLAMA_QUANTIZE) runs bitnet.cpp's llama-quantize, e.g. 'PATH/run
# llama-quantize': with it the peer also runs at its best settings, the
# embedding quantized to Q6_K as its setup's --quant-embd does
# (llama-quantize --token-embedding-type q6_k), and "x bitnet.cpp" is
# against the faster of its two rows in each column; the held-out
# perplexity of the trained model's GGUF with each embedding (bitnet.cpp's
# llama-perplexity beside llama-bench) shows what Q6_K costs.
#
# Converts the 2B4T-shaped fixture of convert.sh (made in DIR if missing)
# in each form below, then for each prints: file bytes, session load time
# (warm, and "cold l" after the model's files are dropped from the page
# cache, so that the load reads them from the disk; the same for
# bitnet.cpp's GGUF), peak RSS, prefill of PREFILL tokens (64) and decode of DECODE tokens (32)
# with the KV cache in tokens/s (after one warm-up run of the same, as
# llama-bench warms up before it times; "cold d" is the decode of that
# first run), the ratios to f32 and to bitnet.cpp, the
# fraction of the bandwidth bound (a copy bandwidth measured in the same
# run over the bytes a token reads), and what the form's settings cost in
# accuracy: the held-out perplexity of the small trained model of the
# tests (tests/models/bitnet-kjv) converted the same way, relative to its
# f32 form, and whether the greedy tokens of the 2B shapes equal f32's.
# Then, for the fastest form and the fastest exact one, where a decode
# step's time goes (tests/bench/profile.js: per operator type, and per
# weight shape).  Figures only: nothing here passes or fails on time.
set -euo pipefail

peer=${LLAMA_BENCH:-}
quantize=${LLAMA_QUANTIZE:-}
if [ "${1:-}" = --llama-bench ]; then
	peer=$2
	shift 2
fi
if [ "${1:-}" = --llama-quantize ]; then
	quantize=$2
	shift 2
fi
. "$(dirname "$0")/common.sh"
prefill=${PREFILL:-64}
decode=${DECODE:-32}
threads=${THREADS:-$(nproc)}
export THREADS=$threads	# decode.js and profile.js: intra-op threads
kjv=$root/tests/models/bitnet-kjv

# name | tern-dequant options | onnx-emit options | session config (JSON)
forms=(
	"f32|||{}"
	"int8 f16-embed|--to int8||{}"
	"int8 f32-embed|--to int8 --embed f32||{}"
	"int8 q8-embed|--to int8 --embed q8||{}"
	"q2 f32-embed|--to q2 --embed f32||{}"
	"q2 q8-embed|--to q2 --embed q8||{}"
	"q2 acc4 f16-embed|--to q2|--accuracy-level 4|{}"
	"q2 acc4 q8-embed|--to q2 --embed q8|--accuracy-level 4|{}"
	"q2 lut q8-embed|--to q2 --embed q8||{\"mlas.use_lut_gemm\":\"1\"}"
	"q2 acc4 gqa q8-embed|--to q2 --embed q8|--accuracy-level 4 --gqa|{}"
	"q2 acc4 q8 last|--to q2 --embed q8|--accuracy-level 4 --last-logits|{}"
	"q2 b128 acc4 q8 last|--to q2 --block-size 128 --embed q8|--accuracy-level 4 --last-logits|{}"
	"q2 b128 acc4 mlas-act|--to q2 --block-size 128 --embed q8|--accuracy-level 4 --no-act-quant --last-logits|{}"
	"q2 b128 acc4 q4 mlas-act|--to q2 --block-size 128 --embed q4|--accuracy-level 4 --no-act-quant --last-logits|{}"
	"q2 b128 acc4 q4-256 whole mlas-act|--to q2 --block-size 128 --embed q4-256|--accuracy-level 4 --no-act-quant --last-logits --table-piece 4G|{}"
	"q2s b128 f32-embed|--to q2s --block-size 128 --embed f32|--last-logits|{}"
	"q2s b128 q4|--to q2s --block-size 128 --embed q4|--last-logits|{}"
)
# ONLY='NAME,NAME' keeps those forms alone (the first is then the base of
# the "x f32" columns).
keep_only_forms
file_of() { echo "$1/model-$(echo "$3 $4" | tr -c 'a-z0-9\n' _).onnx"; }

for f in "${forms[@]}"; do
	IFS='|' read -r name dq em extra <<<"$f"
	out=$(file_of "$dir" "$name" "$dq" "$em")
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

# Bytes of the initializers a token reads at run time (bf16 and f16 ones
# count 4: onnxruntime widens them behind their Cast).
read_bytes() {
	"$py" - "$1" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1], load_external_data=False)
total = 0
for t in m.graph.initializer:
    n = 1
    for d in t.dims:
        n *= d
    total += n * {1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 4, 16: 4}[t.data_type]
print(total)
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

# The held-out perplexity of the trained model in a form's settings
# (--last-logits computes the same last logits, and no others to score).
kjv_ppl() {
	local em=${3/--last-logits/}
	set -- "$1" "$2" "$em" "${4:-}"
	local out=$dir/kjv-$(echo "$2 $3" | tr -c 'a-z0-9\n' _).onnx
	# shellcheck disable=SC2086
	[ -f "$out" ] || "$bin/st-read" -q "$kjv" |
	    "$bin/tern-dequant" -q $2 | "$bin/onnx-emit" -q $3 -o "$out"
	"$py" "$root/tests/lib/heldout.py" "$out" ${4:+"$4"}
}

# Drop the files "$@" from the page cache, so that the next load reads
# them from the disk; fails (and the cold load is not shown) when a page
# of them stays cached.
evict() {
	local f
	for f in "$@"; do
		dd if="$f" iflag=nocache count=0 status=none || return 1
	done
	[ "$(fincore -b -n -o RES "$@" | awk '{ s += $1 } END { print s + 0 }')" \
	    -eq 0 ]
}

# bitnet.cpp loading GGUF $1 and prefilling one token: wall s, peak KiB.
peer_load() {
	# shellcheck disable=SC2086
	/usr/bin/time -o "$dir/time.peer" -f '%e %M' $peer -m "$1" \
	    -t "$threads" -p 1 -n 0 -r 1 -o json >/dev/null 2>&1
	tail -1 "$dir/time.peer"
}

# bitnet.cpp on GGUF $1: llama-bench's prefill and decode rates, and the
# wall time and peak RSS of loading the model and prefilling one token
# (after a load from a cold page cache, whose wall time is cold_load_s),
# as one JSON line.
peer_rates() {
	local rates load cold=null
	# shellcheck disable=SC2086
	rates=$($peer -m "$1" -t "$threads" -p "$prefill" -n "$decode" \
	    -r 2 -o json 2>/dev/null)
	if evict "$1"; then
		cold=$(peer_load "$1" | cut -d' ' -f1)
	fi
	load=$(peer_load "$1")
	"$py" - "$rates" "$load" "$(stat -c %s "$1")" "${cold:-null}" <<'PY'
import json, sys
rates, (wall, rss), size = json.loads(sys.argv[1]), sys.argv[2].split(), \
    int(sys.argv[3])
pp = next(r["avg_ts"] for r in rates if r["n_prompt"] > 0)
tg = next(r["avg_ts"] for r in rates if r["n_gen"] > 0)
print(json.dumps({"file": size, "load_s": float(wall),
                  "cold_load_s": json.loads(sys.argv[4]),
                  "peak_rss_mib": int(rss) / 1024, "prefill_tok_s": pp,
                  "decode_tok_s": tg}))
PY
}

# The GGUF $1 with its token_embd requantized to Q6_K into $2.
q6k_embed() {
	# shellcheck disable=SC2086
	[ -f "$2" ] || $quantize --allow-requantize --token-embedding-type \
	    q6_k "$1" "$2" I2_S "$threads" >/dev/null 2>&1
}

# bitnet.cpp: an I2_S GGUF of the fixture's weights with an F16 embedding,
# and (with llama-quantize) the same with a Q6_K one; peer_json is the
# better of the two in each column.
peer_json= peer_rows=()
if [ -n "$peer" ]; then
	gguf=$dir/bitnet-2b4t-i2_s.gguf
	[ -f "$gguf" ] || "$py" "$root/tests/lib/gguf_fixture.py" "$model" \
	    "$gguf" --embed f16
	peer_rows=("bitnet.cpp I2_S f16|$(peer_rates "$gguf")")
	if [ -n "$quantize" ]; then
		q6k_embed "$gguf" "$dir/bitnet-2b4t-i2_s-q6k.gguf"
		peer_rows+=("bitnet.cpp I2_S q6_k|$(peer_rates \
		    "$dir/bitnet-2b4t-i2_s-q6k.gguf")")
	fi
	peer_json=$("$py" - "${peer_rows[@]}" <<'PY'
import json, sys
rows = [json.loads(r.split("|", 1)[1]) for r in sys.argv[1:]]
print(json.dumps({k: max(r[k] for r in rows) for k in ("prefill_tok_s",
                                                      "decode_tok_s")}))
PY
)
fi

printf '%-21s %6s %6s %6s %6s %8s %8s %6s %6s %6s %6s %6s %5s %9s %6s\n' \
    form "MB" "load s" "cold l" "RSS MiB" "prefill" "decode" "cold d" \
    "xf32 p" \
    "xf32 d" "xbcp p" "xbcp d" bound "kjv ppl" greedy
ppl_f32=$(kjv_ppl f32 "" "" "")
base=
for f in "${forms[@]}"; do
	IFS='|' read -r name dq em extra <<<"$f"
	path=$(file_of "$dir" "$name" "$dq" "$em")
	total=$(read_bytes "$path")
	# the model and all its data files (_data, _data_1, ...)
	file=$(cat "$path" "${path}_data"* | wc -c)
	cold=null
	if evict "$path" "${path}_data"*; then
		cold=$(LOAD_ONLY=1 node "$root/tests/bench/decode.js" "$path" \
		    "$prefill" "$decode" "$extra" 2>/dev/null)
	fi
	res=$(node "$root/tests/bench/decode.js" "$path" "$prefill" "$decode" \
	    "$extra" 2>/dev/null)
	ppl=$(kjv_ppl "$name" "$dq" "$em" "$extra")
	"$py" - "$name" "$file" "$total" "$bandwidth" "$res" "${base:-$res}" \
	    "${peer_json:-null}" "$ppl" "$ppl_f32" "${cold:-null}" <<'PY'
import json, sys
name, file, total, bw = sys.argv[1], *map(float, sys.argv[2:5])
r, base, peer = (json.loads(a) for a in sys.argv[5:8])
ppl, ppl_f32 = float(sys.argv[8]), float(sys.argv[9])
cold = json.loads(sys.argv[10])
def ratio(key, of):
    return "%6.2f" % (r[key] / of[key]) if of else "     -"
print("%-21s %6.0f %6.1f %6s %6.0f %8.2f %8.2f %6.2f %s %s %s %s %4.0f%% "
      "%+9.1e %3d/%d"
      % (name, file / 1e6, r["load_s"],
         "%.1f" % cold["load_s"] if cold else "-", r["peak_rss_mib"],
         r["prefill_tok_s"], r["decode_tok_s"], r["first_decode_tok_s"],
         ratio("prefill_tok_s", base),
         ratio("decode_tok_s", base), ratio("prefill_tok_s", peer),
         ratio("decode_tok_s", peer), 100 * r["decode_tok_s"] / (bw / total),
         (ppl - ppl_f32) / ppl_f32,
         sum(a == b for a, b in zip(r["tokens"], base["tokens"])),
         len(base["tokens"])))
PY
	[ -n "$base" ] || base=$res
done
for row in "${peer_rows[@]}"; do
	"$py" - "${row%%|*}" "${row#*|}" "$peer_json" "${base}" <<'PY'
import json, sys
name = sys.argv[1]
p, best, base = (json.loads(a) for a in sys.argv[2:5])
cold = p["cold_load_s"]
print("%-21s %6.0f %6.1f %6s %6.0f %8.2f %8.2f      - %6.2f %6.2f %6.2f %6.2f"
      "     -         -      -" % (name, p["file"] / 1e6, p["load_s"],
                             "%.1f" % cold if cold is not None else "-",
                             p["peak_rss_mib"], p["prefill_tok_s"],
                             p["decode_tok_s"],
                             p["prefill_tok_s"] / base["prefill_tok_s"],
                             p["decode_tok_s"] / base["decode_tok_s"],
                             p["prefill_tok_s"] / best["prefill_tok_s"],
                             p["decode_tok_s"] / best["decode_tok_s"]))
PY
done
# what the Q6_K embedding costs bitnet.cpp: the trained model's held-out
# perplexity with each embedding, by its own llama-perplexity
if [ -n "$peer" ] && [ -n "$quantize" ]; then
	kg=$root/tests/models/bitnet-kjv-gguf/ggml-model-i2_s.gguf
	q6k_embed "$kg" "$dir/kjv-i2_s-q6k.gguf"
	for g in "$kg" "$dir/kjv-i2_s-q6k.gguf"; do
		# shellcheck disable=SC2086
		${peer%llama-bench}llama-perplexity -m "$g" -t "$threads" -c 128 \
		    -f "$root/tests/models/heldout.txt" 2>&1 |
		    sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p'
	done | "$py" -c 'import sys
f16, q6k = map(float, sys.stdin.read().split())
print("bitnet.cpp on the trained model: held-out PPL %.4f with the f16 "
      "embedding, %.4f with Q6_K (%+.2e relative)" % (f16, q6k,
                                                     (q6k - f16) / f16))'
fi
"$py" - "$bandwidth" "$threads" "$ppl_f32" "$(cpu_simd)" <<'PY'
import sys
print("CPU: %s; copy bandwidth %.1f GB/s (read + written, a thread per "
      "core); %s threads; 'bound': decode tokens/s over bandwidth / bytes a token "
      "reads; 'kjv ppl': held-out perplexity of the trained model in the "
      "same settings relative to its f32 form (%.4f); 'greedy': the 2B "
      "run's tokens equal to f32's; 'xbcp': against bitnet.cpp's faster "
      "row in each column; bitnet.cpp's load is the wall time of "
      "loading and prefilling one token" % (
          sys.argv[4], float(sys.argv[1]) / 1e9, sys.argv[2],
          float(sys.argv[3])))
PY
for f in "${forms[@]}"; do
	IFS='|' read -r name dq em extra <<<"$f"
	case $name in "q2 b128 acc4 q4-256 whole mlas-act" | \
	    "q2s b128 f32-embed") ;;
	*) continue ;;
	esac
	echo "where the time goes: $name"
	node "$root/tests/bench/profile.js" "$(file_of "$dir" "$name" "$dq" \
	    "$em")" 8 "$extra" 2>/dev/null
done
