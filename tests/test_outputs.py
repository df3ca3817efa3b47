#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What onnx-emit writes, and what it must never touch: files that are
not regular, symbolic links, modes under the umask, stale companions,
signals during a write, and the order of fsync and rename.

Prints 'outputs: N passed, N failed' last."""
import os
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
from harness import (Suite, one_line, run, tool,  # noqa: E402
                     untraced_env)

TMP = tempfile.mkdtemp(prefix="bn-outputs-")
SUITE = Suite("outputs", TMP)


def stream(form="f32"):
    p = os.path.join(TMP, form + ".tstream")
    if not os.path.exists(p):
        m = os.path.join(TMP, "model")
        if not os.path.exists(m):
            gf.write_model(m, gf.PRESETS["tiny"], 41, truth=False)
        to = "" if form == "f32" else "--to " + form
        r = subprocess.run("%s %s | %s %s > %s" % (
            tool("st-read"), m, tool("tern-dequant"), to, p), shell=True)
        assert r.returncode == 0
    with open(p, "rb") as f:
        return f.read()


def fresh(name):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    return d


def umask(mask):
    return lambda: os.umask(mask)


def emit(argv, form="f32", mask=None):
    return run([tool("onnx-emit"), "-q"] + argv, stream(form),
               preexec_fn=umask(mask) if mask is not None else None)


def verifies(path):
    rc, _, err = run([tool("onnx-verify"), "-q", path])
    return rc == 0


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@SUITE.test
def character_device_is_written_through():
    rc, _, err = emit(["-o", "/dev/null"])
    assert rc == 0, err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert [f for f in os.listdir("/dev") if f.startswith("null.")] == []
    # external data needs a regular file to sit beside
    rc, _, err = emit(["-e", "-o", "/dev/null"])
    assert rc == 2, (rc, err)
    one_line(err, "/dev/null is not a regular file", "external data")
    assert not os.path.exists("/dev/null_data")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@SUITE.test
def fifo_is_written_through():
    d = fresh("fifo")
    fifo = os.path.join(d, "model.onnx")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(
        open(fifo, "rb").read()))
    reader.start()
    rc, _, err = emit(["-o", fifo])
    reader.join(30)
    assert rc == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    ref = os.path.join(d, "ref.onnx")
    assert emit(["-o", ref])[0] == 0
    with open(ref, "rb") as f:
        assert got == [f.read()]
    assert sorted(os.listdir(d)) == ["model.onnx", "ref.onnx"]


@SUITE.test
def dev_stdout_into_a_pipe_is_written_through():
    """-o /dev/stdout when standard output is a pipe: the link names
    pipe:[N], no path at all, and the model goes into the pipe."""
    d = fresh("devstdout")
    out = os.path.join(d, "piped.onnx")
    p = subprocess.run("%s -q -o /dev/stdout | cat > %s" % (
        tool("onnx-emit"), out), shell=True, input=stream(),
        stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    ref = os.path.join(d, "ref.onnx")
    assert emit(["-o", ref])[0] == 0
    with open(ref, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()
    assert sorted(os.listdir(d)) == ["piped.onnx", "ref.onnx"]


@SUITE.test
def other_special_files_are_refused_and_left_alone():
    d = fresh("special")
    sub = os.path.join(d, "folder")
    os.makedirs(sub)
    sock_path = os.path.join(d, "sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock_path)
    try:
        for path, kind in ((sub, "a directory"), (sock_path, "a socket")):
            for flags in ([], ["-e"]):
                rc, _, err = emit(flags + ["-o", path])
                assert rc == 2, (path, rc, err)
                one_line(err, path, kind, "refusing to replace")
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
        assert os.listdir(sub) == []
        assert sorted(os.listdir(d)) == ["folder", "sock"]
        # a bundle's files are refused the same way, even with --force
        b = fresh("special-bundle")
        os.mkfifo(os.path.join(b, "config.json"))
        rc, _, err = emit(["--bundle", b, "--force"])
        assert rc == 2, (rc, err)
        one_line(err, "config.json", "a FIFO")
        assert stat.S_ISFIFO(os.lstat(os.path.join(b, "config.json"))
                             .st_mode)
        assert not os.path.exists(os.path.join(b, "onnx", "model.onnx"))
    finally:
        s.close()


@SUITE.test
def symbolic_links_are_followed_to_the_file():
    d = fresh("links")
    real = os.path.join(d, "real.onnx")
    with open(real, "w") as f:
        f.write("old")
    os.chmod(real, 0o640)
    link = os.path.join(d, "link.onnx")
    os.symlink("real.onnx", link)
    for flags in ([], ["-e"]):
        rc, _, err = emit(flags + ["-o", link])
        assert rc == 0, err
        assert os.path.islink(link) and os.readlink(link) == "real.onnx"
        assert verifies(real) and mode(real) == 0o640
        # the data file sits beside the file the link names
        assert os.path.exists(real + "_data") == bool(flags)
        assert not os.path.exists(link + "_data")
    dangling = os.path.join(d, "dangling.onnx")
    os.symlink("nowhere/model.onnx", dangling)
    rc, _, err = emit(["-o", dangling])
    assert rc == 2, (rc, err)
    one_line(err, dangling, "symbolic link to nothing")
    assert os.readlink(dangling) == "nowhere/model.onnx"
    assert sorted(os.listdir(d)) == ["dangling.onnx", "link.onnx",
                                     "real.onnx", "real.onnx_data"]


@SUITE.test
def new_files_take_the_umask_and_replaced_ones_keep_their_mode():
    d = fresh("modes")
    for mask, want in ((0o077, 0o600), (0o022, 0o644), (0o027, 0o640)):
        m = os.path.join(d, "m%o.onnx" % mask)
        rc, _, err = emit(["-e", "-o", m], mask=mask)
        assert rc == 0, err
        assert mode(m) == want and mode(m + "_data") == want, (
            mask, oct(mode(m)), oct(mode(m + "_data")))
    m = os.path.join(d, "kept.onnx")
    for path in (m, m + "_data"):
        with open(path, "w") as f:
            f.write("old")
    os.chmod(m, 0o604)
    os.chmod(m + "_data", 0o460)
    rc, _, err = emit(["-e", "-o", m], mask=0o077)
    assert rc == 0, err
    assert mode(m) == 0o604 and mode(m + "_data") == 0o460
    assert verifies(m)


@SUITE.test
def bundles_take_the_umask():
    d = os.path.join(TMP, "bundle-modes")
    rc, _, err = emit(["--bundle", d], form="q2", mask=0o077)
    assert rc == 0, err
    assert mode(d) == 0o700 and mode(os.path.join(d, "onnx")) == 0o700
    for f in ("config.json", "tokenizer_config.json", "onnx/model_q2.onnx"):
        assert mode(os.path.join(d, f)) == 0o600, (f, oct(mode(
            os.path.join(d, f))))
    tarball = os.path.join(TMP, "bundle-modes.tar")
    rc, out, err = emit(["--bundle", "-"], form="q2", mask=0o027)
    assert rc == 0, err
    with open(tarball, "wb") as f:
        f.write(out)
    with tarfile.open(tarball) as t:
        modes = {m.name: m.mode for m in t.getmembers()}
    assert modes["onnx"] == 0o750 and modes["config.json"] == 0o640, modes
    assert modes["onnx/model_q2.onnx"] == 0o640, modes


@SUITE.test
def a_model_removes_the_data_files_the_old_one_used():
    d = fresh("stale")
    m = os.path.join(d, "model.onnx")
    assert emit(["-e", "-o", m])[0] == 0
    assert os.path.exists(m + "_data")
    rc, _, err = emit(["-o", m])
    assert rc == 0, err
    assert os.listdir(d) == ["model.onnx"] and verifies(m)
    # a data file of that name beside a model we did not replace stays
    other = os.path.join(d, "new.onnx")
    with open(other + "_data", "w") as f:
        f.write("someone's")
    assert emit(["-o", other])[0] == 0
    assert os.path.exists(other + "_data")
    # an external model of fewer data files removes the old one's others
    assert emit(["--split-data", "4k", "-o", m])[0] == 0
    many = sorted(os.listdir(d))
    assert "model.onnx_data_3" in many and verifies(m), many
    assert emit(["-e", "-o", m])[0] == 0
    assert sorted(os.listdir(d)) == ["model.onnx", "model.onnx_data",
                                     "new.onnx", "new.onnx_data"]
    assert verifies(m)
    # the same in a bundle rewritten with --force
    b = os.path.join(TMP, "stale-bundle")
    assert emit(["--bundle", b, "--split-data", "4k"], form="q2")[0] == 0
    assert "model_q2.onnx_data_2" in os.listdir(os.path.join(b, "onnx"))
    rc, _, err = emit(["--bundle", b, "--force"], form="q2")
    assert rc == 0, err
    assert sorted(os.listdir(os.path.join(b, "onnx"))) == [
        "model_q2.onnx", "model_q2.onnx_data"]
    with open(os.path.join(b, "config.json")) as f:
        cfg = f.read()
    assert '"model_q2.onnx": 1' in cfg, cfg


def caught_signals_default(mask):
    """The child's umask; and SIGINT, SIGTERM and SIGHUP at their default
    dispositions, as a terminal gives them: a tool leaves alone a signal
    it was started ignoring (under nohup, say, which ignores SIGHUP), and
    the tests may run under one."""
    def preexec():
        os.umask(mask)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
    return preexec


def start_stalled(argv, env=None, mask=0o077):
    """onnx-emit given all of the stream but its last bytes: it has its
    temporaries open and waits for the rest."""
    data = stream("q2" if "--bundle" in argv else "f32")
    p = subprocess.Popen([tool("onnx-emit"), "-q"] + argv,
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env,
                         preexec_fn=caught_signals_default(mask))
    p.stdin.write(data[:-64])
    p.stdin.flush()
    return p


def wait_for(pred, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        found = pred()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("never appeared: " + what)


def temporaries(d):
    out = []
    for root, _, files in os.walk(d):
        out += [os.path.join(root, f) for f in files if ".tmp-" in f]
    return out


@SUITE.test
def signals_remove_every_temporary():
    env_tmp = fresh("signal-tmpdir")
    env = dict(os.environ, TMPDIR=env_tmp)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        for case in ("-o", "-e -o", "--bundle DIR", "--bundle -"):
            d = fresh("signal-%d-%s" % (sig, case.replace(" ", "")
                                        .replace("-", "")))
            target = os.path.join(d, "out")
            argv = {"-o": ["-o", target], "-e -o": ["-e", "-o", target],
                    "--bundle DIR": ["--bundle", target],
                    "--bundle -": ["--bundle", "-"]}[case]
            p = start_stalled(argv, env)
            where = env_tmp if case == "--bundle -" else d
            found = wait_for(lambda: temporaries(where), case)
            for t in found:  # temporaries honour the umask too
                assert mode(t) == 0o600, (case, t, oct(mode(t)))
            p.send_signal(sig)
            try:  # the signal, not the end of input, must end it: close
                rc = p.wait(20)  # stdin only after (closing it at once
            except subprocess.TimeoutExpired:  # raced the signal in CI)
                rc = None
            p.stdin.close()
            rc = p.wait(20) if rc is None else rc
            err = p.stderr.read().decode()
            p.stderr.close()
            assert rc == -sig, (sig, case, rc, err)
            assert os.listdir(d) == [], (sig, case, os.listdir(d))
            assert os.listdir(env_tmp) == [], (sig, case,
                                               os.listdir(env_tmp))


@SUITE.test
def extraction_is_whole_files_or_none():
    """tstream-info -x writes each .npy under a temporary name: a signal
    in the middle of a tensor leaves the files already whole (mode from
    the umask) and no temporary; a stream that ends early leaves none
    either."""
    data = stream()
    for sig in (signal.SIGINT, signal.SIGTERM):
        d = fresh("extract-%d" % sig)
        p = subprocess.Popen([tool("tstream-info"), "-x", d],
                             stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE,
                             preexec_fn=caught_signals_default(0o027))
        p.stdin.write(data[:len(data) // 2])
        p.stdin.flush()
        # blocked at the cut: the tensors before it whole, one temporary
        wait_for(lambda: temporaries(d) and any(
            f.endswith(".npy") for f in os.listdir(d)),
            "whole .npy files and a temporary")
        p.send_signal(sig)
        p.stdin.close()
        assert p.wait(20) == -sig
        p.stderr.close()
        left = os.listdir(d)
        assert left and all(f.endswith(".npy") for f in left), left
        assert all(mode(os.path.join(d, f)) == 0o640 for f in left)
    d = fresh("extract-short")
    rc, _, err = run([tool("tstream-info"), "-x", d], data[:len(data) // 2])
    assert rc == 1 and temporaries(d) == [], err


@SUITE.test
def data_reaches_the_disk_before_its_name():
    """strace: each file is fsync'd before it is renamed to its name, and
    its folder after."""
    d = fresh("fsync")
    m = os.path.join(d, "model.onnx")
    log = os.path.join(TMP, "strace.log")
    argv = ["strace", "-f", "-qq", "-o", log, "-e",
            "trace=fsync,rename,renameat,renameat2,openat"]
    r = subprocess.run(argv + [tool("onnx-emit"), "-q", "-e", "-o", m],
                       input=stream(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=untraced_env())
    assert r.returncode == 0, r.stderr
    fds, events = {}, []
    with open(log) as f:
        for line in f:
            call = line.split(None, 1)[1] if line[0].isdigit() else line
            if call.startswith("openat(") and "= " in call:
                name = call.split('"')[1]
                fds[call.rsplit("= ", 1)[1].split()[0]] = name
            elif call.startswith("fsync("):
                fd = call[6:].split(")")[0]
                events.append(("fsync", os.path.basename(fds.get(fd, fd))))
            elif call.startswith("rename"):
                names = call.split('"')
                events.append(("rename", os.path.basename(names[3])))
    renames = [e for e in events if e[0] == "rename"]
    assert renames == [("rename", "model.onnx_data"),
                       ("rename", "model.onnx")], events
    first = events.index(renames[0])
    synced = [e[1] for e in events[:first] if e[0] == "fsync"]
    assert any(s.startswith("model.onnx_data.tmp-") for s in synced), events
    assert any(s.startswith("model.onnx.tmp-") for s in synced), events
    assert ("fsync", os.path.basename(d)) in events[first:], events


if __name__ == "__main__":
    sys.exit(SUITE.main())
