#!/bin/sh
# Install what bitnet-onnx needs to build and test on Debian 12: quick and
# silent when everything is there already; apt-get (as root) otherwise.
set -eu

pkgs="gcc make pkg-config libprotobuf-c-dev protobuf-c-compiler
libjansson-dev libarchive-dev check python3 python3-numpy python3-onnx
libonnx-dev mandoc"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

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
