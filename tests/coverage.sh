#!/bin/sh
# SPDX-License-Identifier: ISC
# How many of the error sites (diag_fail/diag_errno calls) the tests reach:
# builds with gcov into build/cov, runs the test suites, prints the count
# and writes the unreached sites to build/cov/unreached.txt.
set -eu
cd "$(dirname "$0")/.."
rm -rf build/cov
make -s BUILD=build/cov BIN=build/cov/bin CFLAGS="-O0 -g --coverage" \
    LDFLAGS="--coverage" all build/cov/tests/unit >/dev/null
CK_FORK=no build/cov/tests/unit >/dev/null 2>&1 || true
make -s BUILD=build/cov build/cov/tests/inject.so >/dev/null
# allocation faults are left out here: gcov's dump at exit cannot take
# them (make check runs them on the normal build)
for t in cli onnx bundle docs robust faults; do
	BIN=$PWD/build/cov/bin INJECT=$PWD/build/cov/tests/inject.so \
	    FAULT_CALLS="read write pread pwrite rename ftruncate" \
	    ${PYTHON:-/usr/bin/python3} tests/test_$t.py | tail -1
done
mkdir -p build/cov/gcov
for f in build/cov/obj/common/*/*.gcda; do
	wing=$(basename "$(dirname "$f")")
	gcov -o "build/cov/obj/common/$wing" \
	    "common/$wing/$(basename "$f" .gcda).c" >/dev/null 2>&1 || true
done
for t in st-read tern-dequant tstream-info onnx-emit onnx-verify; do
	gcov -o build/cov/bin "cmd/$t/main.c" >/dev/null 2>&1 || true
	[ -f main.c.gcov ] && mv main.c.gcov "build/cov/gcov/$t-main.c.gcov"
done
mv ./*.gcov build/cov/gcov/ 2>/dev/null || true
${PYTHON:-/usr/bin/python3} - <<'PY'
import glob, re
total = reached = oom = 0
missed = []
for f in sorted(glob.glob("build/cov/gcov/*.c.gcov")):
    if f.endswith("/diag.c.gcov"):
        continue
    for line in open(f):
        m = re.match(r"\s*([^:]+):\s*(\d+):(.*)$", line)
        if not m or not re.search(r"\bdiag_(fail|errno)\s*\(", m.group(3)):
            continue
        if re.match(r"\s*(int|static)", m.group(3)):
            continue
        total += 1
        if m.group(1).strip() in ("#####", "====="):
            oom += "out of memory" in m.group(3)
            missed.append("%s:%s: %s" % (f.split("/")[-1][:-5], m.group(2),
                                         m.group(3).strip()))
        else:
            reached += 1
open("build/cov/unreached.txt", "w").write("\n".join(missed) + "\n")
print("error sites: %d, reached by the tests: %d; unreached: %d (%d of "
      "them out-of-memory paths), listed in build/cov/unreached.txt" % (
          total, reached, total - reached, oom))
PY
