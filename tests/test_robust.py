#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Hostile and broken input, pipes and full disks.

Every case checks the exit status and the one line on stderr, and that
nothing is left behind that looks like a good model.  Prints
'robust: N passed, N failed' last."""
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
from harness import (Suite, one_line, refuses, run, through_fifo,  # noqa: E402
                     tool, write_st)
import gguf_fixture as gg  # noqa: E402
import tstream_craft as tc  # noqa: E402
from tstream_craft import DType, Enc  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bn-robust-")
SUITE = Suite("robust", TMP)


def workdir(name):
    """A folder of its own under TMP for one test."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    return d


def model():
    d = os.path.join(TMP, "model")
    if not os.path.exists(d):
        gf.write_model(d, gf.PRESETS["tiny"], 21, truth=False)
    return d


def demo_model():
    d = os.path.join(TMP, "demo")
    if not os.path.exists(d):
        gf.write_model(d, gf.PRESETS["demo"], 22, truth=False)
    return d


def f32_stream():
    p = os.path.join(TMP, "f32.tstream")
    if not os.path.exists(p):
        r = subprocess.run("%s %s | %s > %s" % (tool("st-read"), model(),
                           tool("tern-dequant"), p), shell=True)
        assert r.returncode == 0
    with open(p, "rb") as f:
        return f.read()


def verify_rejects(path):
    rc, _, err = run([tool("onnx-verify"), "-q", path])
    assert rc == 1, (path, rc, err)


# --- pipes ---------------------------------------------------------------

@SUITE.test
def downstream_exits_early():
    """Upstream stops quietly, non-zero, on a closed pipe (the demo model
    is several times the 1 MiB of a pipe)."""
    r = subprocess.run("%s %s | %s > %s/f32" % (tool("st-read"), demo_model(),
                       tool("tern-dequant"), TMP), shell=True)
    assert r.returncode == 0
    for cmd in ("%s %s" % (tool("st-read"), demo_model()),
                "%s %s/f32" % (tool("tern-dequant"), TMP),
                "%s -q %s/f32" % (tool("onnx-emit"), TMP)):
        p = subprocess.run(["bash", "-c", cmd + " | head -c 100 >/dev/null;"
                            " echo ${PIPESTATUS[0]}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        status = int(p.stdout)
        assert status == 128 + signal.SIGPIPE, (cmd, status)
        assert p.stderr == b"", (cmd, p.stderr)


def start_emit(args, out_path=None):
    out = open(out_path, "wb") if out_path else subprocess.DEVNULL
    p = subprocess.Popen([tool("onnx-emit"), "-q"] + args,
                         stdin=subprocess.PIPE, stdout=out,
                         stderr=subprocess.PIPE)
    if out_path:
        out.close()
    return p


@SUITE.test
def killed_pipeline_leaves_no_valid_model():
    stream = f32_stream()
    d = os.path.join(TMP, "kill")
    for cut in (0, 100, len(stream) // 4, len(stream) // 2,
                len(stream) - 9):
        for flags in ([], ["--external-data"]):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            target = os.path.join(d, "model.onnx")
            # onnx-emit killed while its input is still open
            p = start_emit(["-o", target] + flags)
            p.stdin.write(stream[:cut])
            p.stdin.flush()
            time.sleep(0.2)
            p.kill()
            p.wait()
            p.stdin.close()
            p.stderr.close()
            assert not os.path.exists(target), (cut, flags)
            assert not os.path.exists(target + "_data"), (cut, flags)
            for name in os.listdir(d):
                verify_rejects(os.path.join(d, name))
            # writing to a redirected stdout: the partial file is refused
            if not flags:
                p = start_emit([], target)
                p.stdin.write(stream[:cut])
                p.stdin.flush()
                time.sleep(0.2)
                p.kill()
                p.wait()
                p.stdin.close()
                p.stderr.close()
                verify_rejects(target)


@SUITE.test
def upstream_death_is_a_truncated_stream():
    stream = f32_stream()
    for t in ("tern-dequant", "onnx-emit", "tstream-info"):
        p = subprocess.Popen([tool(t)], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        p.stdin.write(stream[:len(stream) // 3])
        p.stdin.close()  # the upstream "dies"
        err = p.stderr.read().decode()
        assert p.wait() == 1, t
        one_line(err, "<stdin>", "truncated")


# --- disks ---------------------------------------------------------------

@SUITE.test
def full_disk_on_stdout():
    with open(os.path.join(TMP, "f32"), "wb") as f:
        f.write(f32_stream())
    for argv in ([tool("st-read"), model()],
                 [tool("tern-dequant"), os.path.join(TMP, "f32")],
                 [tool("onnx-emit"), "-q", os.path.join(TMP, "f32")]):
        with open("/dev/full", "wb") as full:
            p = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE)
        assert p.returncode == 3, (argv, p.returncode)
        one_line(p.stderr.decode(), "stdout", "No space left on device")


def limit_file_size(kib):
    def f():
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))
    return f


@SUITE.test
def failed_writes_leave_nothing_under_the_final_name():
    stream = f32_stream()
    d = os.path.join(TMP, "fsize")
    for flags, needle in (([], "model.onnx: write"),
                          (["--external-data"], "model.onnx_data")):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        target = os.path.join(d, "model.onnx")
        p = subprocess.run([tool("onnx-emit"), "-q", "-o", target] + flags,
                           input=stream, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE,
                           preexec_fn=limit_file_size(64))
        assert p.returncode == 3, p.returncode
        one_line(p.stderr.decode(), needle, "File too large")
        assert os.listdir(d) == [], os.listdir(d)
    x = os.path.join(TMP, "xdir")
    p = subprocess.run([tool("tstream-info"), "-x", x], input=stream,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=limit_file_size(16))
    assert p.returncode == 3
    one_line(p.stderr.decode(), x, "File too large")


# --- hostile sizes -------------------------------------------------------

def st_read_fails(st_path, *needles, rc_want=1):
    cfg = os.path.join(model(), "config.json")
    rc, out, err = run([tool("st-read"), "-c", cfg, st_path])
    assert rc == rc_want, (rc, err)
    assert out == b""
    one_line(err, *needles)


@SUITE.test
def hostile_safetensors():
    p = os.path.join(TMP, "hostile.safetensors")
    write_st(p, {"t": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40],
                       "data_offsets": [0, 4]}})
    st_read_fails(p, "'t'", "overflows 64 bits")
    write_st(p, {"t": {"dtype": "F32", "shape": [2 ** 62],
                       "data_offsets": [0, 4]}})
    st_read_fails(p, "'t'", "overflows")
    write_st(p, {"x" * (1 << 20): {"dtype": "F32", "shape": [1],
                                   "data_offsets": [0, 4]}}, b"\0" * 4)
    st_read_fails(p, "name of 1048576 bytes")
    # a million tensors cannot even fit in the header limit
    entry = b'"t%07d":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
    raw = b"{" + b"".join(entry % i for i in range(1000000))[:-1] + b"}"
    write_st(p, raw)
    st_read_fails(p, "header length", "limit")
    # 200000 tensors fit in the header, and are too many
    raw = b"{" + b"".join(entry % i for i in range(200000))[:-1] + b"}"
    write_st(p, raw)
    st_read_fails(p, "200000 tensors", "limit of 100000")
    # deeply nested JSON
    write_st(p, b'{"t":' + b"[" * 100000 + b"]" * 100000 + b"}")
    st_read_fails(p, "invalid JSON")


