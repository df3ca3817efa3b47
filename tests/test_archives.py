#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Archives in any order, side files of real sizes, hostile archives and
FIFOs where a regular file is needed.

Prints 'archives: N passed, N failed' last."""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
from harness import (Suite, one_line, run, through_fifo, tool,  # noqa: E402
                     untraced_env)

TMP = tempfile.mkdtemp(prefix="bn-archives-")
SUITE = Suite("archives", TMP)
# a tokenizer.json of the real 2B4T's order of size (about 9 MB)
BIG_SIDE = 9 << 20


def model(name="model", shards=1):
    d = os.path.join(TMP, name)
    if not os.path.exists(d):
        gf.write_model(d, gf.PRESETS["tiny"], 71, shards=shards,
                       truth=False)
    return d


def stream(path, *args):
    """st-read's stream of path, whole (its trailer read back)."""
    rc, out, err = run([tool("st-read")] + list(args) + [path])
    assert rc == 0, (path, err)
    rc2, _, err2 = run([tool("tstream-info")], input_bytes=out)
    assert rc2 == 0, err2
    return out


def tensors(path, *args):
    """{name: bytes} of every tensor st-read writes for path."""
    d = tempfile.mkdtemp(dir=TMP)
    rc, _, err = run([tool("tstream-info"), "-x", d],
                     input_bytes=subprocess.run(
                         "%s %s %s | %s" % (tool("st-read"), " ".join(args),
                                            path, tool("tern-dequant")),
                         shell=True, stdout=subprocess.PIPE).stdout)
    assert rc == 0, err
    out = {}
    for f in os.listdir(d):
        with open(os.path.join(d, f), "rb") as fh:
            out[f] = fh.read()
    return out


