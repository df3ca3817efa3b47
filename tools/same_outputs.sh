#!/bin/sh
# SPDX-License-Identifier: ISC
# Print the SHA-256 of what the tools write for a fixed set of conversions
# (every family, both sources, every tern-dequant form and table choice,
# onnx-emit's graph options, partial conversions), one line a case, so
# that a refactor can show its outputs byte-identical:
#
#   tools/same_outputs.sh > /tmp/before; (change, make all)
#   tools/same_outputs.sh > /tmp/after; diff /tmp/before /tmp/after
#
# Not part of make check.  WORK (default /tmp/same_outputs) holds the
# fixtures and outputs while it runs (its path travels in the streams).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
py=${PYTHON:-/usr/bin/python3}
work=${WORK:-/tmp/same_outputs}; rm -rf "$work"; mkdir -p "$work"
trap 'rm -rf "$work"' EXIT INT TERM
models=$root/tests/models

hash() { sha256sum | cut -c1-16; }
case_() {  # NAME COMMAND...: the hash of COMMAND's standard output
	name=$1; shift
	printf '%-48s %s\n' "$name" "$("$@" 2>/dev/null | hash)"
}
emit() {  # STREAM OPTIONS...: onnx-emit's model (and its data file)
	s=$1; shift
	rm -f "$work/m.onnx" "$work"/m.onnx_data*
	"$bin/onnx-emit" -q -o "$work/m.onnx" "$@" "$s"
	cat "$work/m.onnx" "$work"/m.onnx_data* 2>/dev/null || cat "$work/m.onnx"
}

sources=""
for p in tiny tiny-llama3 tiny-falcon-e tiny-1bitllm tiny-mha demo; do
	"$py" "$root/tests/lib/gen_fixture.py" --preset "$p" "$work/$p" >/dev/null
	sources="$sources st:$work/$p"
done
"$py" "$root/tests/lib/gen_fixture.py" --preset tiny --master "$work/master" >/dev/null
sources="$sources st:$work/master st:$models/bitnet-kjv st:$models/bitnet-kjv-bf16"
for g in "$models/bitnet-kjv-gguf/ggml-model-i2_s.gguf" \
    "$models"/bitnetcpp-tiny/*.gguf; do
	sources="$sources gguf:$g"
done

n=0
for src in $sources; do
	n=$((n + 1)); kind=${src%%:*}; path=${src#*:}
	label=$n.$(basename "$path")
	s=$work/s$n
	if [ "$kind" = st ]; then rd=st-read; else rd=gguf-read; fi
	"$bin/$rd" -q "$path" > "$s.raw"
	printf '%-48s %s\n' "$label read" "$(hash < "$s.raw")"
	case_ "$label read layer 0" "$bin/$rd" -q --layers 0 "$path"
	for form in "f32" "int8" "int8 --embed f32" "int8 --embed int8" \
	    "int8 --embed q8" "q2" "q2 --block-size 32" "q2 --embed q8" \
	    "q2 --embed keep" "q2 --embed f16"; do
		set -- $form; to=$1; shift
		out=$s.$to$(echo "$*" | tr -d ' -')
		if "$bin/tern-dequant" -q --to "$to" "$@" "$s.raw" > "$out" 2>/dev/null
		then printf '%-48s %s\n' "$label $form" "$(hash < "$out")"
		else printf '%-48s refused\n' "$label $form"; rm -f "$out"; continue
		fi
		case_ "$label $form emit" emit "$out"
	done
	case_ "$label f32 emit last-logits" emit "$s.f32" --last-logits
	case_ "$label f32 emit gqa" emit "$s.f32" --gqa
	case_ "$label f32 emit external" emit "$s.f32" --external-data
	[ -f "$s.q2" ] && case_ "$label q2 emit acc4" emit "$s.q2" --accuracy-level 4
	"$bin/$rd" -q --layers 0 "$path" | "$bin/tern-dequant" -q > "$s.part"
	case_ "$label layer 0 emit" emit "$s.part"
done