@SUITE.test
def hostile_config():
    d = os.path.join(TMP, "deep")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(model(), d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"model_type": ' + "[" * 50000 + "]" * 50000 + "}")
    refuses([tool("st-read"), d], "config.json", "invalid JSON")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "bitnet", "hidden_size": 2 ** 40,
                   "num_hidden_layers": 1, "num_attention_heads": 1,
                   "intermediate_size": 1, "vocab_size": 1}, f)
    refuses([tool("st-read"), d], "'hidden_size'", "1 to 1048576")


def stream_frame(tag, body):
    return tag + struct.pack("<I", len(body)) + body


@SUITE.test
def hostile_streams():
    magic = b"\x89TSTR\r\n\x1a" + struct.pack("<I", 1)
    for data, needle in (
            (magic + b"HEAD" + struct.pack("<I", 0xFFFFFFF0), "limit"),
            (magic + b"HEAD" + struct.pack("<I", 5) + b"\xff" * 5,
             "not a valid StreamHeader"),
            (magic + b"JUNK" + struct.pack("<I", 0), "bad frame tag"),
            (b"\x89TSTR\r\n\x1a" + struct.pack("<I", 9), "version 9"),
            (b"", "empty input")):
        for t in ("tern-dequant", "tstream-info", "onnx-emit"):
            rc, out, err = run([tool(t)], data)
            assert rc == 1, (t, needle, rc, err)
            one_line(err, needle)
            assert out == b""
    # a million manifest entries, refused before they are unpacked
    entry = b"\x2a\x03\x0a\x01x"  # field 5, TensorInfo{name: "x"}
    body = b"\x08\x01" + entry * 1000000
    rc, out, err = run([tool("tstream-info")], magic +
                       stream_frame(b"HEAD", body))
    assert rc == 1
    one_line(err, "1000000 tensors", "more than 100000")
    # a tensor frame past the frame limit
    full = f32_stream()
    i = full.index(b"TENS")
    bad = full[:i + 4] + struct.pack("<I", 1 << 30) + full[i + 8:]
    rc, out, err = run([tool("tstream-info")], bad)
    assert rc == 1
    one_line(err, "TENS frame of 1073741824 bytes", "limit")


def a_tensor(name="t", n=4):
    info = tc.tensor_info(name, shape=(n,))
    return info, struct.pack("<%df" % n, *range(n))


@SUITE.test
def malformed_streams():
    """Each rule of tstream(5), broken once."""
    good_info, good_payload = a_tensor()
    long_name = "x" * 1100
    cases = [
        (tc.stream([tc.tensor_info("")], []), "empty name"),
        (tc.stream([tc.tensor_info(long_name)], []), "more than 1024"),
        (tc.stream([tc.tensor_info("t", shape=(1,) * 9)], []),
         "rank 9, more than 8"),
        (tc.stream([tc.tensor_info("t", dtype=42)], []), "unknown dtype"),
        (tc.stream([tc.tensor_info("t", shape=(6, 4), dtype=DType.U8,
                                   encoding=Enc.HF_PACKED, length=6)], []),
         "cannot hold"),
        (tc.stream([tc.tensor_info("t", length=15)], []), "expected 16"),
        (tc.stream([], [], head=tc.header([], version=2)),
         "header version 2"),
        (tc.stream([], [], head=tc.header([], cfg=False)),
         "no model config"),
        (tc.stream([good_info, good_info], []), "names tensor 't' twice"),
        (tc.stream([good_info], [a_tensor("u")]), "not in the manifest"),
        (tc.stream([good_info], [(good_info, good_payload),
                                 (good_info, good_payload)]),
         "appears twice"),
        (tc.stream([good_info], [(tc.tensor_info("t", shape=(2, 2)),
                                  good_payload)]),
         "differs from its manifest entry"),
        (tc.stream([tc.tensor_info("p", shape=(4, 4), dtype=DType.U8,
                                   encoding=Enc.HF_PACKED, scale=1.0)],
                   [(tc.tensor_info("p", shape=(4, 4), dtype=DType.U8,
                                    encoding=Enc.HF_PACKED),
                     b"\x55" * 4)]), "without a scale"),
        (tc.stream([good_info], [(good_info, good_payload, None, b"TENX")]),
         "no TEND mark"),
        (tc.stream([good_info], [(good_info, good_payload, 7)]),
         "checksum mismatch"),
        (tc.stream([good_info], [(good_info, good_payload)], count=2),
         "trailer counts 2"),
        (tc.stream([good_info], [(good_info, good_payload)], nbytes=99),
         "trailer counts 99 payload bytes"),
        (tc.stream([good_info], [(good_info, good_payload)],
                   tail=tc.frame(b"TRLR", b"\xff\xff")),
         "not a valid Trailer"),
        (tc.stream([good_info], [tc.frame(b"TENS", b"\xff\xff")]),
         "not a valid TensorInfo"),
        (tc.stream([good_info], [tc.frame(b"HEAD", tc.header([]))]),
         "a second HEAD frame"),
        (tc.stream([good_info], [], tail=tc.frame(b"TENS", good_info) +
                   good_payload[:5]), "truncated in tensor 't'"),
    ]
    for data, needle in cases:
        for t in ("tstream-info", "tern-dequant"):
            rc, out, err = run([tool(t)], data)
            assert rc == 1, (t, needle, rc, err)
            one_line(err, needle, "<stdin>")
    # the good stream itself is whole
    rc, out, err = run([tool("tstream-info")], tc.stream(
        [good_info], [(good_info, good_payload)]))
    assert rc == 0, err


