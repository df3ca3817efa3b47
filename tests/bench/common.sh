# SPDX-License-Identifier: ISC
# Sourced by the benchmark scripts: where things are, the tools built,
# and the 2B4T-shaped fixture in DIR (made if missing, ~1.2 GB packed;
# not with BENCH_FIXTURE=no, for a script that does not convert it).
#   . common.sh [DIR]          (default: build/bench)

root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$root/build/bench}
bin=$root/bin
py=${PYTHON:-/usr/bin/python3}
model=$dir/bitnet-2b4t

calc() { awk "BEGIN { print $* }"; }

[ -x "$bin/onnx-emit" ] || make -C "$root" all >/dev/null
mkdir -p "$dir"
if [ "${BENCH_FIXTURE:-}" != no ] && [ ! -f "$model/model.safetensors" ]; then
	t0=$(date +%s.%N)
	"$py" "$root/tests/lib/gen_fixture.py" "$model" --preset 2b
	t1=$(date +%s.%N)
	printf 'fixture     %s written in %.1f s\n' "$model" \
	    "$(calc "$t1 - $t0")"
fi

# ONLY='NAME,NAME' keeps those rows of the caller's forms array alone
# (rows are "NAME|..."), in their order there.
keep_only_forms() {
	[ -n "${ONLY:-}" ] || return 0
	local kept=() f
	for f in "${forms[@]}"; do
		case ",$ONLY," in *",${f%%|*},"*) kept+=("$f") ;; esac
	done
	forms=("${kept[@]}")
}

# The CPU's vector extensions that onnxruntime's and bitnet.cpp's kernels
# choose by, for the header of a run.
cpu_simd() {
	grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
	    grep -E '^(avx2|avx512f|avx512_vnni|avx512vnni|avx_vnni|fma)$' |
	    sort -u | tr '\n' ' ' | sed 's/ $//'
}
