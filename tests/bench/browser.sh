#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Browser benchmark at full size: bundles of the 2B4T shapes (the fixture
# of convert.sh) in each form, generating with transformers.js as it
# ships in Debian's headless chromium (the page of tests/web, one browser
# per run so that its peak memory is the run's), on device wasm with
# onnxruntime-web's default threads and with every core, and on device
# webgpu (SwiftShader: a CPU emulation, a few tokens), beside the same
# bundle in Node (transformers.js on onnxruntime-node); then the largest
# shape of each family that loads in WebAssembly, in its wasm form.
# Figures only: nothing here passes or fails on time.
#
#   tests/bench/browser.sh [DIR]        (default: build/bench)
#
# NEW (16) new tokens after a short prompt; GPU_NEW (3) on webgpu;
# SHAPES (the families' presets of tests/lib/gen_fixture.py) for the
# second table, "" to skip it; ONLY='NAME,NAME' the 2B4T forms to run.
set -euo pipefail

. "$(dirname "$0")/common.sh"
new=${NEW:-16}
gpu_new=${GPU_NEW:-3}
shapes=${SHAPES-"1bitllm-700m 1bitllm-1.3b falcon3-1b 1bitllm-3b falcon3-3b"}
prompt="Once upon a time"
cores=$(nproc)

# name | tern-dequant options | onnx-emit options | dtype
forms=(
	"int8-i8|--to int8 --embed int8||int8"
	"q2-q8-acc4|--to q2 --embed q8|--accuracy-level 4|q2"
	"q2-q4w-acc4|--to q2 --embed q4-256|--accuracy-level 4|q2"
	"int8-q8|--to int8 --embed q8||int8"
	"int8-f16|--to int8||int8"
	"q2-f16|--to q2||q2"
)

# ONLY='NAME,NAME' keeps those forms alone.
keep_only_forms

bundle() {	# bundle DIR SOURCE DQ EMIT
	[ -f "$1/config.json" ] && return 0
	# shellcheck disable=SC2086
	"$bin/st-read" -q "$2" | "$bin/tern-dequant" -q $3 |
	    "$bin/onnx-emit" -q $4 --bundle "$1"
}

url_file=$dir/browser-url
served=()
serve() {	# the bundle folders, one server for the whole run
	node "$root/tests/web/serve.mjs" "${served[@]}" >"$url_file" &
	server=$!
	trap 'kill $server 2>/dev/null' EXIT
	for _ in $(seq 100); do [ -s "$url_file" ] && break; sleep 0.1; done
	url=$(cat "$url_file")
}

browse() {	# browse NAME DTYPE DEVICE MAX [THREADS]
	local run="{\"model\":\"$1\",\"dtype\":\"$2\",\"device\":\"$3\",\"prompt\":\"$prompt\",\"max\":$4${5:+,\"threads\":\"$5\"}}"
	BROWSER_TIMEOUT_MS=3600000 node "$root/tests/web/browser.mjs" "$url" \
	    "[$run]" 2>/dev/null || echo '{"error":"the browser failed"}'
}

nodejs() {	# nodejs FOLDER DTYPE
	node "$root/tests/tjs/generate.mjs" "$1" "$prompt" "$new" "$2" \
	    2>/dev/null || echo '{"error":"failed"}'
}

# One table cell from a result line: f is a field, or "rate", "load",
# "heap", "rss" (of the renderer, or of the GPU process on webgpu)
cell() {
	"$py" -c '
import json, sys
f = sys.argv[2]
r = json.loads(sys.argv[1]) if f != "ratio" else {}
if "skip" in r:
    print("-")
elif "error" in r:
    print("no: " + r["error"][:70].replace("|", "/"))
elif f == "rate":
    print("%.2f" % r["decode_tok_s"])
elif f == "load":
    print("%.1f" % r["load_s"])
elif f == "heap":
    print("%.0f" % r["heap_mib"] if r.get("device") == "wasm" else "-")
elif f == "rss":
    p = r.get("peak_rss_mib", {})
    print("%.0f" % max(p.get("renderer", 0), p.get("gpu-process", 0)))
elif f == "ratio":
    w, n = json.loads(sys.argv[3]), json.loads(sys.argv[4])
    print("%.2f" % (w["decode_tok_s"] / n["decode_tok_s"])
          if "error" not in w and "error" not in n and n["decode_tok_s"]
          else "-")
' "$@"
}

mbytes() { du -cb "$1"/onnx/model*.onnx* | tail -1 | awk '{ printf "%.0f", $1 / 1e6 }'; }

for f in "${forms[@]}"; do
	IFS='|' read -r name dq em _ <<<"$f"
	bundle "$dir/b2-$name" "$model" "$dq" "$em"
	served+=("$dir/b2-$name")