@SUITE.test
def streams_the_filters_refuse():
    """Well-formed streams that tern-dequant or onnx-emit cannot take."""
    f32 = tc.tensor_info("model.norm.weight", shape=(8,))
    packed = tc.tensor_info("model.layers.0.mlp.up_proj.weight",
                            shape=(8, 8), dtype=DType.U8,
                            encoding=Enc.HF_PACKED, scale=0.0)
    cases = [  # (tool, stream, needle)
        ("tern-dequant",
         tc.stream([tc.tensor_info("i", dtype=DType.I8)], []),
         "plain i8 is not a float tensor"),
        ("tern-dequant", tc.stream([tc.tensor_info(
            "q", dtype=DType.I8, encoding=Enc.INT8, shape=(4, 4),
            scale=1.0)], []),
         "ternary-int8 is not supported"),
        ("tern-dequant", tc.stream([packed], [], head=tc.header(
            [packed], cfg=tc.config(linear_class="bitlinear"))),
         "weight_scale 0 cannot divide"),
        ("tern-dequant", tc.stream([packed], [], head=tc.header(
            [packed], cfg=tc.field_bytes(tc.Cfg.MODEL_TYPE, "bitnet") +
            tc.field_varint(tc.Cfg.HIDDEN, 8))),
         "no quantization_config.linear_class"),
        ("onnx-emit", tc.stream([tc.tensor_info("model.extra.weight")], []),
         "'model.extra.weight' is not part of a BitNet model"),
        ("onnx-emit", tc.stream([tc.tensor_info("model.norm.weight",
                                                shape=(9,))], []),
         "has shape [9]; the config implies [8]"),
        ("onnx-emit", tc.stream([f32], []),
         "not a whole model, nor the embedding"),
        ("onnx-emit", tc.stream([tc.tensor_info(
            "model.layers.3.input_layernorm.weight", shape=(8,))], []),
         "'model.layers.3.input_layernorm.weight' is not part"),
    ]
    q_proj = "model.layers.0.self_attn.q_proj.weight"

    def q2(name=q_proj, block=16, length=32):
        return tc.tensor_info(name, dtype=DType.U8, encoding=Enc.Q2,
                              shape=(8, 8), length=length, scale=1.0,
                              block_size=block)
    scales = tc.tensor_info(q_proj + ".scales", shape=(8, 1))
    i2s = tc.tensor_info("model.layers.0.mlp.up_proj.weight", dtype=DType.U8,
                         encoding=Enc.I2S, shape=(128,))
    cases += [
        ("tern-dequant --to int8", tc.stream([i2s], []),
         "a weight to store as ternary-int8 must be a matrix"),
        ("onnx-emit", tc.stream([q2()], []),
         "ternary-q2 tensor '%s' comes without its scales" % q_proj),
        ("onnx-emit", tc.stream([scales], []),
         "has no int8, q2 or block-q8 weight '%s' beside it" % q_proj),
        ("onnx-emit", tc.stream([q2(), tc.tensor_info(
            q_proj + ".scales", shape=(8, 2))], []),
         "is not the plain f32 [8,1] of scales its ternary-q2 weight"),
        ("onnx-emit", tc.stream([q2(block=48)], []),
         "ternary-q2 block size 48 is not a power of two from 16 to 4096"),
    ]
    for t, data, needle in cases:
        rc, out, err = run([tool(t.split()[0])] + t.split()[1:], data)
        assert rc == 1, (t, needle, rc, err)
        one_line(err, needle)
        assert out == b"", (t, needle)


def st_model(name, header, data=b"", cfg=None):
    """A model folder whose model.safetensors has the given header."""
    d = os.path.join(TMP, "stm-" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(cfg or os.path.join(model(), "config.json"),
                os.path.join(d, "config.json"))
    write_st(os.path.join(d, "model.safetensors"), header, data)
    return d


@SUITE.test
def safetensors_the_reader_refuses():
    w = "model.layers.0.mlp.up_proj.weight"
    cases = [
        ({w: {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]},
          w + "_scale": {"dtype": "BF16", "shape": [1],
                         "data_offsets": [8, 10]}}, b"\0" * 10,
         "must be packed u8 [out/4, in]"),
        ({w: {"dtype": "U8", "shape": [2, 4], "data_offsets": [0, 8]},
          w + "_scale": {"dtype": "BF16", "shape": [2],
                         "data_offsets": [8, 12]}}, b"\0" * 12,
         "expected one float, found bf16 with 2 elements"),
        ({"t": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}},
         b"\0" * 4, "'dtype' is not a string"),
    ]
    for i, (h, data, needle) in enumerate(cases):
        d = st_model("r%d" % i, h, data)
        rc, out, err = run([tool("st-read"), d])
        assert rc == 1, (needle, rc, err)
        one_line(err, needle)
    # an index naming a tensor its shard does not hold
    d = os.path.join(TMP, "dup-shards")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(os.path.join(model(), "config.json"), d)
    h = {"model.norm.weight": {"dtype": "F32", "shape": [1],
                               "data_offsets": [0, 4]}}
    for shard in ("a.safetensors", "b.safetensors"):
        write_st(os.path.join(d, shard), h, b"\0" * 4)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"model.norm.weight": "a.safetensors",
                                  "x": "b.safetensors"}}, f)
    refuses([tool("st-read"), d], "'x' is not in b.safetensors")
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write("{not json")
    rc, out, err = run([tool("st-read"), d])
    assert rc == 1
    one_line(err, "model.safetensors.index.json", "invalid JSON")
    refuses([tool("st-read"), "/dev/null"], "/dev/null", "not a regular file")


