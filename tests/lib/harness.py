# SPDX-License-Identifier: ISC
"""The little test runner shared by the Python test files: register with
@suite.test, run with suite.main(); prints 'NAME: N passed, N failed'."""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import traceback

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(TESTS, "..", "bin"))


def tool(name):
    return os.path.join(BIN, name)


def run(argv, input_bytes=None, **kw):
    """Run a command; returns (rc, stdout bytes, stderr text)."""
    p = subprocess.run(argv, input=input_bytes, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, **kw)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def sh(cmd, check=False, echo=False, **kw):
    """Run a bash command line with its output captured; check: assert it
    succeeded; echo: print it first.  Returns the CompletedProcess."""
    if echo:
        print("+ " + cmd, flush=True)
    p = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, **kw)
    if check:
        assert p.returncode == 0, (cmd, p.stderr.decode(errors="replace"))
    return p


def write_st(path, header, data=b""):
    """A safetensors file: header (a dict, or raw bytes) and data."""
    raw = json.dumps(header).encode() if isinstance(header, dict) else header
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)


def one_line(err, *needles):
    """err is one line (a tool's one message) holding every needle."""
    assert len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, (n, err)


def refuses(argv, *needles, rc_want=1, data=None):
    """Run argv (data on its standard input): it must exit with rc_want
    and say one line holding every needle."""
    rc, out, err = run(argv, data)
    assert rc == rc_want, (argv, rc, err)
    one_line(err, *needles)


def untraced_env():
    """The environment for a tool run under strace: LeakSanitizer (in the
    sanitizer build) cannot work under ptrace, so it is turned off there;
    AddressSanitizer itself stays."""
    env = dict(os.environ)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "detect_leaks=0"
    return env


def through_fifo(path, tmp):
    """A FIFO of path's name, in a new folder under tmp, that a thread
    feeds with path's bytes: a file arriving through a pipe."""
    d = tempfile.mkdtemp(dir=tmp, prefix="fifo-")
    fifo = os.path.join(d, os.path.basename(path))
    os.mkfifo(fifo)

    def feed():
        try:
            with open(fifo, "wb") as f, open(path, "rb") as src:
                f.write(src.read())
        except BrokenPipeError:
            pass
    threading.Thread(target=feed, daemon=True).start()
    return fifo


class Suite:
    def __init__(self, name, tmp):
        self.name, self.tmp, self.tests, self.report = name, tmp, [], []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def main(self):
        """Run every test, or those named in $TESTS (comma-separated)."""
        only = [t for t in os.environ.get("TESTS", "").split(",") if t]
        passed = failed = 0
        for fn in self.tests:
            if only and fn.__name__ not in only:
                continue
            try:
                fn()
                passed += 1
            except Exception:  # report every failure, then go on
                failed += 1
                print("FAIL %s" % fn.__name__)
                traceback.print_exc()
        shutil.rmtree(self.tmp, ignore_errors=True)
        for line in self.report:
            print(line)
        print("%s: %d passed, %d failed" % (self.name, passed, failed))
        return 1 if failed else 0
