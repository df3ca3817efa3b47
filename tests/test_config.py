#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What the config says is what the model computes: every config.json
field (and GGUF key) that changes the computation is implemented or
refused by name, and onnx-verify --against checks that a model's graph is
the one its stream's config builds.

Prints 'config: N passed, N failed' last."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture as gg  # noqa: E402
from harness import Suite, one_line, run, sh, tool  # noqa: E402
import ort_run  # noqa: E402
import reference  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bn-config-")
SUITE = Suite("config", TMP)


def sh_status(cmd):
    """The status and stderr text of a command line."""
    p = sh(cmd)
    return p.returncode, p.stderr.decode(errors="replace")


def base(preset="tiny", master=False, linear_class="autobitlinear"):
    d = os.path.join(TMP, "base-%s-%s-%s" % (preset, master, linear_class))
    if not os.path.exists(d):
        gf.write_model(d, gf.PRESETS[preset], 61, linear_class, truth=False,
                       master=master)
    return d


def variant(name, edit, **kw):
    """A copy of a base model whose config.json edit(cfg) changed."""
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(base(**kw), d)
    path = os.path.join(d, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    edit(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return d


def setter(**fields):
    return lambda cfg: cfg.update(fields)


def qsetter(**fields):
    return lambda cfg: cfg["quantization_config"].update(fields)


def st_read_refuses(folder, *needles):
    rc, _, err = run([tool("st-read"), folder])
    assert rc == 1, (folder, rc, err)
    one_line(err, *needles)


@SUITE.test
def fields_that_change_the_computation_are_refused_by_name():
    cases = [
        (setter(hidden_act="silu"), 'hidden_act is "silu"', "relu2"),
        (setter(hidden_act="gelu"), 'hidden_act is "gelu"'),
        (setter(hidden_act="relu3"), 'hidden_act is "relu3"'),
        (setter(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                              "low_freq_factor": 1.0,
                              "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192,
                              "attention_factor": 2.0}),
         "rope_scaling is", "llama3", "all four and nothing else"),
        (setter(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                              "low_freq_factor": 4.0,
                              "high_freq_factor": 1.0,
                              "original_max_position_embeddings": 8192}),
         "rope_scaling is", "low_freq_factor < high_freq_factor"),
        (setter(rope_scaling={"type": "linear", "factor": 2.0}),
         "rope_scaling is", "linear"),
        (setter(rope_scaling={"rope_type": "yarn", "factor": 4.0}),
         "rope_scaling is", "yarn"),
        (setter(rope_parameters={"rope_type": "yarn", "rope_theta": 1e4,
                                 "factor": 4.0}), "rope_parameters is"),
        (setter(rope_parameters={"rope_type": "default",
                                 "rope_theta": 1e4}),
         "rope_parameters.rope_theta", "disagrees with the key rope_theta"),
        (qsetter(use_rms_norm=True), "quantization_config.use_rms_norm"),
        (qsetter(modules_to_not_convert=["model.layers.0.mlp.down_proj"]),
         "quantization_config.modules_to_not_convert", "down_proj"),
        (setter(attention_bias=True), "attention_bias is true"),
        (setter(hidden_size=60, head_dim=15), "head_dim 15 is odd"),
        (setter(head_dim=32), "head_dim 32 times num_attention_heads 4",
         "hidden_size 64"),
        (setter(rms_norm_eps=1e-50), "'rms_norm_eps' is 1e-50",
         "float32"),
        (setter(rms_norm_eps=1e300), "'rms_norm_eps' is 1e+300"),
        (setter(rms_norm_eps=0), "'rms_norm_eps' is 0"),
        (setter(rope_theta=1e-60), "'rope_theta' is 1e-60"),
        (setter(rope_theta=1e39), "'rope_theta' is 1e+39"),
        (qsetter(quantization_mode="online"), "model.layers.0.",
         "packed ternary", "'online'", "weight_scale"),
        (setter(partial_rotary_factor=0.5), "partial_rotary_factor is 0.5",
         "RoPE over part of each head"),
    ]
    for i, (edit, *needles) in enumerate(cases):
        st_read_refuses(variant("refused-%d" % i, edit), *needles)
    # bf16 master weights: plain Linear layers without a
    # quantization_config, packed ones expected under offline
    st_read_refuses(variant("master-no-quant", lambda c: c.pop(
        "quantization_config"), master=True), "no quantization_config",
        "plain Linear layer")
    st_read_refuses(variant("master-offline", qsetter(
        quantization_mode="offline"), master=True), "is bf16",
        "'offline'")
    # online quantization is AutoBitLinear's: BitLinear holds packed ones
    st_read_refuses(variant("master-bitlinear", qsetter(
        linear_class="bitlinear"), master=True), "is bf16 under "
        "quantization_config.linear_class 'bitlinear'", "AutoBitLinear")
    # the Llama family: only with BitNet quantization, only its own
    # activation, no biases, RoPE scaling of Llama 3's kind alone
    for i, (edit, *needles) in enumerate([
            (lambda c: c.pop("quantization_config"), "model_type is "
             "'llama' without quantization_config.quant_method 'bitnet'"),
            (setter(hidden_act="relu2"), 'hidden_act is "relu2"',
             "silu only"),
            (setter(mlp_bias=True), "mlp_bias is true"),
            (setter(rope_scaling={"rope_type": "llama3", "factor": 8.0}),
             "rope_scaling", "all four and nothing else"),
            (setter(rope_scaling={"rope_type": "yarn", "factor": 8.0}),
             "rope_scaling", "llama3 alone"),
            (setter(partial_rotary_factor=0.25), "partial_rotary_factor")]):
        st_read_refuses(variant("llama-refused-%d" % i, edit,
                                preset="tiny-llama"), *needles)
    # 1bitLLM's: ternary weights and 8-bit activations only, no scaling
    for i, (edit, *needles) in enumerate([
            (setter(weight_bits=2), "weight_bits is 2", "weight_bits 1"),
            (setter(input_bits=4), "input_bits is 4", "8 bits only"),
            (setter(rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                  "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 64}),
             "rope_scaling", "no scaling")]):
        st_read_refuses(variant("onebit-refused-%d" % i, edit,
                                preset="tiny-1bitllm"), *needles)


@SUITE.test
def listings_show_llama3_rope_scaling():
    """st-read --list shows the RoPE bands the graph computes, in text and
    (as transformers spells rope_scaling) in JSON; null when plain."""
    bands = gf.llama3_bands(64)
    for preset, want in (("tiny-llama3", bands), ("tiny-llama", None)):
        m = base(preset)
        rc, out, err = run([tool("st-read"), "--list", "--json", m])
        assert rc == 0, err
        assert json.loads(out)["config"]["rope_scaling"] == want, preset
        rc, out, err = run([tool("st-read"), "--list", m])
        assert rc == 0, err
        assert (b"rope       llama3: factor 8, low_freq_factor 1, "
                b"high_freq_factor 4, original 64" in out) == bool(want)


@SUITE.test
def a_divisor_scale_must_be_a_normal_float():
    """bitlinear divides by weight_scale: a subnormal one would turn the
    weights into infinities."""
    d = variant("subnormal-scale", lambda c: None, linear_class="bitlinear")
    path = os.path.join(d, "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight_scale"
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        assert header[name]["dtype"] == "BF16"
        f.seek(8 + n + header[name]["data_offsets"][0])
        f.write(struct.pack("<H", 1))  # bf16 9.2e-41, subnormal
    rc, err = sh_status("%s %s | %s > /dev/null" % (tool("st-read"), d,
                                             tool("tern-dequant")))
    assert rc == 1, err
    one_line(err, "q_proj.weight", "weight_scale 9.18", "cannot divide")


def logits(folder, ids):
    """Logits of folder's model: converted with the README pipeline and
    run in onnxruntime."""
    out = os.path.join(TMP, os.path.basename(folder) + ".onnx")
    rc, err = sh_status("%s %s | %s | %s -q -o %s" % (
        tool("st-read"), folder, tool("tern-dequant"), tool("onnx-emit"),
        out))
    assert rc == 0, err
    ref = reference.Reference(folder)
    past = ort_run.empty_past(ref.cfg["num_hidden_layers"], ref.kv, ref.hd)
    feeds = ort_run.feeds(ids, past)
    got = ort_run.run(out, feeds, ["logits"])[0]["logits"]
    want = ref.forward(ids, feeds["attention_mask"], feeds["position_ids"],
                       past)[0]
    return got, want


def rel_err(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@SUITE.test
def implemented_fields_change_the_logits_as_they_say():
    ids = np.array([[3, 17, 99, 5, 42, 7, 150, 11]], np.int64)
    d = variant("rope-parameters", lambda c: (c.pop("rope_theta"), c.update(
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0})))
    got, want = logits(d, ids)
    assert rel_err(got, want) < 1e-4, rel_err(got, want)
    # and the theta is really used: the default one gives other logits
    plain, _ = logits(base(), ids)
    assert rel_err(plain, want) > 1e-3, rel_err(plain, want)
    # a null num_key_value_heads is the head count (BitNetConfig)
    d = variant("kv-null", setter(num_key_value_heads=None),
                preset="tiny-mha")
    got, want = logits(d, ids)
    assert rel_err(got, want) < 1e-4, rel_err(got, want)
    # the Llama family takes LlamaConfig's defaults: theta 10000, eps 1e-6,
    # as many kv heads as heads
    d = variant("llama-defaults", lambda c: [c.pop(k) for k in (
        "rope_theta", "rms_norm_eps")], preset="tiny-llama")
    got, want = logits(d, ids)
    assert rel_err(got, want) < 1e-4, rel_err(got, want)
    ref = reference.Reference(d)
    assert (ref.theta, ref.eps) == (10000.0, np.float32(1e-6))
    # 1bitLLM's saved RoPE frequencies are the ones its layers use: with
    # the config's theta changed, the logits follow the buffers
    d = variant("onebit-buffers", setter(rope_theta=500000.0),
                preset="tiny-1bitllm")
    got, want = logits(d, ids)
    assert rel_err(got, want) < 1e-4, rel_err(got, want)
    d = variant("llama-kv", lambda c: c.pop("num_key_value_heads"),
                preset="tiny-llama")
    p = sh("%s --list --json %s" % (tool("st-read"), d))
    cfg = json.loads(p.stdout)["config"]
    assert (cfg["num_key_value_heads"], cfg["rope_theta"],
            cfg["rms_norm_eps"]) == (4, 500000, 1e-05), cfg
    assert reference.Reference(d).kv == 4


@SUITE.test
def gguf_architecture_bitnet_25_reads_as_bitnet_b158():
    """bitnet.cpp's converter names the architecture bitnet-25 today, its
    loader treats it as bitnet-b1.58: the same file under either name
    gives the same stream."""
    m = base()
    streams = []
    for arch in ("bitnet-b1.58", "bitnet-25"):
        g = os.path.join(TMP, arch + ".gguf")
        gg.write_gguf(m, g, arch=arch)
        p = subprocess.run([tool("gguf-read"), g], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr
        d = os.path.join(TMP, "x-" + arch)
        rc, _, err = run([tool("tstream-info"), "-x", d], p.stdout)
        assert rc == 0, err
        streams.append({f: open(os.path.join(d, f), "rb").read()
                        for f in sorted(os.listdir(d))})
    assert streams[0] == streams[1] and len(streams[0]) > 10
    g = os.path.join(TMP, "bitnet-26.gguf")
    gg.write_gguf(m, g, arch="bitnet-26")
    rc, _, err = run([tool("gguf-read"), g])
    assert rc == 1, err
    one_line(err, "general.architecture is 'bitnet-26'", "'bitnet-25'")


@SUITE.test
def gguf_rope_keys_as_llama_cpp_reads_them():
    m = base()
    plain = os.path.join(TMP, "nofreq.gguf")
    gg.write_gguf(m, plain, drop=("rope.freq_base",))
    p = subprocess.run("%s %s | %s" % (tool("gguf-read"), plain,
                                       tool("tstream-info")), shell=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert b"rope_theta 10000," in p.stdout, p.stdout
    ok = os.path.join(TMP, "ropeok.gguf")
    gg.write_gguf(m, ok, extra=(
        gg.kv(gg.ARCH + ".rope.scaling.type", gg.V_STRING, "none"),
        gg.kv(gg.ARCH + ".rope.dimension_count", gg.V_U32, 16),
        gg.kv(gg.ARCH + ".attention.key_length", gg.V_U32, 16),
        gg.kv(gg.ARCH + ".attention.value_length", gg.V_U32, 16)))
    rc, err = sh_status("%s %s > /dev/null" % (tool("gguf-read"), ok))
    assert rc == 0, err
    for key, vtype, value, needles in (
            ("rope.scaling.type", gg.V_STRING, "longrope",
             ("rope.scaling.type is 'longrope'",)),
            ("rope.dimension_count", gg.V_U32, 8,
             ("rope.dimension_count is 8", "all 16 dimensions")),
            ("attention.key_length", gg.V_U32, 32,
             ("attention.key_length is 32", "= 16 long"))):
        bad = os.path.join(TMP, key + ".gguf")
        gg.write_gguf(m, bad, extra=(gg.kv(gg.ARCH + "." + key, vtype,
                                           value),))
        rc, _, err = run([tool("gguf-read"), bad])
        assert rc == 1, (key, err)
        one_line(err, *needles)


def gguf_refused(src, tag, needles, as_written=False, **kw):
    """gguf-read refuses the GGUF of src written with kw, in one line
    naming the file and the needles, and writes nothing (unless the fault
    is found as_written: the tensors before it have gone out)."""
    g = os.path.join(TMP, tag + ".gguf")
    gg.write_gguf(src, g, **kw)
    rc, out, err = run([tool("gguf-read"), g])
    assert rc == 1 and (as_written or out == b""), (tag, rc, err)
    one_line(err, g, *needles)


def retype(name, typ, data):
    """An edit for write_gguf: tensor name stored as ggml type typ."""
    return lambda ts: [(n, typ if n == name else t, d,
                        data if n == name else b) for n, t, d, b in ts]


@SUITE.test
def gguf_what_each_architecture_refuses():
    """What would change the computation, refused by name: RoPE scaling
    other than plain, llama.cpp's frequency factors, a tensor the family
    does not have, a projection that is neither I2_S nor the float weights
    of a ternary matrix."""
    llama = gf.model_once(os.path.join(TMP, "g-llama"), "tiny-llama-tok", 5)
    onebit = gf.model_once(os.path.join(TMP, "g-1bit"), "tiny-1bitllm-tok", 5)
    q = "blk.0.attn_q.weight"
    cfg, ts = gg.tensors_of(llama, "f32", "f32", "llama")
    f32 = np.frombuffer(next(t[3] for t in ts if t[0] == q), np.float32)
    bad = f32.copy()
    bad[77] = 0.25
    q8 = gg.ggml_blocks.quantize("q8_0", f32.reshape(96, 64))
    sub = [("blk.0.attn_sub_norm.weight", gg.T_F32, [96], bytes(384))]
    for tag, src, kw, needles in (
            ("linear2", onebit, dict(arch="bitnet", extra=(gg.kv(
                "bitnet.rope.scaling.factor", gg.V_F32, 2.0),), drop=(
                "rope.scaling.factor",)), ("bitnet.rope.scaling.factor is 2",
                                           "a factor of 1 alone")),
            ("yarn", llama, dict(arch="llama", extra=(gg.kv(
                "llama.rope.scaling.type", gg.V_STRING, "yarn"),)),
             ("llama.rope.scaling.type is 'yarn'", "not implemented")),
            # llama.cpp scales linearly by a factor without a type, and by
            # the older rope.scale_linear when the factor is absent
            ("factor-alone", llama, dict(arch="llama", extra=(gg.kv(
                "llama.rope.scaling.factor", gg.V_F32, 4.0),)),
             ("llama.rope.scaling.factor is 4", "applies as linear")),
            ("scale-linear", llama, dict(arch="llama", extra=(gg.kv(
                "llama.rope.scale_linear", gg.V_F32, 2.0),)),
             ("llama.rope.scale_linear is 2", "a factor of 1 alone")),
            # its loader takes no default for the norms' epsilon
            ("no-eps", llama, dict(arch="llama", drop=(
                "attention.layer_norm_rms_epsilon",)),
             ("no llama.attention.layer_norm_rms_epsilon",)),
            ("freqs", llama, dict(arch="llama", edit=lambda ts: ts + [(
                "rope_freqs.weight", gg.T_F32, [12], bytes(48))]),
             ("'rope_freqs.weight'", "frequency factors are not "
              "implemented")),
            ("subnorm", llama, dict(arch="llama", edit=lambda ts: ts + sub),
             ("'blk.0.attn_sub_norm.weight' is not one of a llama model",)),
            # a layer number past 32 bits is no layer (not layer 1 again)
            ("layer2to32", llama, dict(arch="llama", edit=lambda ts: [
                (n.replace("blk.1.", "blk.4294967297."), t, d, b)
                for n, t, d, b in ts]),
             ("'blk.4294967297.", "is not one of a llama model")),
            ("q8proj", llama, dict(arch="llama", edit=retype(q, 8, q8)),
             ("'%s' is Q8_0" % q, "I2_S, or the F32, F16 or BF16 weights "
              "of a ternary matrix")),
            ("notternary", llama, dict(arch="llama", proj="f32",
                                       edit=retype(q, gg.T_F32,
                                                   bad.tobytes())),
             ("'%s' (F32) is not ternary: value 77 is 0.25" % q,))):
        gguf_refused(src, tag, needles, as_written=tag == "notternary",
                     **kw)


def emit(folder, out, dequant="", flags=""):
    rc, err = sh_status("%s %s | %s %s | %s -q %s -o %s" % (
        tool("st-read"), folder, tool("tern-dequant"), dequant,
        tool("onnx-emit"), flags, out))
    assert rc == 0, err
    return out


def verify(folder, model, dequant="", select=""):
    return sh_status("%s %s %s | %s %s | %s -q --against - %s" % (
        tool("st-read"), select, folder, tool("tern-dequant"), dequant,
        tool("onnx-verify"), model))


@SUITE.test
def verify_against_checks_the_graph_as_well_as_the_weights():
    m = base()
    for dequant, flags in (("", ""), ("", "--gqa"), ("--to int8", ""),
                           ("--to q2", "--accuracy-level 4"),
                           ("--to q2", "--gqa")):
        out = emit(m, os.path.join(TMP, "good%s%s.onnx" % (
            dequant.replace(" ", ""), flags.replace(" ", ""))), dequant,
            flags)
        rc, err = verify(m, out, dequant)
        assert rc == 0, (dequant, flags, err)
    part = os.path.join(TMP, "layer1.onnx")
    rc, err = sh_status("%s --layers 1 %s | %s | %s -q -o %s" % (
        tool("st-read"), m, tool("tern-dequant"), tool("onnx-emit"), part))
    assert rc == 0, err
    assert verify(m, part, select="--layers 1")[0] == 0
    whole = os.path.join(TMP, "good.onnx")
    # the same weights under another config: a model that computes
    # something else, though every weight is equal
    for name, edit, needle in (
            ("theta", setter(rope_theta=10000.0), "constant 'inv_freq"),
            ("eps", setter(rms_norm_eps=1e-6), "constant 'rms_norm_eps")):
        other = variant("against-" + name, edit)
        rc, err = verify(other, whole)
        assert rc == 1, (name, err)
        one_line(err, needle, "not built from this stream's configuration")
    noq = emit(m, os.path.join(TMP, "noq.onnx"), flags="--no-act-quant")
    rc, err = verify(m, noq)
    assert rc == 1, err
    one_line(err, "not built from this stream's configuration")
    # a part against the whole model is another graph
    rc, err = verify(m, whole, select="--layers 1")
    assert rc == 1, err
    one_line(err, "another part")
    # a selection that makes no part: weights only, and it says so
    p = subprocess.run("%s -t model.norm.weight %s | %s | %s --against - %s"
                       % (tool("st-read"), m, tool("tern-dequant"),
                          tool("onnx-verify"), whole), shell=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    assert b"graph not compared" in p.stdout, p.stdout


if __name__ == "__main__":
    sys.exit(SUITE.main())