def gguf_head(n_tensors, kvs, infos=b"", version=3):
    return (b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kvs)) +
            b"".join(kvs) + infos)


def tensor_file(tensors, data):
    """A GGUF of the bitnet-b1.58 architecture holding tensors (name, ggml
    type, dims, offset) and `data` zero bytes after the aligned header."""
    arch = gg.kv("general.architecture", gg.V_STRING, "bitnet-b1.58")
    infos = b"".join(gg.gstr(n) + struct.pack("<I", len(dims)) +
                     struct.pack("<%dQ" % len(dims), *dims) +
                     struct.pack("<IQ", t, off)
                     for n, t, dims, off in tensors)
    head = gguf_head(len(tensors), [arch], infos)
    return head + bytes(-len(head) % gg.ALIGN + data)


@SUITE.test
def hostile_gguf():
    arch = gg.kv("general.architecture", gg.V_STRING, "bitnet-b1.58")
    big = gg.gstr("k") + struct.pack("<IIQ", gg.V_ARRAY, gg.V_U32, 1 << 40)
    deep = gg.gstr("k") + struct.pack("<IIQIQIQIQ", gg.V_ARRAY, gg.V_ARRAY,
                                      1, gg.V_ARRAY, 1, gg.V_ARRAY, 1,
                                      gg.V_ARRAY, 1)
    info = (gg.gstr("token_embd.weight") + struct.pack("<I", 9) +
            struct.pack("<9Q", *([1] * 9)) + struct.pack("<IQ", 0, 0))
    huge_dims = (gg.gstr("token_embd.weight") + struct.pack("<I", 2) +
                 struct.pack("<QQ", 1 << 40, 1 << 40) +
                 struct.pack("<IQ", 0, 0))
    cases = [
        (struct.pack("<Q", 1 << 30).join([b"GGUF\x03\0\0\0", b""]),
         "inside its header"),
        (gguf_head(0, [gg.gstr("k") + struct.pack("<I", 99)]),
         "unknown metadata value type 99"),
        (gguf_head(0, [big]), "past the limits"),
        (gguf_head(0, [deep]), "nested 3 deep"),
        (gguf_head(0, [gg.gstr("k") + struct.pack("<IQ", gg.V_STRING,
                                                   1 << 30)]),
         "a string of 1073741824 bytes"),
        (gguf_head(0, [gg.gstr("k") + struct.pack("<I", gg.V_STRING) +
                       gg.gstr("x") [:8] + b"\xff"]),
         "not UTF-8"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40), "metadata keys"),
        (b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0), "tensors, more"),
        (gguf_head(0, [arch, gg.kv("general.alignment", gg.V_U32, 3)]),
         "general.alignment 3"),
        (gguf_head(1, [arch], info), "9 dimensions"),
        (gguf_head(1, [arch], huge_dims), "overflows 64 bits"),
        (gguf_head(0, []), "general.architecture is '(none)'"),
        # round 3: strings and keys as llama.cpp reads them
        (gguf_head(0, [gg.kv("general.architecture", gg.V_STRING,
                             "bitnet-b1.58\0junk")]), "holds a NUL byte"),
        (gguf_head(0, [arch, arch]),
         "metadata key 'general.architecture' appears twice"),
        (gguf_head(0, [arch, struct.pack("<Q", 2) + b"\xff\xfe" +
                       struct.pack("<II", gg.V_U32, 1)]),
         "the metadata key that ends at 86 is not UTF-8"),
        (gguf_head(0, [arch, gg.kv("general.alignment", gg.V_F32, 32.0)]),
         "general.alignment has value type 6"),
        (gguf_head(0, [arch, gg.kv("x", gg.V_F32, float("nan"))]),
         "is nan; metadata values must be finite"),
        (gguf_head(0, [arch, gg.kv("x", gg.V_F32, float("inf"))]),
         "is inf; metadata values must be finite"),
        # what the parsed metadata would hold, not the file's bytes
        (gguf_head(0, [arch, gg.gstr("k") + struct.pack(
            "<IIQ", gg.V_ARRAY, 0, 5 << 20) + bytes(5 << 20)]),
         "more than 256 MiB of memory once read"),
        # tensors: whole blocks a row, aligned, each its own bytes
        (tensor_file([("token_embd.weight", 8, [16, 2], 0)], 34),
         "rows of 16 values are not whole Q8_0 blocks of 32"),
        (tensor_file([("token_embd.weight", 0, [8], 0),
                      ("output_norm.weight", 0, [8], 0)], 64),
         "tensors 'token_embd.weight' and 'output_norm.weight' overlap"),
        (tensor_file([("token_embd.weight", 0, [8], 4)], 64),
         "offset 4 is not a multiple of the alignment 32"),
    ]
    p = os.path.join(TMP, "hostile.gguf")
    for data, needle in cases:
        with open(p, "wb") as f:
            f.write(data)
        rc, out, err = run([tool("gguf-read"), p])
        assert rc == 1, (needle, rc, err)
        one_line(err, needle)
    refuses([tool("gguf-read"), TMP], "not a regular file")