done
# The wasm form again, its MatMulInteger nodes giving zeros (no_matmul.py,
# the same data files linked): what a token costs besides that kernel.
nomm=$dir/b2-int8-i8-nomm
case " ${forms[*]%%|*} " in *" int8-i8 "*) ;; *) nomm= ;; esac
if [ -n "$nomm" ] && [ ! -f "$nomm/onnx/model_int8.onnx" ]; then
	mkdir -p "$nomm/onnx"
	# hard links: onnxruntime refuses data a symbolic link puts outside
	# the model's folder
	for f in "$dir"/b2-int8-i8/*.json; do ln -f "$f" "$nomm/"; done
	for f in "$dir"/b2-int8-i8/onnx/model_int8.onnx_data*; do
		ln -f "$f" "$nomm/onnx/"
	done
	"$py" "$root/tests/bench/no_matmul.py" \
	    "$dir/b2-int8-i8/onnx/model_int8.onnx" \
	    "$nomm/onnx/model_int8.onnx" >/dev/null
fi
[ -z "$nomm" ] || served+=("$nomm")
for s in $shapes; do
	[ -f "$dir/$s/config.json" ] ||
	    "$py" "$root/tests/lib/gen_fixture.py" "$dir/$s" --preset "$s" \
		>/dev/null
	bundle "$dir/w-$s" "$dir/$s" "--to int8 --embed int8" ""
	served+=("$dir/w-$s")
done
serve

printf 'transformers.js %s (onnxruntime-web %s), in Node on its onnxruntime-node %s, chromium %s, %s cores (%s); %s new tokens after "%s" (%s on webgpu), one run\n\n' \
    "$(node -p "require('$root/tests/tjs/node_modules/@huggingface/transformers/package.json').version")" \
    "$(node -p "require('$root/tests/tjs/node_modules/onnxruntime-web/package.json').version")" \
    "$(node -p "require('$root/tests/tjs/node_modules/onnxruntime-node/package.json').version")" \
    "$(chromium --version 2>/dev/null | awk '{print $2}')" "$cores" \
    "$(cpu_simd)" "$new" \
    "$prompt" "$gpu_new"
printf '| 2B4T bundle | MB | wasm: load s | tok/s | heap MiB | tab RSS MiB | wasm, %s threads: tok/s | Node: load s | tok/s | wasm / Node | webgpu (SwiftShader): load s | tok/s | GPU process RSS MiB |\n' "$cores"
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for f in "${forms[@]}"; do
	IFS='|' read -r name dq em dtype <<<"$f"
	w=$(browse "b2-$name" "$dtype" wasm "$new")
	if [ "$cores" -gt 1 ]; then
		w2=$(browse "b2-$name" "$dtype" wasm "$new" "$cores")
	else
		w2=$w
	fi
	n=$(nodejs "$dir/b2-$name" "$dtype")
	# webgpu: the form bundles give it (int8's MatMulInteger has no
	# WebGPU kernel; a float16 table needs shader-f16, which SwiftShader
	# lacks)
	g='{"skip":1}'
	case $name in q2-q[48]*) g=$(browse "b2-$name" "$dtype" webgpu "$gpu_new") ;; esac
	printf '| %s (`%s%s`) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
	    "$name" "$dq" "${em:+ $em}" "$(mbytes "$dir/b2-$name")" \
	    "$(cell "$w" load)" "$(cell "$w" rate)" "$(cell "$w" heap)" \
	    "$(cell "$w" rss)" "$(cell "$w2" rate)" "$(cell "$n" load)" \
	    "$(cell "$n" rate)" "$(cell x ratio "$w" "$n")" "$(cell "$g" load)" \
	    "$(cell "$g" rate)" "$(cell "$g" rss)"
done

if [ -n "$nomm" ]; then
	w=$(browse b2-int8-i8 int8 wasm "$new")
	wz=$(browse b2-int8-i8-nomm int8 wasm "$new")
	n=$(nodejs "$dir/b2-int8-i8" int8)
	nz=$(nodejs "$nomm" int8)
	"$py" - "$w" "$wz" "$n" "$nz" <<'PY'
import json, sys
w, wz, n, nz = (json.loads(a) for a in sys.argv[1:])
print("\nWhere a token of the wasm form (int8, int8 table) goes, its "
      "MatMulInteger nodes replaced by zeros of their shape:\n")
print("| runtime | token ms | without MatMulInteger | MatMulInteger's share |")
print("|---|---|---|---|")
for name, a, b in (("chromium wasm", w, wz), ("Node", n, nz)):
    if "error" in a or "error" in b:
        print("| %s | %s | | |" % (name, a.get("error", b.get("error"))))
        continue
    t, tz = 1000 / a["decode_tok_s"], 1000 / b["decode_tok_s"]
    print("| %s | %.0f | %.0f | %.0f%% |" % (name, t, tz, 100 * (t - tz) / t))
PY
fi

[ -n "$shapes" ] || exit 0
printf '\n| shape, int8 with the int8 table | parameters | MB | wasm: load s | tok/s | heap MiB | Node tok/s | wasm / Node |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for s in $shapes; do
	w=$(browse "w-$s" int8 wasm "$new")
	n=$(nodejs "$dir/w-$s" int8)
	params=$("$py" -c "
import json, sys
c = json.load(open(sys.argv[1]))
h, f, l, v = c['hidden_size'], c['intermediate_size'], c['num_hidden_layers'], c['vocab_size']
hd = c.get('head_dim') or h // c['num_attention_heads']
q, kv = c['num_attention_heads'] * hd, c['num_key_value_heads'] * hd
per = h * (2 * q + 2 * kv) + 3 * h * f
tables = v * h * (1 if c.get('tie_word_embeddings', True) else 2)
print('%.2f B' % ((l * per + tables) / 1e9))" "$dir/$s/config.json")
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$params" \
	    "$(mbytes "$dir/w-$s")" "$(cell "$w" load)" "$(cell "$w" rate)" \
	    "$(cell "$w" heap)" "$(cell "$n" rate)" "$(cell x ratio "$w" "$n")"
done
