#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Fault injection: every tool, run again and again with its Nth
allocation, read, write, pread, pwrite, rename, ftruncate or fsync failing
(tests/faults/inject.c, loaded with LD_PRELOAD).  Each run must end
either well (and its output be whole) or with one line on stderr and
status 1, 2 or 3, and never leave a model or a whole stream behind.

Prints 'faults: N passed, N failed' last."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture  # noqa: E402
from harness import BIN, Suite, tool  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bn-faults-")
SUITE = Suite("faults", TMP)
INJECT = os.environ.get("INJECT", os.path.join(BIN, "..", "build", "tests",
                                               "inject.so"))
# glibc's stdio reads and writes through calls that LD_PRELOAD cannot
# reach, so read and write faults hit only the direct calls; full disks
# and read errors on streams are tested in test_robust.py.
# FAULT_CALLS narrows the sweep: a gcov build must not fail allocations,
# since gcov's own dump at exit does not survive that.
CALLS = tuple(os.environ.get("FAULT_CALLS", "malloc read write pread pwrite "
                             "rename ftruncate fsync").split())
STATS = {"runs": 0, "failed runs": 0}


def setup():
    m = os.path.join(TMP, "model")
    gf.write_model(m, gf.PRESETS["tiny"], 31, truth=False)
    gguf_fixture.write_gguf(m, os.path.join(TMP, "model.gguf"))
    gf.write_archive(m, os.path.join(TMP, "model.tar.gz"))
    sh = "cd %s && %s model > packed.ts && %s packed.ts > f32.ts && " \
         "%s --to q2 packed.ts > q2.ts && " \
         "%s -q f32.ts > model.onnx" % (TMP, tool("st-read"),
                                        tool("tern-dequant"),
                                        tool("tern-dequant"),
                                        tool("onnx-emit"))
    assert subprocess.run(sh, shell=True).returncode == 0


def run(argv, call, n, stdin=None, out=None, env=None):
    env = dict(os.environ, LD_PRELOAD=INJECT, BN_FAIL="%s:%d" % (call, n),
               **(env or {}))
    with open(stdin or os.devnull, "rb") as fin, \
            open(out or os.devnull, "wb") as fout:
        p = subprocess.run(argv, stdin=fin, stdout=fout,
                           stderr=subprocess.PIPE, env=env, cwd=TMP)
    return p.returncode, p.stderr.decode(errors="replace")


def stream_is_whole(path):
    p = subprocess.run([tool("tstream-info"), path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode == 0


def model_is_valid(path):
    p = subprocess.run([tool("onnx-verify"), "-q", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode == 0


def sweep(name, argv, stdin=None, out=None, check=None, target=None,
          calls=CALLS, env=None, after=None):
    """Fail each call kind at N = 1, 2, ... until 25 runs in a row end
    well (the call is no longer made, or its failure is tolerated)."""
    for call in calls:
        ok_streak, n = 0, 0
        while ok_streak < 25 and n < 3000:
            n += 1 if n < 120 else 5
            if target and os.path.exists(target):
                os.unlink(target)
            rc, err = run(argv, call, n, stdin, out, env)
            STATS["runs"] += 1
            assert after is None or after(), (name, call, n, "after", err)
            assert rc >= 0, (name, call, n, "killed by signal", -rc, err)
            if rc == 0:
                ok_streak += 1
                assert check is None or check(), (name, call, n,
                                                  "bad output", err)
                continue
            ok_streak = 0
            STATS["failed runs"] += 1
            assert rc in (1, 2, 3), (name, call, n, rc, err)
            assert len(err.strip().splitlines()) == 1, (name, call, n, err)
            if out is not None and out.endswith(".ts"):
                assert not stream_is_whole(out), (name, call, n)
            if target is not None:
                assert not os.path.exists(target), (name, call, n)


def out_path(name):
    return os.path.join(TMP, name)


@SUITE.test
def readers_under_faults():
    o = out_path("o.ts")
    sweep("st-read", [tool("st-read"), "model"], out=o,
          check=lambda: stream_is_whole(o))
    # libarchive 3.6.2 itself dereferences an allocation that failed
    # (archive_entry_set_dev in archive_read_next_header), so the archive
    # path is swept for I/O faults only
    sweep("st-read archive", [tool("st-read"), "model.tar.gz"], out=o,
          check=lambda: stream_is_whole(o),
          calls=[c for c in CALLS if c != "malloc"])
    sweep("gguf-read", [tool("gguf-read"), "model.gguf"], out=o,
          check=lambda: stream_is_whole(o))


@SUITE.test
def filters_under_faults():
    o = out_path("o.ts")
    sweep("tern-dequant", [tool("tern-dequant")],
          stdin=out_path("packed.ts"), out=o,
          check=lambda: stream_is_whole(o))
    for form in ("int8", "q2"):
        sweep("tern-dequant --to " + form,
              [tool("tern-dequant"), "--to", form],
              stdin=out_path("packed.ts"), out=o,
              check=lambda: stream_is_whole(o))
    x = out_path("x")
    sweep("tstream-info -x", [tool("tstream-info"), "-x", x],
          stdin=out_path("f32.ts"))


@SUITE.test
def emit_and_verify_under_faults():
    target = out_path("m/model.onnx")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    for flags in ([], ["--external-data"]):
        sweep("onnx-emit " + " ".join(flags),
              [tool("onnx-emit"), "-q", "-o", target] + flags,
              stdin=out_path("f32.ts"),
              check=lambda: model_is_valid(target), target=None)
        leftovers = [f for f in os.listdir(os.path.dirname(target))
                     if ".tmp-" in f]
        assert leftovers == [], leftovers
    sweep("onnx-verify", [tool("onnx-verify"), "-q", "--against",
                          "f32.ts", "model.onnx"])


@SUITE.test
def bundles_under_faults():
    """A failed bundle leaves no model under its name; --bundle - leaves
    nothing in TMPDIR."""
    folder = out_path("bundle")
    model = os.path.join(folder, "onnx", "model_q2.onnx")
    sweep("onnx-emit --bundle", [tool("onnx-emit"), "-q", "--force",
                                 "--bundle", folder],
          stdin=out_path("q2.ts"), check=lambda: model_is_valid(model),
          target=model)
    tmpdir = out_path("tmpdir")
    os.makedirs(tmpdir)
    # libarchive 3.6.2 aborts when its own allocations fail ("Fatal
    # Internal Error in libarchive: Out of memory"), so the tar stream is
    # swept for I/O faults only; the folder above takes the allocations
    sweep("onnx-emit --bundle -", [tool("onnx-emit"), "-q", "--bundle", "-"],
          stdin=out_path("q2.ts"), out=out_path("bundle.tar"),
          env={"TMPDIR": tmpdir}, after=lambda: os.listdir(tmpdir) == [],
          calls=[c for c in CALLS if c != "malloc"])
    SUITE.report.append("faults: %(runs)d runs, %(failed runs)d of them "
                        "failing as they should" % STATS)


if __name__ == "__main__":
    if not os.path.exists(INJECT):
        print("faults: %s missing (make builds it)" % INJECT)
        print("faults: 0 passed, 1 failed")
        sys.exit(1)
    setup()
    sys.exit(SUITE.main())