def patched_model(name, tensor, element, raw):
    """A copy of model() whose tensor has bytes raw at element (of its
    dtype's size)."""
    d = workdir(name)
    shutil.copytree(model(), d, dirs_exist_ok=True)
    st = os.path.join(d, "model.safetensors")
    with open(st, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        e = json.loads(f.read(n))[tensor]
        f.seek(8 + n + e["data_offsets"][0] + len(raw) * element)
        f.write(raw)
    return d


@SUITE.test
def values_that_make_every_logit_nan_are_refused():
    """A NaN weight (one in a norm makes every logit NaN) and a weight
    scale whose products overflow float32 are refused where tern-dequant
    reads them, naming the tensor."""
    for name, tensor, element, raw, needles in (
            ("nan-norm", "model.norm.weight", 3, b"\xc0\x7f",
             ("'model.norm.weight': element 3 is nan",
              "weights are finite numbers")),
            ("huge-scale", "model.layers.0.mlp.up_proj.weight_scale", 0,
             b"\x62\x7f", ("'model.layers.0.mlp.up_proj.weight'",
                            "overflow float32"))):
        d = patched_model(name, tensor, element, raw)
        for to in ("", "--to q2"):
            p = subprocess.run("%s %s | %s %s > /dev/null" % (
                tool("st-read"), d, tool("tern-dequant"), to), shell=True,
                stderr=subprocess.PIPE)
            assert p.returncode == 1, (name, to, p.stderr)
            one_line(p.stderr.decode(), *needles)


@SUITE.test
def one_pass_reads_refuse():
    """Standard input and archives: what only a one-pass read meets."""
    cfg = os.path.join(model(), "config.json")
    w = "model.layers.0.mlp.up_proj.weight"
    u = "model.layers.0.mlp.gate_proj.weight"
    h = {w: {"dtype": "U8", "shape": [24, 64], "data_offsets": [0, 1536]},
         u: {"dtype": "U8", "shape": [24, 64],
             "data_offsets": [1536, 3072]},
         w + "_scale": {"dtype": "BF16", "shape": [1],
                        "data_offsets": [3072, 3074]},
         u + "_scale": {"dtype": "BF16", "shape": [1],
                        "data_offsets": [3074, 3076]}}
    raw = json.dumps(h).encode()
    blob = struct.pack("<Q", len(raw)) + raw + b"\x55" * 3072 + b"\x80\x3f" * 2
    rc, out, err = run([tool("st-read"), "-c", cfg, "-"], blob)
    assert rc == 1
    one_line(err, "still waits for its weight_scale")
    refuses([tool("st-read"), "-"], "needs --config", rc_want=2, data=blob)
    d = workdir("twoconf")
    a = os.path.join(d, "m.tar")
    with tarfile.open(a, "w") as t:
        t.add(cfg, "x/config.json")
        t.add(cfg, "y/config.json")
        t.add(os.path.join(model(), "model.safetensors"),
              "x/model.safetensors")
    rc, out, err = run([tool("st-read"), a])
    assert rc == 1
    one_line(err, "x/config.json and y/config.json",
             "more than one model in the archive")


@SUITE.test
def onnx_files_the_reader_refuses():
    p = os.path.join(TMP, "bad2.onnx")
    for data, needle in (
            (b"\x3a\x03\x2a\x01\xff", "bad protobuf tag at offset 4"),
            (b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
             "truncated varint"),
            (b"\x3a\x00\x3a\x00", "more than one graph"),
            (b"\x3a\x06\x2a\x04\x0a\x02\xff\xff", "initializer 0"),
            (b"\x3a\x04\x0a\x02\xff\xff", "not a valid GraphProto"),
            (b"\x42\x02\xff\xff", "not a valid ONNX ModelProto"),
            (b"\x12\x01", "past the end")):
        with open(p, "wb") as f:
            f.write(data)
        rc, out, err = run([tool("onnx-verify"), p])
        assert rc == 1, (data, rc, err)
        one_line(err, needle)
    refuses([tool("onnx-verify"), TMP], "not a regular file")


@SUITE.test
def ternary_sources_tern_dequant_refuses():
    """Ternary weights that decode to no ternary value, scales that cannot
    apply, sizes past the hold limit: in f32 and in a compact form."""
    online = tc.config(mode="online")
    up = "model.layers.0.mlp.up_proj.weight"
    i2s = tc.tensor_info(up, shape=(8, 16), dtype=DType.U8, encoding=Enc.I2S)
    nan = struct.pack("<f", float("nan"))
    master = tc.tensor_info(up, dtype=DType.BF16, shape=(8, 16))
    vector = tc.tensor_info(up, dtype=DType.BF16, shape=(8,))
    stream_cases = [
        (tc.stream([vector], [], head=tc.header([vector], cfg=online)),
         "a projection to quantize must be a matrix"),
        (tc.stream([tc.tensor_info(up, shape=(1 << 20, 1 << 12),
                                   dtype=DType.U8, encoding=Enc.I2S)], []),
         "I2_S payload of"),
        (tc.stream([tc.tensor_info(up, shape=(8, 8), dtype=DType.U8,
                                   encoding=Enc.HF_PACKED,
                                   scale=float("inf"))], []),
         "weight_scale inf cannot multiply"),
        (tc.stream([i2s], [(i2s, b"\x55" * 32 + nan + b"\0" * 28)]),
         "I2_S scale nan is not finite"),
        (tc.stream([master], [(master, b"\x80\x3f" * 5 + b"\xc0\x7f" +
                               b"\x80\x3f" * 122)],
                   head=tc.header([master], cfg=online)),
         "tensor '%s': element 5 is NaN" % up),
        (tc.MAGIC + struct.pack("<I", 1) + tc.frame(b"TENS", b""),
         "expected the HEAD frame"),
    ]
    for data, needle in stream_cases:
        rc, out, err = run([tool("tern-dequant")], data)
        assert rc == 1, (needle, rc, err)
        one_line(err, needle)
    # the same sources into a compact form
    one = struct.pack("<f", 1.0)
    for data, needle in (
            (tc.stream([master], [(master, b"\x80\x3f" * 5 + b"\xc0\x7f" +
                                   b"\x80\x3f" * 122)],
                       head=tc.header([master], cfg=online)),
             "tensor '%s': element 5 is NaN" % up),
            (tc.stream([i2s], [(i2s, b"\xff" * 32 + one + b"\0" * 28)]),
             "I2_S value 0 has code 3"),
            (tc.stream([i2s], [(i2s, b"\x55" * 32 + nan + b"\0" * 28)]),
             "I2_S scale nan is not finite")):
        rc, out, err = run([tool("tern-dequant"), "--to", "int8"], data)
        assert rc == 1, (needle, rc, err)
        one_line(err, needle)
    # a value block-q8 cannot hold
    emb = tc.tensor_info("model.embed_tokens.weight", shape=(4, 32))
    rc, out, err = run([tool("tern-dequant"), "--to", "q2", "--embed", "q8"],
                       tc.stream([emb], [(emb, b"\0" * 36 + nan +
                                          b"\0" * 472)]))
    assert rc == 1, err
    one_line(err, "tensor 'model.embed_tokens.weight': element [0, 9] is "
             "nan; block-q8 holds finite values")
    # sizes that overflow once widened to float32, or pass the hold limit
    for info, needle in (
            (tc.tensor_info("n", dtype=DType.F16, shape=(1 << 62,)),
             "shape too large"),
            (tc.tensor_info(up, shape=(1 << 20, 1 << 12), dtype=DType.U8,
                            encoding=Enc.HF_PACKED, scale=1.0),
             "packed payload of")):
        rc, out, err = run([tool("tern-dequant")], tc.stream([info], []))
        assert rc == 1, (needle, rc, err)
        one_line(err, needle)


@SUITE.test
def models_onnx_emit_and_verify_refuse():
    # a bundle holds one form
    q = "model.layers.0.self_attn.q_proj.weight"
    k = "model.layers.0.self_attn.k_proj.weight"
    q2 = tc.tensor_info(q, dtype=DType.U8, encoding=Enc.Q2, shape=(8, 8),
                        length=32, scale=1.0, block_size=16)
    f32k = tc.tensor_info(k, shape=(8, 8))
    rc, out, err = run([tool("onnx-emit"), "--bundle",
                        os.path.join(TMP, "mixed")], tc.stream([q2, f32k], []))
    assert rc == 1, (rc, err)
    one_line(err, "tensor '%s' is plain while other projections are not; "
             "a bundle holds one form" % k)
    # onnx-verify --against a stream with a tensor the model lacks
    zzz = tc.tensor_info("zzz")
    data = tc.stream([zzz], [(zzz, b"\0" * 16)])
    onnx_path = os.path.join(TMP, "m.onnx")
    r = subprocess.run("%s %s | %s | %s -q > %s" % (
        tool("st-read"), model(), tool("tern-dequant"), tool("onnx-emit"),
        onnx_path), shell=True)
    assert r.returncode == 0
    rc, out, err = run([tool("onnx-verify"), "-q", "-a", "-", onnx_path],
                       data)
    assert rc == 1
    one_line(err, "no initializer 'zzz'")
    d = workdir("onnx")
    # a million initializers, refused before they are all read
    many = os.path.join(d, "many.onnx")
    body = b"\x2a\x00" * 1000001
    with open(many, "wb") as f:
        f.write(b"\x3a" + gf_varint(len(body)) + body)
    refuses([tool("onnx-verify"), many], "more than 1000000 initializers")


@SUITE.test
def paths_and_inputs_that_cannot_be_used():
    cfg = os.path.join(model(), "config.json")
    d = workdir("paths")
    # paths
    long = os.path.join(TMP, "x" * 250, "y" * 250, "z" * 250, "w" * 250,
                        "v" * 250, "u" * 250, "t" * 250, "s" * 250,
                        "r" * 250, "q" * 250, "p" * 250, "o" * 250,
                        "n" * 250, "m" * 250, "l" * 250, "k" * 250, "j")
    for argv, rc_want, needles in (
            ([tool("onnx-emit"), "-q", "-o", "/nonexistent/d/m.onnx",
              os.path.join(TMP, "f32.tstream")], 3,
             ("/nonexistent/d/m.onnx", "No such file")),
            ([tool("st-read"), "-c", TMP, "-"], 1, ("not a regular file",)),
            ([tool("gguf-read"), "-t", "nothing*", gguf_path()], 2,
             ("matches no tensor",)),
            ([tool("tern-dequant"), TMP], 3, (TMP,))):
        if argv[0] == tool("onnx-emit"):
            f32_stream()
        rc, out, err = run(argv, b"")
        assert rc == rc_want, (argv, rc, err)
        one_line(err, *needles)
    big = os.path.join(TMP, "big-config.json")
    with open(big, "w") as f:
        f.write(" " * (17 << 20) + "{}")
    rc, out, err = run([tool("st-read"), "-c", big, model()])
    assert rc == 1
    one_line(err, "more than the limit of 16777216")
    rc, out, err = run([tool("st-read"), long])
    assert rc in (1, 3), err
    assert len(err.strip().splitlines()) == 1, err


    # standard input that cannot be read
    fdir = os.open(TMP, os.O_RDONLY)
    p = subprocess.run([tool("st-read"), "-c", cfg, "-"], stdin=fdir,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(fdir)
    assert p.returncode == 3, p.returncode
    one_line(p.stderr.decode(), "<stdin>", "Is a directory")
    # a config path that cannot be opened; a path too long to extend
    rc, out, err = run([tool("st-read"), "-c", cfg + "/x", model()])
    assert rc == 3
    one_line(err, "Not a directory")
    deep = d
    while len(deep) < 4085:
        deep = os.path.join(deep, "d" * min(200, 4085 - len(deep)))
    os.makedirs(deep, exist_ok=True)
    refuses([tool("st-read"), deep], "path too long")
    # a full disk met by a large write, not the final flush
    p = subprocess.run("%s %s > /dev/full" % (tool("st-read"), demo_model()),
                       shell=True, stderr=subprocess.PIPE)
    assert p.returncode == 3
    one_line(p.stderr.decode(), "stdout: write", "No space left")


@SUITE.test
def archives_refused():
    cfg = os.path.join(model(), "config.json")
    d = workdir("yet")
    # an archive with a side file of the model's folder twice (read as a
    # file and through a pipe), and one with too many side files before
    # the weights through a pipe, which must hold them
    for name, folders, needle, pipe in (
            ("twice.tar", ["m", "m"], "m/tokenizer_config.json appears "
             "twice", False),
            ("twice-late.tar", ["m", "m"], "appears twice", True),
            ("many.tar", ["m%d" % i for i in range(9)],
             "more than 8 side files before the weights", True)):
        a = os.path.join(d, name)
        with tarfile.open(a, "w") as t:
            if pipe and name.startswith("many"):
                for f in folders:
                    t.add(cfg, "%s/tokenizer_config.json" % f)
            t.add(cfg, "m/config.json")
            t.add(os.path.join(model(), "model.safetensors"),
                  "m/model.safetensors")
            if not name.startswith("many"):
                for f in folders:
                    t.add(cfg, "%s/tokenizer_config.json" % f)
        rc, out, err = run([tool("st-read"),
                            through_fifo(a, TMP) if pipe else a])
        assert rc == 1, (name, rc, err)
        one_line(err, needle)
    # the weights twice in the model's folder: not the first taken
    # (through a pipe the first is out before the second shows, in a
    # stream without its end, which the next tool refuses)
    a = os.path.join(d, "weights-twice.tar")
    with tarfile.open(a, "w") as t:
        t.add(cfg, "m/config.json")
        for _ in range(2):
            t.add(os.path.join(model(), "model.safetensors"),
                  "m/model.safetensors")
    for path, needle in ((a, "m/model.safetensors appears twice in the "
                          "archive"), (through_fifo(a, TMP),
                                       "m/model.safetensors: a second "
                                       "weights file")):
        rc, out, err = run([tool("st-read"), path])
        assert rc == 1 and (out == b"" or path != a), (rc, err)
        one_line(err, needle)
    # a safetensors entry whose header runs past the entry
    a = os.path.join(d, "short.tar")
    st = os.path.join(d, "model.safetensors")
    with open(st, "wb") as f:
        f.write(struct.pack("<Q", 5000) + b"{}")
    with tarfile.open(a, "w") as t:
        t.add(cfg, "config.json")
        t.add(st, "model.safetensors")
    rc, out, err = run([tool("st-read"), a])
    assert rc == 1
    one_line(err, "header length 5000 runs past the end of the file")
    # archives broken inside an entry, and after the weights
    a = gf.write_archive(model(), os.path.join(d, "m.tar.gz"))
    with open(a, "rb") as f:
        blob = f.read()
    for cut, needle in ((len(blob) // 2, "truncated gzip input"),
                        (len(blob) - 30, "truncated gzip input")):
        bad = os.path.join(d, "cut%d.tar.gz" % cut)
        with open(bad, "wb") as f:
            f.write(blob[:cut])
        rc, out, err = run([tool("st-read"), bad])
        assert rc == 1, (cut, rc, err)
        one_line(err, needle, bad)


@SUITE.test
def indexes_and_one_pass_reads_refused():
    cfg = os.path.join(model(), "config.json")
    d = workdir("last")
    up = "model.layers.0.mlp.up_proj.weight"
    # an index naming more shards than allowed, a missing shard
    idx = os.path.join(d, "model.safetensors.index.json")
    shutil.copy(cfg, d)
    for weight_map, needle in (
            ({"t%d" % i: "s%d.safetensors" % i for i in range(4100)},
             "more than 4096 shards"),
            ({"t": "gone.safetensors"}, "gone.safetensors")):
        with open(idx, "w") as f:
            json.dump({"weight_map": weight_map}, f)
        rc, out, err = run([tool("st-read"), d])
        assert rc in (1, 3), (needle, rc, err)
        one_line(err, needle)
    os.unlink(idx)
    # one-pass reads: a projection too large to hold, a scale not a float
    for h, needle in (
            ({up: {"dtype": "U8", "shape": [1 << 26, 5],
                   "data_offsets": [0, 5 << 26]},
              up + "_scale": {"dtype": "BF16", "shape": [1],
                              "data_offsets": [5 << 26, (5 << 26) + 2]}},
             "more than the 268435456 bytes"),
            ({up: {"dtype": "U8", "shape": [2, 64],
                   "data_offsets": [0, 128]},
              up + "_scale": {"dtype": "U8", "shape": [1],
                              "data_offsets": [128, 129]}},
             "expected one float")):
        raw = json.dumps(h).encode()
        blob = struct.pack("<Q", len(raw)) + raw + b"\x55" * 200
        rc, out, err = run([tool("st-read"), "-c", cfg, "-"], blob)
        assert rc == 1, (needle, rc, err)
        one_line(err, needle)
    # an index of more than 100000 tensors
    big = os.path.join(d, "big")
    os.makedirs(big, exist_ok=True)
    shutil.copy(cfg, big)
    with open(os.path.join(big, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {"t%d" % i: "a.safetensors"
                                  for i in range(100001)}}, f)
    refuses([tool("st-read"), big], "weight_map of more than 100000 tensors")


@SUITE.test
def gguf_files_refused():
    d = workdir("gg")
    # a GGUF naming one tensor twice; a missing GGUF
    with open(gguf_path(), "rb") as f:
        blob = f.read()
    dup = os.path.join(d, "dup.gguf")
    with open(dup, "wb") as f:
        f.write(blob.replace(b"blk.0.attn_q.weight", b"blk.0.attn_k.weight",
                             1))
    refuses([tool("gguf-read"), dup], "appears twice")
    rc, out, err = run([tool("gguf-read"), os.path.join(d, "none.gguf")])
    assert rc == 3
    one_line(err, "No such file")


@SUITE.test
def archives_broken_inside():
    """Compressed data damaged inside an entry, and entries too large."""
    cfg = os.path.join(model(), "config.json")
    d = workdir("inside")
    raw = os.path.join(d, "m.tar")
    gf.write_archive(model(), raw)
    with open(raw, "rb") as f:
        tar = f.read()
    at = tar.index(b"model.safetensors")
    for where, name in ((at + 3000, "weights"), (600, "config"),
                        (len(tar) - 2000, "after")):
        comp = zlib.compressobj(6, zlib.DEFLATED, 31)
        head = comp.compress(tar[:where]) + comp.flush(zlib.Z_FULL_FLUSH)
        tail = comp.compress(tar[where:]) + comp.flush()
        bad = head + bytes(b ^ 0x5A for b in tail[:64]) + tail[64:]
        path = os.path.join(d, "bad-%s.tar.gz" % name)
        with open(path, "wb") as f:
            f.write(bad)
        rc, out, err = run([tool("st-read"), "-c", cfg, path])
        assert rc == 1, (name, rc, err)
        one_line(err, path)
    # two model folders in one archive: neither is taken
    a = os.path.join(d, "two.tar")
    with tarfile.open(a, "w") as t:
        t.add(cfg, "a/config.json")
        t.add(os.path.join(model(), "model.safetensors"),
              "a/model.safetensors")
        t.add(os.path.join(model(), "model.safetensors"),
              "b/model.safetensors")
    rc, out, err = run([tool("st-read"), a])
    assert rc == 1 and out == b"", (rc, err)
    one_line(err, "a/config.json and b/model.safetensors: more than one "
             "model in the archive")
    # a side file past its 64 MiB limit
    big = os.path.join(d, "tokenizer.json")
    with open(big, "wb") as f:
        f.truncate((64 << 20) + 1)
    a = os.path.join(d, "bigside.tar")
    with tarfile.open(a, "w") as t:
        t.add(cfg, "config.json")
        t.add(big, "tokenizer.json")
        t.add(os.path.join(model(), "model.safetensors"), "model.safetensors")
    os.unlink(big)
    rc, out, err = run([tool("st-read"), a])
    os.unlink(a)
    assert rc == 1
    one_line(err, "tokenizer.json: 67108865 bytes, more than the limit")


@SUITE.test
def a_graph_too_large_to_hold():
    p = os.path.join(TMP, "huge-graph.onnx")
    node = b"\x0a\x7f" + b"\x22\x7d" + b"x" * 125  # a node, op_type xxx
    count = (257 << 20) // len(node)
    with open(p, "wb") as f:
        body_len = count * len(node)
        f.write(b"\x3a" + tc.varint(body_len))
        chunk = node * 4096
        for _ in range(count // 4096):
            f.write(chunk)
        f.write(node * (count % 4096))
    rc, out, err = run([tool("onnx-verify"), p])
    os.unlink(p)
    assert rc == 1
    one_line(err, "more than 268435456 bytes of graph")


def peak_kib(argv):
    """(exit status, stderr, peak RSS in KiB) of argv, by GNU time."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = [line for line in p.stderr.decode().strip().splitlines()
             if not line.startswith("Command exited with")]
    return p.returncode, "\n".join(lines[:-1]), int(lines[-1])


@SUITE.test
def memory_is_bounded_by_what_the_tools_hold():
    """Ten MB of empty nodes would unpack to some 700 MB; a GGUF array of
    ten million bytes would hold as many values: both are refused, on
    what they would take once read, before it is taken, in a few tens of
    MB (twice that under the sanitizers, whose allocations are larger)."""
    slack = 2 if "ASAN_OPTIONS" in os.environ else 1
    p = os.path.join(TMP, "empty-nodes.onnx")
    n = 5 << 20
    with open(p, "wb") as f:
        f.write(b"\x3a" + tc.varint(2 * n) + b"\x0a\x00" * n)
    rc, err, kib = peak_kib([tool("onnx-verify"), p])
    os.unlink(p)
    assert rc == 1 and kib < slack * 64 * 1024, (rc, err, kib)
    one_line(err, "would take more than 268435456 bytes of memory")
    g = os.path.join(TMP, "big-array.gguf")
    arch = gg.kv("general.architecture", gg.V_STRING, "bitnet-b1.58")
    with open(g, "wb") as f:
        f.write(gguf_head(0, [arch, gg.gstr("k") + struct.pack(
            "<IIQ", gg.V_ARRAY, 0, 10 << 20) + bytes(10 << 20)]))
    rc, err, kib = peak_kib([tool("gguf-read"), g])
    os.unlink(g)
    assert rc == 1 and kib < slack * 320 * 1024, (rc, err, kib)
    one_line(err, "more than 256 MiB of memory once read")


def gf_varint(v):
    return tc.varint(v)


def gguf_path():
    g = os.path.join(TMP, "m.gguf")
    if not os.path.exists(g):
        gg.write_gguf(model(), g)
    return g


@SUITE.test
def hostile_onnx():
    p = os.path.join(TMP, "hostile.onnx")
    for data, needle in (
            (b"", "empty file"),
            (b"\x3a\xff\xff\xff\xff\x0f", "past the end"),
            (b"\x3a\x02\x2a\x7f", "past the end"),
            (b"\x0b\x00", "runs past the end"),  # a group: not supported
            (b"\x08\x08\x3a\x00", "no opset import")):
        with open(p, "wb") as f:
            f.write(data)
        rc, out, err = run([tool("onnx-verify"), p])
        assert rc == 1, (data, rc, err)
        one_line(err, p, needle)
    rc, out, err = run([tool("onnx-verify"), os.path.join(TMP, "nope")])
    assert rc == 3
    one_line(err, "No such file")


@SUITE.test
def missing_and_wrong_paths():
    for argv, rc_want, needles in (
            ([tool("st-read"), os.path.join(TMP, "absent")], 3,
             ("absent", "No such file")),
            ([tool("st-read"), TMP], 1, ("no model.safetensors",)),
            ([tool("st-read"), "-c", os.path.join(TMP, "none.json"),
              os.path.join(model(), "model.safetensors")], 3,
             ("none.json",)),
            ([tool("tstream-info"), TMP], 3, (TMP,))):
        rc, out, err = run(argv)
        assert rc == rc_want, (argv, rc, err)
        one_line(err, *needles)


if __name__ == "__main__":
    sys.exit(SUITE.main())