def side_files(stream_bytes):
    """{name: content} of the side files of a stream, from its bundle."""
    d = os.path.join(tempfile.mkdtemp(dir=TMP), "b")
    p = subprocess.run("%s | %s -q --bundle %s" % (
        tool("tern-dequant"), tool("onnx-emit"), d), shell=True,
        input=stream_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    out = {}
    for f in os.listdir(d):
        if f.endswith(".json") and f != "config.json":
            with open(os.path.join(d, f), "rb") as fh:
                out[f] = fh.read()
    return out


def tar_of(path, entries):
    """A tar of (archive name, file path or bytes) in that order."""
    with tarfile.open(path, "w:gz" if path.endswith(".gz") else "w") as t:
        for name, src in entries:
            if isinstance(src, bytes):
                info = tarfile.TarInfo(name)
                info.size = len(src)
                t.addfile(info, io.BytesIO(src))
            else:
                t.add(src, name)
    return path


def archive_opens(path, *args):
    """How many times st-read opens path to convert it."""
    log = os.path.join(TMP, "strace.log")
    r = subprocess.run(["strace", "-f", "-qq", "-o", log, "-e",
                        "trace=openat,open", tool("st-read")] + list(args) +
                       [path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=untraced_env())
    assert r.returncode == 0, r.stderr
    with open(log) as f:
        return sum(1 for line in f if '"%s"' % path in line)


@SUITE.test
def an_archive_file_is_read_in_any_order():
    m = model()
    want = tensors(m)
    names = sorted(os.listdir(m))
    for order, ext in ((list(reversed(names)), ".tar"),
                       (names, ".tar.gz"), (names, ".zip")):
        a = gf.write_archive(m, os.path.join(TMP, "any%s" % ext),
                             order=order)
        assert tensors(a) == want, (order, ext)
    # config.json last, the way tar --sort=name and zip often put it
    last = tar_of(os.path.join(TMP, "config-last.tar.gz"),
                  [("m/" + n, os.path.join(m, n)) for n in names
                   if n != "config.json"] +
                  [("m/config.json", os.path.join(m, "config.json"))])
    assert tensors(last) == want
    # read once to list, once for the small files, once for the tensors
    assert archive_opens(last) <= 3, archive_opens(last)


@SUITE.test
def a_sharded_model_from_an_archive_file():
    m = model("sharded", shards=3)
    want = tensors(m)
    names = sorted(os.listdir(m))
    shards = [n for n in names if n.endswith(".safetensors")]
    rest = [n for n in names if n not in shards]
    # the shards first, in reverse, then the index and config
    a = tar_of(os.path.join(TMP, "sharded.tar.gz"),
               [("s/" + n, os.path.join(m, n))
                for n in list(reversed(shards)) + rest])
    assert tensors(a) == want
    assert archive_opens(a) <= 3, archive_opens(a)
    # the stream's manifest follows the archive, so it is read once
    j = json.loads(run([tool("st-read"), "--list", "--json", a])[1])
    assert len(j["tensors"]) == len(want)


@SUITE.test
def side_files_of_real_sizes_in_any_position():
    m = model()
    big = json.dumps({"model": {"vocab": {"t%d" % i: i for i in range(
        BIG_SIDE // 16)}}}).encode()
    assert len(big) > 8 << 20
    names = [n for n in sorted(os.listdir(m))]
    entries = [("m/" + n, os.path.join(m, n)) for n in names] + \
        [("m/tokenizer.json", big)]
    a = tar_of(os.path.join(TMP, "bigside.tar"), entries)
    for path in (a, through_fifo(a, TMP)):
        s = stream(path)
        sides = side_files(s)
        assert sides["tokenizer.json"] == big, path
    # from a folder too
    d = os.path.join(TMP, "bigside")
    shutil.copytree(m, d)
    with open(os.path.join(d, "tokenizer.json"), "wb") as f:
        f.write(big)
    assert side_files(stream(d))["tokenizer.json"] == big


@SUITE.test
def side_files_come_from_the_model_folder_only():
    m = model()
    names = sorted(os.listdir(m))
    own = b'{"model_max_length": 7}'
    junk = b'{"model_max_length": 999999}'
    for where in ("before", "after"):
        entries = [("m/" + n, os.path.join(m, n)) for n in names
                   if n != "tokenizer_config.json"]
        pair = [("junk/tokenizer_config.json", junk),
                ("m/tokenizer_config.json", own)]
        entries = pair + entries if where == "before" else entries + pair
        a = tar_of(os.path.join(TMP, "junk-%s.tar" % where), entries)
        for path in (a, through_fifo(a, TMP)):
            assert side_files(stream(path))["tokenizer_config.json"] == \
                own, (where, path)


def run_measured(argv):
    """(status, stderr without time's line, peak RSS in MiB) of argv."""
    p = subprocess.run(["/usr/bin/time", "-f", "rss %M"] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = [ln for ln in p.stderr.decode(errors="replace").splitlines()
             if not ln.startswith("Command exited with non-zero status")]
    rss = int(lines[-1].split()[1]) >> 10
    return p.returncode, "\n".join(lines[:-1]) + "\n", rss


@SUITE.test
def hostile_archives_are_bounded():
    m = model()
    names = sorted(os.listdir(m))
    base = [("m/" + n, os.path.join(m, n)) for n in names]
    side = os.path.join(m, "generation_config.json")
    # thousands of side-file entries after the weights: in other folders
    # they are ignored; in the model's folder the second is refused
    many = tar_of(os.path.join(TMP, "many.tar.gz"), base + [
        ("j%d/tokenizer.json" % i, side) for i in range(5000)])
    assert os.path.getsize(many) < 200 << 10
    twice = tar_of(os.path.join(TMP, "twice.tar.gz"), base + [
        ("m/tokenizer.json", side)] * 5000)
    for path in (many, through_fifo(many, TMP)):
        rc, err, rss = run_measured([tool("st-read"), path])
        assert rc == 0 and rss < 128, (err, rss)
    for path in (twice, through_fifo(twice, TMP)):
        rc, err, rss = run_measured([tool("st-read"), path])
        assert rc == 1 and rss < 128, (err, rss)
        one_line(err, "m/tokenizer.json appears twice")
    # side files that are large together: a bound on their sum
    zeros = b"0" * (40 << 20)
    heavy = tar_of(os.path.join(TMP, "heavy.tar.gz"), base + [
        ("m/tokenizer.json", zeros), ("m/special_tokens_map.json", zeros)])
    assert os.path.getsize(heavy) < 1 << 20
    for path in (heavy, through_fifo(heavy, TMP)):
        rc, _, err = run([tool("st-read"), path])
        assert rc == 1, err
        one_line(err, "side files come to more than the limit of 67108864")


def refuses_quickly(argv, *needles):
    t = time.time()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    assert time.time() - t < 10
    assert p.returncode == 1, (argv, p.returncode, p.stderr)
    one_line(p.stderr.decode(), *needles)


@SUITE.test
def fifos_where_a_regular_file_is_needed():
    m = model()
    d = os.path.join(TMP, "fifos")
    shutil.copytree(m, d)
    cfg = os.path.join(TMP, "config-fifo.json")
    os.mkfifo(cfg)
    refuses_quickly([tool("st-read"), "--config", cfg, d], cfg,
                    "not a regular file")
    os.unlink(os.path.join(d, "generation_config.json"))
    os.mkfifo(os.path.join(d, "generation_config.json"))
    refuses_quickly([tool("st-read"), d], "generation_config.json",
                    "not a regular file")
    onnx = os.path.join(TMP, "model-fifo.onnx")
    os.mkfifo(onnx)
    refuses_quickly([tool("onnx-verify"), onnx], onnx, "not a regular file")
    gguf = os.path.join(TMP, "model-fifo.gguf")
    os.mkfifo(gguf)
    refuses_quickly([tool("gguf-read"), gguf], gguf, "not a regular file")


@SUITE.test
def a_pipe_named_as_the_model_reads_as_standard_input():
    m = model()
    want = tensors(m)
    st = os.path.join(m, "model.safetensors")
    cfg = os.path.join(m, "config.json")
    got = tensors(through_fifo(st, TMP), "--config", cfg)
    assert got == want
    p = subprocess.run("cat %s | %s --config %s /dev/stdin | %s -x %s" % (
        st, tool("st-read"), cfg, tool("tstream-info"),
        os.path.join(TMP, "devstdin")), shell=True, stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    rc, _, err = run([tool("st-read"), through_fifo(st, TMP)])
    assert rc == 2, err
    one_line(err, "from a pipe needs --config")


@SUITE.test
def an_archive_on_standard_input_is_known_by_its_bytes():
    """`st-read -` and an unnamed pipe: a tar, tar.gz, tar.zst or zip is
    recognised by its first bytes and read in one pass (config.json from
    inside it), giving the folder's tensors; a safetensors file still
    needs --config, and bytes that are neither say so."""
    m = model()
    want = tensors(m)
    names = ["config.json", "model.safetensors"]
    plain = tar_of(os.path.join(TMP, "stdin.tar"),
                   [(n, os.path.join(m, n)) for n in names])
    gz = tar_of(os.path.join(TMP, "stdin.tar.gz"),
                [(n, os.path.join(m, n)) for n in names])
    zst = os.path.join(TMP, "stdin.tzst")
    subprocess.run("zstd -q -c %s > %s" % (plain, zst), shell=True,
                   check=True)
    zipped = os.path.join(TMP, "stdin.zip")
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        for n in names:
            z.write(os.path.join(m, n), n)
    for a in (plain, gz, zst, zipped):
        assert tensors("- < " + a) == want, a
        assert tensors(through_fifo(a, TMP)) == want, a
    rc, _, err = run([tool("st-read"), "-"], input_bytes=b"not a model\n")
    assert rc == 2, err
    one_line(err, "standard input", "needs --config")


if __name__ == "__main__":
    sys.exit(SUITE.main())
