#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Browser benchmark: a mid-size BitNet fixture (hidden 1024, 8 layers,
# vocabulary 4096; tests/lib/gen_fixture.py --preset mid) as a bundle in each
# form, generating with transformers.js as it ships, in Debian's headless
# chromium on device wasm (tests/web), beside the same in Node
# (onnxruntime-node).  Prints for each form the bundle's model bytes and
# the tokens/s of a greedy generation of NEW tokens (64) after a short
# prompt, load excluded.  Figures only: nothing passes or fails on time.
#
#   tests/bench/web.sh [DIR]        (default: build/bench-web)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$root/build/bench-web}
bin=$root/bin
py=${PYTHON:-/usr/bin/python3}
new=${NEW:-64}
prompt="Once upon a time"
model=$dir/mid

[ -x "$bin/onnx-emit" ] || make -C "$root" all >/dev/null
mkdir -p "$dir"
[ -f "$model/model.safetensors" ] ||
	"$py" "$root/tests/lib/gen_fixture.py" "$model" --preset mid >/dev/null

# bundle | tern-dequant options | dtype
forms=(
	"b-f32||fp32"
	"b-int8|--to int8|int8"
	"b-q2|--to q2|q2"
	"b-q2e32|--to q2 --embed f32|q2"
)
for f in "${forms[@]}"; do
	IFS='|' read -r name dq dtype <<<"$f"
	[ -d "$dir/$name" ] && continue
	# shellcheck disable=SC2086
	"$bin/st-read" -q "$model" | "$bin/tern-dequant" -q $dq |
	    "$bin/onnx-emit" -q --bundle "$dir/$name"
done

folders=()
for f in "${forms[@]}"; do folders+=("$dir/${f%%|*}"); done
url_file=$dir/url
node "$root/tests/web/serve.mjs" "${folders[@]}" >"$url_file" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$url_file" ] && break; sleep 0.1; done
url=$(cat "$url_file")

runs="["
for f in "${forms[@]}"; do
	IFS='|' read -r name _ dtype <<<"$f"
	runs="$runs{\"model\":\"$name\",\"dtype\":\"$dtype\",\"device\":\"wasm\",\"prompt\":\"$prompt\",\"max\":$new},"
done
runs="${runs%,}]"
browser=$(node "$root/tests/web/browser.mjs" "$url" "$runs")

printf 'transformers.js %s, chromium %s, %s new tokens, one run\n\n' \
    "$(node -p "require('$root/tests/tjs/node_modules/@huggingface/transformers/package.json').version")" \
    "$(chromium --version 2>/dev/null | awk '{print $2}')" "$new"
printf '| form | model file | browser wasm | Node (onnxruntime-node) |\n'
printf '|---|---|---|---|\n'
for f in "${forms[@]}"; do
	IFS='|' read -r name dq dtype <<<"$f"
	file=$(ls "$dir/$name/onnx/"*.onnx)
	bytes=$(stat -c %s "$file")
	web=$(printf '%s\n' "$browser" | "$py" -c "
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r['model'] == '$name':
        print(r.get('error', '%.1f tok/s' % r.get('tokens_per_s', 0))[:60])")
	nodejs=$(node "$root/tests/tjs/generate.mjs" "$dir/$name" "$prompt" \
	    "$new" "$dtype" | "$py" -c "
import json, sys
print('%.1f tok/s' % json.load(sys.stdin)['tokens_per_s'])")
	printf '| %s%s | %.1f MB | %s | %s |\n' "$dtype" \
	    "${dq:+ ($dq)}" "$(awk "BEGIN { print $bytes / 1e6 }")" "$web" \
	    "$nodejs"
done
