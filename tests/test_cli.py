#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""End-to-end and bad-input tests of the command-line tools.

Runs the tools in $BIN on fixtures from gen_fixture.py and on files broken
on purpose; checks values against the generator's truth, exit statuses and
the one-line messages.  Prints 'N passed, N failed' last."""
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
import ggml_blocks  # noqa: E402
import gguf_fixture  # noqa: E402
import reference  # noqa: E402
from harness import Suite, run, through_fifo, tool, write_st  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bn-cli-")
SUITE = Suite("cli", TMP)




def pipeline(*cmds, stdin_bytes=None):
    """Run cmds as one pipeline; returns (rcs, stdout, stderrs)."""
    procs, prev = [], None
    errs = [tempfile.TemporaryFile() for _ in cmds]
    for i, cmd in enumerate(cmds):
        stdin = prev.stdout if prev else (subprocess.PIPE if stdin_bytes
                                          is not None else None)
        p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                             stderr=errs[i])
        if prev:
            prev.stdout.close()
        procs.append(p)
        prev = p
    if stdin_bytes is not None:
        procs[0].stdin.write(stdin_bytes)
        procs[0].stdin.close()
    out = procs[-1].stdout.read()
    rcs = [p.wait() for p in procs]
    texts = []
    for e in errs:
        e.seek(0)
        texts.append(e.read().decode(errors="replace"))
    return rcs, out, texts


def fixture(name, preset="tiny", seed=0, linear_class="autobitlinear",
            shards=1):
    out = os.path.join(TMP, name)
    if not os.path.exists(out):
        truth = gf.write_model(out, gf.PRESETS[preset], seed, linear_class,
                               shards)
        np.save(out + ".truth.npy", np.array([truth], dtype=object),
                allow_pickle=True)
    truth = np.load(out + ".truth.npy", allow_pickle=True)[0]
    return out, truth


def extract(stream_bytes, name):
    """tstream-info -x on a stream; returns {tensor: array}, stdout."""
    d = os.path.join(TMP, "x-" + name)
    shutil.rmtree(d, ignore_errors=True)
    rc, out, err = run([tool("tstream-info"), "-x", d],
                       input_bytes=stream_bytes)
    assert rc == 0, err
    arrays = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d)}
    return arrays, out.decode()


def expected_f32(truth, name, divide=False):
    t = truth[name]
    if isinstance(t, tuple):
        w, s = t
        return (w.astype(np.float32) / np.float32(s) if divide
                else w.astype(np.float32) * np.float32(s))
    return t


def convert(model, *args):
    rcs, out, errs = pipeline([tool("st-read"), *args, model],
                              [tool("tern-dequant")])
    assert rcs == [0, 0], errs
    return out


def check_against_truth(model, truth, divide):
    arrays, text = extract(convert(model), os.path.basename(model))
    names = [n for n in truth if not n.endswith("_scale")]
    assert sorted(arrays) == sorted(names), (sorted(arrays), names)
    for n in names:
        want = expected_f32(truth, n, divide)
        got = arrays[n]
        assert got.dtype == np.float32, (n, got.dtype)
        assert got.shape == want.shape, (n, got.shape, want.shape)
        assert np.array_equal(got, want), n
    return text


@SUITE.test
def packed_autobitlinear_multiplies():
    model, truth = fixture("auto")
    text = check_against_truth(model, truth, divide=False)
    assert "trailer ok: 24 tensors" in text, text


@SUITE.test
def packed_bitlinear_divides():
    model, truth = fixture("bitlin", linear_class="bitlinear", seed=3)
    check_against_truth(model, truth, divide=True)


@SUITE.test
def other_shapes_convert():
    for preset in ("tiny-mqa", "tiny-mha"):
        model, truth = fixture(preset, preset=preset, seed=7)
        check_against_truth(model, truth, divide=False)


@SUITE.test
def sharded_equals_single():
    single, truth = fixture("auto")
    sharded, truth2 = fixture("sharded", shards=3)
    assert os.path.exists(os.path.join(sharded,
                                       "model.safetensors.index.json"))
    a, _ = extract(convert(single), "single")
    b, _ = extract(convert(sharded), "sharded")
    assert sorted(a) == sorted(b)
    for n in a:
        assert np.array_equal(a[n], b[n]), n
    # the index file itself is also accepted as MODEL
    c, _ = extract(convert(os.path.join(
        sharded, "model.safetensors.index.json")), "index")
    assert sorted(c) == sorted(a)


@SUITE.test
def model_order_and_side_files():
    model, _ = fixture("auto")
    rc, out, err = run([tool("st-read"), "--list", "--json", model])
    assert rc == 0, err
    j = json.loads(out)
    names = [t["name"] for t in j["tensors"]]
    assert names[0] == "model.embed_tokens.weight"
    assert names[1] == "model.layers.0.input_layernorm.weight"
    assert names[2] == "model.layers.0.self_attn.q_proj.weight"
    assert names[-1] == "model.norm.weight"
    assert names.index("model.layers.1.input_layernorm.weight") > \
        names.index("model.layers.0.mlp.down_proj.weight")
    assert not any(n.endswith("weight_scale") for n in names)
    q = j["tensors"][2]
    assert q["shape"] == [64, 64] and q["dtype"] == "u8"
    assert q["encoding"] == "ternary-hf-packed" and q["bytes"] == 1024
    assert sorted(s["name"] for s in j["side_files"]) == [
        "generation_config.json", "tokenizer_config.json"]
    assert j["config"]["linear_class"] == "autobitlinear"
    stream = convert(model)
    rc, cfg, err = run([tool("tstream-info"), "--config"],
                       input_bytes=stream)
    with open(os.path.join(model, "config.json"), "rb") as f:
        assert cfg == f.read()
    rc, out, err = run([tool("tstream-info"), "--json", "--header"],
                       input_bytes=stream)
    j = json.loads(out)
    assert j["producers"] == ["st-read 0.1.0", "tern-dequant 0.1.0 (to f32)"]
    assert all(t["dtype"] == "f32" for t in j["tensors"])


@SUITE.test
def human_listing():
    model, _ = fixture("auto")
    rc, out, err = run([tool("st-read"), "--list", model])
    assert rc == 0, err
    text = out.decode()
    assert "model.layers.1.mlp.down_proj.weight" in text
    assert "ternary-hf-packed" in text and "24 tensors" in text
    assert "hidden 64, layers 2, heads 4/2" in text


@SUITE.test
def layer_and_glob_selection():
    model, truth = fixture("auto")
    rc, out, err = run([tool("st-read"), "--list", "--json", "--layers",
                        "1", model])
    names = [t["name"] for t in json.loads(out)["tensors"]]
    assert len(names) == 11 and all(".layers.1." in n for n in names)
    rc, out, err = run([tool("st-read"), "--list", "--json", "-t",
                        "*.q_proj.*", "-t", "model.embed_tokens.*", model])
    names = [t["name"] for t in json.loads(out)["tensors"]]
    assert names == ["model.embed_tokens.weight",
                     "model.layers.0.self_attn.q_proj.weight",
                     "model.layers.1.self_attn.q_proj.weight"], names
    rc, out, err = run([tool("st-read"), "--list", "--json", "-l", "0-1",
                        "-t", "*norm*", model])
    names = [t["name"] for t in json.loads(out)["tensors"]]
    assert len(names) == 8 and "model.norm.weight" not in names
    arrays, _ = extract(convert(model, "--layers", "1"), "layer1")
    for n, a in arrays.items():
        assert np.array_equal(a, expected_f32(truth, n)), n


@SUITE.test
def single_file_and_config_option():
    model, truth = fixture("auto")
    lone = os.path.join(TMP, "lone")
    os.makedirs(lone, exist_ok=True)
    st = os.path.join(lone, "weights.safetensors")
    shutil.copy(os.path.join(model, "model.safetensors"), st)
    rc, out, err = run([tool("st-read"), st])
    assert rc == 1 and "no config.json" in err and st in err, err
    assert out == b""
    stream = convert(st, "--config", os.path.join(model, "config.json"))
    arrays, _ = extract(stream, "lone")
    assert len(arrays) == 24


@SUITE.test
def refuses_a_terminal():
    model, _ = fixture("auto")
    for argv in ([tool("st-read"), model], [tool("tern-dequant")]):
        master, slave = pty.openpty()
        p = subprocess.run(argv, stdout=slave, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
        os.close(slave)
        os.close(master)
        assert p.returncode == 2, p.returncode
        assert b"terminal" in p.stderr, p.stderr


@SUITE.test
def usage_errors():
    model, _ = fixture("auto")
    for argv, needle in (
            ([tool("st-read"), "--json", model], "--json goes with --list"),
            ([tool("st-read")], "usage"),
            ([tool("st-read"), "--layers", "1-x", model], "--layers"),
            ([tool("st-read"), "--list", "--layers", "2", model],
             "layer 2 does not exist"),
            ([tool("st-read"), "--list", "-t", "nothing*", model],
             "matches no tensor"),
            ([tool("tern-dequant"), "--bogus"], "usage")):
        rc, out, err = run(argv)
        assert rc == 2, (argv, rc, err)
        assert needle in err, (needle, err)
    for t in ("st-read", "tern-dequant", "tstream-info"):
        rc, out, err = run([tool(t), "--help"])
        assert rc == 0 and b"usage: " + t.encode() in out
        rc, out, err = run([tool(t), "--version"])
        assert rc == 0 and b"0.1.0" in out


@SUITE.test
def a_short_flag_means_one_thing_in_every_tool():
    """Each tool's --help pairs its short flags with long ones: a letter
    names the same long option everywhere, and the short forms dropped
    for that (tern-dequant's -t -b -e, tstream-info's -c) are refused."""
    meaning = {}
    for t in ("st-read", "gguf-read", "tern-dequant", "onnx-emit",
              "onnx-verify", "tstream-info"):
        rc, out, _ = run([tool(t), "--help"])
        assert rc == 0, t
        pairs = re.findall(rb"^  -(\w), --([\w-]+)", out, re.M)
        assert len(pairs) >= 3, (t, out)
        for short, long_ in pairs:
            meaning.setdefault(short, set()).add(long_)
    clashes = {k: v for k, v in meaning.items() if len(v) > 1}
    assert not clashes, clashes
    model, _ = fixture("auto")
    stream = os.path.join(TMP, "flags.tstream")
    with open(stream, "wb") as f:
        assert subprocess.run([tool("st-read"), "-q", model],
                              stdout=f).returncode == 0
    for argv in (["tern-dequant", "-t", "q2", stream],
                 ["tern-dequant", "--to", "q2", "-b", "32", stream],
                 ["tern-dequant", "--to", "q2", "-e", "q8", stream],
                 ["tstream-info", "-c", stream]):
        rc, out, err = run([tool(argv[0])] + argv[1:])
        assert rc == 2 and "usage" in err and not out, (argv, rc, err)
    rc, _, err = run([tool("gguf-read"), "--config", "x.json", "m.gguf"])
    assert rc == 2 and "--config is st-read's" in err, err


@SUITE.test
def progress_only_when_asked_or_on_a_terminal():
    model, _ = fixture("auto")
    rcs, out, errs = pipeline([tool("st-read"), "--progress", model],
                              [tool("tern-dequant"), "--progress"],
                              [tool("onnx-emit"), "--progress"])
    assert rcs == [0, 0, 0], errs
    for name, err in zip(("st-read", "tern-dequant", "onnx-emit"), errs):
        last = err.split("\r")[-1]
        assert last.startswith(name + ": ") and "24/24 tensors" in last, err
        assert err.endswith("\n"), err
    rcs, out, errs = pipeline([tool("st-read"), model],
                              [tool("tern-dequant")], [tool("onnx-emit")])
    assert rcs == [0, 0, 0] and errs[:2] == ["", ""], errs
    assert errs[2] == "onnx-emit: wrote the whole model, 2 layers: input_ids -> " \
        "logits\n", errs
    rcs, out, errs = pipeline([tool("st-read"), model],
                              [tool("tern-dequant")], [tool("onnx-emit"),
                                                       "-q"])
    assert rcs == [0, 0, 0] and errs == ["", "", ""], errs
    stream = convert(model)
    for flags, shown in (([], True), (["-q"], False)):
        master, slave = pty.openpty()
        p = subprocess.run([tool("tern-dequant")] + flags, input=stream,
                           stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        err = b""
        try:
            while True:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                err += chunk
        except OSError:
            pass
        os.close(master)
        assert p.returncode == 0
        assert (b"tern-dequant: " in err) == shown, (flags, err)


@SUITE.test
def archives_and_stdin_give_the_same_stream():
    model, truth = fixture("auto")
    want, _ = extract(convert(model), "folder")
    d = os.path.join(TMP, "arch")
    os.makedirs(d, exist_ok=True)
    for ext in (".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".zip"):
        a = gf.write_archive(model, os.path.join(d, "model" + ext))
        for how, path in (("file", a),
                          ("pipe", through_fifo(a, TMP))):
            got, text = extract(convert(path), "arch" + ext + how)
            assert sorted(got) == sorted(want), (ext, how)
            for n in want:
                assert np.array_equal(got[n], want[n]), (ext, how, n)
        rc, out, err = run([tool("st-read"), "--list", "--json", a])
        j = json.loads(out)
        assert rc == 0 and len(j["tensors"]) == 24, err
        # an archive file is read again as needed: scales are known
        assert all("scale" in t for t in j["tensors"]
                   if t["encoding"] == "ternary-hf-packed"), j["tensors"]
        rc, out, err = run([tool("st-read"), "--list", "--json",
                            through_fifo(a, TMP)])
        # through a pipe, in one pass: the scale is known only later
        assert "scale" not in json.loads(out)["tensors"][2], out
    # side files after the weights: in the header from an archive file,
    # in the trailer from a pipe
    rc, out, err = run([tool("tstream-info")], input_bytes=convert(a))
    assert "generation_config.json (66 bytes)" in out.decode(), out
    rc, out, err = run([tool("tstream-info")],
                       input_bytes=convert(through_fifo(a, TMP)))
    assert "generation_config.json (66 bytes, in the trailer)" in \
        out.decode(), out
    # standard input, with --config (side files beside it)
    with open(os.path.join(model, "model.safetensors"), "rb") as f:
        blob = f.read()
    rcs, out, errs = pipeline([tool("st-read"), "-c",
                               os.path.join(model, "config.json"), "-"],
                              [tool("tern-dequant")], stdin_bytes=blob)
    assert rcs == [0, 0], errs
    got, text = extract(out, "stdin")
    for n in want:
        assert np.array_equal(got[n], want[n]), n


@SUITE.test
def bad_archives_and_stdin():
    model, _ = fixture("auto")
    sharded, _ = fixture("sharded", shards=3)
    d = os.path.join(TMP, "badarch")
    os.makedirs(d, exist_ok=True)
    late = gf.write_archive(model, os.path.join(d, "late.tar"),
                            order=("model.safetensors",))
    shard_gz = gf.write_archive(sharded, os.path.join(d, "sharded.tar.gz"),
                                order=("config.json",
                                       "model.safetensors.index.json"))
    shard_zip = gf.write_archive(sharded, os.path.join(d, "shards.zip"),
                                 order=("config.json",))
    # through a pipe, an archive is read once, with today's rules
    cases = [
        (through_fifo(late, TMP), [], 1,
         ("late.tar", "no config.json before the weights", "--config",
          "through a pipe", "as a file")),
        (through_fifo(shard_gz, TMP), [], 1,
         ("sharded model cannot be read from an archive in one pass",)),
        (through_fifo(shard_zip, TMP), [], 1,
         ("second weights file",)),
    ]
    trunc = os.path.join(d, "cut.tar.gz")
    whole = gf.write_archive(model, os.path.join(d, "whole.tar.gz"))
    with open(whole, "rb") as f:
        blob = f.read()
    with open(trunc, "wb") as f:
        f.write(blob[:len(blob) // 2])
    cases.append((trunc, [], 1, ("cut.tar.gz",)))
    junk = os.path.join(d, "junk.zip")
    with open(junk, "wb") as f:
        f.write(b"PK\x03\x04" + b"\x00" * 100)
    cases.append((junk, [], 1, ("junk.zip",)))
    empty = os.path.join(d, "empty.tar")
    with tarfile.open(empty, "w"):
        pass
    cases.append((empty, [], 1, ("no .safetensors file",)))
    for path, flags, rc_want, needles in cases:
        rc, out, err = run([tool("st-read")] + flags + [path])
        assert rc == rc_want, (path, rc, err)
        assert len(err.strip().splitlines()) == 1, err
        for n in needles:
            assert n in err, (n, err)
    cfg = os.path.join(model, "config.json")
    with open(os.path.join(model, "model.safetensors"), "rb") as f:
        blob = f.read()
    for data, needle in ((blob[:5000], "file ends in"),
                         (b"", "file ends in the header length"),
                         (b"\xff" * 8, "header length")):
        p = subprocess.run([tool("st-read"), "-c", cfg, "-"], input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.returncode == 1, (needle, p.returncode)
        assert needle in p.stderr.decode() and b"<stdin>" in p.stderr
        rc, _, err = run([tool("tstream-info")], input_bytes=p.stdout)
        assert rc == 1, "a partial stream was taken for a whole one"


@SUITE.test
def gguf_gives_the_same_stream():
    model, truth = fixture("auto")
    want, _ = extract(convert(model), "folder-g")
    for embed in ("f32", "f16"):
        g = os.path.join(TMP, "model-%s.gguf" % embed)
        gguf_fixture.write_gguf(model, g, embed)
        rcs, out, errs = pipeline([tool("gguf-read"), g],
                                  [tool("tern-dequant")])
        assert rcs == [0, 0], errs
        got, text = extract(out, "gguf-" + embed)
        assert sorted(got) == sorted(want)
        for n in want:
            if embed == "f16" and n == "model.embed_tokens.weight":
                assert np.allclose(got[n], want[n], rtol=1e-3, atol=1e-6)
            else:
                assert np.array_equal(got[n], want[n]), (embed, n)
    # the other ggml types of an embedding: dequantized as ggml does, or
    # (bf16) passed on, and under bitnet.cpp's bitnet-25 as well; the
    # k-quants (blocks of 256 a row, as ggml requires) on a model of rows
    # of 256
    emb = "model.embed_tokens.weight"
    wide, _ = fixture("wide", "demo")
    want_wide, _ = extract(convert(wide), "folder-wide")
    narrow = want
    for embed in sorted(ggml_blocks.TYPES):
        block = ggml_blocks.TYPES[embed][1]
        model, want = (wide, want_wide) if block > 64 else (
            fixture("auto")[0], narrow)
        g = os.path.join(TMP, "model-%s.gguf" % embed)
        gguf_fixture.write_gguf(model, g, embed,
                                arch="bitnet-25" if embed == "q8_0" else
                                gguf_fixture.ARCH)
        rcs, out, errs = pipeline([tool("gguf-read"), g],
                                  [tool("tern-dequant")])
        assert rcs == [0, 0], (embed, errs)
        got, _ = extract(out, "gguf-" + embed)
        raw = gguf_fixture.tensors_of(model, embed)[1]
        data = next(t[3] for t in raw if t[0] == "token_embd.weight")
        table = ggml_blocks.dequantize(embed, data, want[emb].size)
        assert np.array_equal(got[emb].reshape(-1), table), embed
        assert got[emb].shape == want[emb].shape
        for n in want:
            if n != emb:
                assert np.array_equal(got[n], want[n]), (embed, n)
    # rows that are not whole blocks are refused, as ggml refuses them
    g = os.path.join(TMP, "model-narrow-q4_k.gguf")
    gguf_fixture.write_gguf(fixture("auto")[0], g, "q4_k")
    rc, out, err = run([tool("gguf-read"), g])
    assert rc == 1 and "rows of 64 values are not whole Q4_K blocks of " \
        "256" in err, err
    g = os.path.join(TMP, "model-f16.gguf")
    rc, out, err = run([tool("gguf-read"), "--list", "--json", g])
    j = json.loads(out)
    assert rc == 0 and j["config"]["num_key_value_heads"] == 2
    assert j["side_files"][0]["name"] == "tokenizer.gguf.json"
    enc = {t["name"]: t["encoding"] for t in j["tensors"]}
    assert enc["model.layers.0.mlp.down_proj.weight"] == "ternary-i2s"
    rc, out, err = run([tool("gguf-read"), "--list", "-l", "1", g])
    assert rc == 0 and b"model.layers.0." not in out


def gguf_bytes(model):
    g = os.path.join(TMP, "base.gguf")
    if not os.path.exists(g):
        gguf_fixture.write_gguf(model, g)
    with open(g, "rb") as f:
        return f.read()


@SUITE.test
def bad_gguf():
    model, _ = fixture("auto")
    blob = gguf_bytes(model)
    arch = blob.index(b"bitnet-b1.58")
    q = b"blk.0.attn_q.weight"
    typ = blob.index(q) + len(q) + 4 + 16  # after n_dims and two dims
    assert blob[typ:typ + 4] == struct.pack("<I", 36)
    cases = [
        (b"GGUX" + blob[4:], "no GGUF magic"),
        (blob[:4] + struct.pack("<I", 2) + blob[8:], "GGUF version 2"),
        (blob[:arch] + b"llama-b1.58!" + blob[arch + 12:],
         "general.architecture is 'llama-b1.58!'"),
        (blob[:len(blob) // 2], "past the end of the file"),
        (blob[:200], "inside its header"),
        (blob[:typ] + struct.pack("<I", 3) + blob[typ + 4:],
         "ggml type 3 (unsupported) with 4096 values is not one gguf-read "
         "reads (F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q6_K, I2_S, in whole "
         "blocks)"),
        (blob.replace(b"blk.0.attn_q.weight", b"blk.0.attn_z.weight"),
         "'blk.0.attn_z.weight' is not one of a bitnet-b1.58 model"),
    ]
    for data, needle in cases:
        p = os.path.join(TMP, "bad.gguf")
        with open(p, "wb") as f:
            f.write(data)
        rc, out, err = run([tool("gguf-read"), p])
        assert rc == 1, (needle, rc, err)
        assert out == b""
        assert len(err.strip().splitlines()) == 1, err
        assert needle in err and p in err, (needle, err)
    # a code 3 in an I2_S tensor is caught by tern-dequant
    cfg, tensors = gguf_fixture.tensors_of(model, "f32")
    first = next(t for t in tensors if t[1] == 36)
    at = blob.index(first[3][:64])
    bad = bytearray(blob)
    bad[at + 5] = 0xC0
    p = os.path.join(TMP, "code3.gguf")
    with open(p, "wb") as f:
        f.write(bytes(bad))
    rcs, out, errs = pipeline([tool("gguf-read"), p], [tool("tern-dequant")])
    assert rcs[1] == 1, (rcs, errs)
    assert "I2_S value" in errs[1] and "code 3" in errs[1], errs[1]


# --- bad input ---------------------------------------------------------

def broken_model(name, mutate):
    """A copy of the tiny model with model.safetensors rewritten by
    mutate(header dict, data bytes) -> (header, data) or raw bytes."""
    src, _ = fixture("auto")
    dst = os.path.join(TMP, "bad-" + name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    path = os.path.join(dst, "model.safetensors")
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header, data = json.loads(blob[8:8 + n]), blob[8 + n:]
    res = mutate(header, data)
    if res is None:
        return dst, path
    if isinstance(res, bytes):
        with open(path, "wb") as f:
            f.write(res)
    else:
        write_st(path, *res)
    return dst, path


def expect_st_read_fails(model, *needles, rc_want=1):
    rc, out, err = run([tool("st-read"), model])
    assert rc == rc_want, (rc, err)
    assert out == b"", "st-read wrote output before failing"
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in err, (n, err)


Q = "model.layers.0.self_attn.q_proj.weight"


@SUITE.test
def bad_file_shorter_than_header_says():
    model, path = broken_model("short", lambda h, d: None)
    with open(path, "rb") as f:
        blob = f.read()
    with open(path, "wb") as f:
        f.write(blob[:-100])
    expect_st_read_fails(model, path, "model.norm.weight", "out of range")


@SUITE.test
def bad_header_length_past_end():
    model, path = broken_model(
        "hlen", lambda h, d: struct.pack("<Q", 10 ** 6) + b"{}")
    expect_st_read_fails(model, path, "header length 1000000",
                         "past the end")


@SUITE.test
def bad_header_length_huge():
    model, path = broken_model(
        "hhuge", lambda h, d: struct.pack("<Q", 2 ** 60) + b"{}")
    expect_st_read_fails(model, path, "limit")


def mutate_entry(name, **changes):
    def m(h, d):
        h[name].update(changes)
        return h, d
    return m


@SUITE.test
def bad_data_offsets():
    model, path = broken_model("offs", lambda h, d: (
        h.__setitem__(Q, dict(h[Q], data_offsets=[h[Q]["data_offsets"][0],
                                                   len(d) + 64])) or (h, d)))
    expect_st_read_fails(model, path, Q, "out of range")


@SUITE.test
def bad_overlapping_tensors():
    def m(h, d):
        k = "model.layers.0.self_attn.k_proj.weight"
        b = h[Q]["data_offsets"][0]
        size = h[k]["data_offsets"][1] - h[k]["data_offsets"][0]
        h[k]["data_offsets"] = [b, b + size]
        return h, d
    model, path = broken_model("overlap", m)
    expect_st_read_fails(model, path, "overlap", Q)


@SUITE.test
def bad_offsets_not_matching_shape():
    model, path = broken_model("mismatch",
                               mutate_entry(Q, shape=[16, 65]))
    expect_st_read_fails(model, path, Q, "needs 1040")


@SUITE.test
def bad_unknown_dtype():
    model, path = broken_model("dtype", mutate_entry(Q, dtype="I3"))
    expect_st_read_fails(model, path, Q, "dtype 'I3'")


@SUITE.test
def bad_header_json():
    model, path = broken_model(
        "json", lambda h, d: struct.pack("<Q", 9) + b'{"a": [1,' + d)
    expect_st_read_fails(model, path, "invalid JSON")


@SUITE.test
def bad_config_json():
    model, _ = broken_model("cfgjson", lambda h, d: (h, d))
    cfg = os.path.join(model, "config.json")
    with open(cfg, "w") as f:
        f.write('{"model_type": "bitnet", "hidden_size": ')
    expect_st_read_fails(model, cfg, "invalid JSON")


@SUITE.test
def bad_config_missing_keys():
    for key in ("hidden_size", "num_hidden_layers", "vocab_size",
                "model_type", "intermediate_size"):
        model, _ = broken_model("cfgkey-" + key, lambda h, d: (h, d))
        cfg = os.path.join(model, "config.json")
        with open(cfg) as f:
            c = json.load(f)
        del c[key]
        with open(cfg, "w") as f:
            json.dump(c, f)
        expect_st_read_fails(model, cfg, "'%s' is missing" % key)


@SUITE.test
def bad_packed_without_scale():
    def m(h, d):
        del h[Q + "_scale"]
        return h, d
    model, path = broken_model("noscale", m)
    expect_st_read_fails(model, path, Q, "no '%s_scale'" % Q)


@SUITE.test
def bad_scale_without_weight():
    def m(h, d):
        h["model.layers.0.extra.weight_scale"] = {
            "dtype": "BF16", "shape": [1],
            "data_offsets": [len(d), len(d) + 2]}
        return h, d + b"\x80\x3f"
    model, path = broken_model("orphan", m)
    expect_st_read_fails(model, path, "extra.weight_scale",
                         "no weight")


@SUITE.test
def bad_index():
    src, _ = fixture("sharded", shards=3)
    dst = os.path.join(TMP, "bad-index")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    idx = os.path.join(dst, "model.safetensors.index.json")
    with open(idx) as f:
        orig = json.load(f)
    for change, needle in (
            (lambda j: j["weight_map"].__setitem__(Q, "../etc.safetensors"),
             "not a file name"),
            (lambda j: j["weight_map"].__setitem__("ghost.weight",
                                                   j["weight_map"][Q]),
             "'ghost.weight' is not in"),
            (lambda j: j["weight_map"].pop(Q), "weight_map lists"),
            (lambda j: j.pop("weight_map"), "no 'weight_map'")):
        j = json.loads(json.dumps(orig))
        change(j)
        with open(idx, "w") as f:
            json.dump(j, f)
        expect_st_read_fails(dst, idx, needle)


def stream_of(model):
    rc, out, err = run([tool("st-read"), model])
    assert rc == 0, err
    return out


@SUITE.test
def bad_code_three():
    def m(h, d):
        b = h[Q]["data_offsets"][0] + 70
        return h, d[:b] + bytes([0x3c]) + d[b + 1:]   # bits 3:2 = 3
    model, path = broken_model("code3", m)
    rcs, out, errs = pipeline([tool("st-read"), model],
                              [tool("tern-dequant")])
    # st-read may still be writing when tern-dequant stops: SIGPIPE, quiet
    assert rcs[0] in (0, -signal.SIGPIPE) and rcs[1] == 1, (rcs, errs)
    assert errs[0] == ""
    err = errs[1]
    assert len(err.strip().splitlines()) == 1, err
    for n in (Q, "0x3c", "[1, 6]", "code 3", "bits 3:2", path):
        assert n in err, (n, err)
    # what did reach stdout is no whole stream
    rc, _, err = run([tool("tstream-info")], input_bytes=out)
    assert rc == 1 and "truncated" in err, err


@SUITE.test
def bad_stream_cut_mid_tensor():
    model, _ = fixture("auto")
    full = stream_of(model)
    for cut in (len(full) // 2, len(full) - 30, 40, 7):
        part = full[:cut]
        for t in ("tern-dequant", "tstream-info"):
            rc, out, err = run([tool(t)], input_bytes=part)
            assert rc == 1, (t, cut, rc, err)
            assert "truncated" in err or "empty" in err, (t, cut, err)
            assert "<stdin>" in err, err
            assert len(err.strip().splitlines()) == 1, err
    rc, out, err = run([tool("tstream-info")],
                       input_bytes=full[:len(full) // 2])
    assert "stream truncated in tensor" in err, err


@SUITE.test
def bad_stream_magic():
    model, _ = fixture("auto")
    full = bytearray(stream_of(model))
    full[1:4] = b"PNG"
    for t in ("tern-dequant", "tstream-info"):
        rc, out, err = run([tool(t)], input_bytes=bytes(full))
        assert rc == 1 and "bad magic" in err, (t, err)
        assert out == b""


@SUITE.test
def bad_stream_payload_corrupt():
    model, _ = fixture("auto")
    full = bytearray(stream_of(model))
    full[len(full) // 2] ^= 0x01
    rc, out, err = run([tool("tstream-info")], input_bytes=bytes(full))
    assert rc == 1, err
    assert "checksum mismatch" in err or "corrupt" in err, err


@SUITE.test
def bad_stream_file_argument():
    rc, out, err = run([tool("tern-dequant"), "/nonexistent/stream"])
    assert rc == 3 and "/nonexistent/stream" in err, (rc, err)


@SUITE.test
def master_weights_are_quantized_as_autobitlinear_does():
    model = os.path.join(TMP, "master")
    if not os.path.exists(model):
        gf.write_model(model, gf.PRESETS["tiny"], 9, master=True)
    arrays, _ = extract(convert(model), "master")
    ref = reference.Reference(model)
    projections = 0
    for name, got in arrays.items():
        src = ref.t[name]
        if name.endswith("_proj.weight"):
            want = reference.Reference.online_weight(src)
            projections += 1
            levels = np.unique(got)
            assert len(levels) == 3 and levels[1] == 0, (name, levels)
        else:
            want = src
        assert np.array_equal(got, want), name
    assert projections == 14

if __name__ == "__main__":
    sys.exit(SUITE.main())
