# SPDX-License-Identifier: ISC
# Sourced by the benchmark scripts: where things are, the tools built,
# and the 2B4T-shaped fixture in DIR (made if missing, ~1.2 GB packed).
#   . common.sh [DIR]          (default: build/bench)

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$root/build/bench}
bin=$root/bin
py=${PYTHON:-/usr/bin/python3}
model=$dir/bitnet-2b4t

calc() { awk "BEGIN { print $* }"; }

[ -x "$bin/onnx-emit" ] || make -C "$root" all >/dev/null
mkdir -p "$dir"
if [ ! -f "$model/model.safetensors" ]; then
	t0=$(date +%s.%N)
	"$py" "$root/tests/lib/gen_fixture.py" "$model" --preset 2b
	t1=$(date +%s.%N)
	printf 'fixture     %s written in %.1f s\n' "$model" \
	    "$(calc "$t1 - $t0")"
fi
