#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""In the browser: every bundle form runs in transformers.js as it ships
(its own browser build, onnxruntime-web's asyncify wasm inside), in
Debian's headless chromium, from the page of tests/web served on the
loopback address, and generates the same greedy tokens as in Node.

f32, int8, q2, q2 --gqa and a split-data f32 bundle run on device wasm;
20 tokens of a prompt whose greedy choices float32 noise cannot flip
must equal Node's (and the numpy reference's).  The 8-bit table (--embed
q8) runs there too, its first ten tokens Node's, the 4-bit ones (q4,
q4-256) on wasm and webgpu the trained model's first eight, and the
trained model with the int8 table (--embed int8, the form bundles name for wasm) writes
Node's text.  On device webgpu
(SwiftShader here, without float16) every heavy node runs on the GPU,
and the trained model's text in q2 equals its fp32 form's.  The page
lists the served bundles, reports its progress and streams the text; a
screenshot of it is written to $WEB_SHOT (default build/web/page.png).

Prints 'web: N passed, N failed' last."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
from greedy import clear_prompt, generate  # noqa: E402
from harness import Suite, tool  # noqa: E402
import reference  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TMP = tempfile.mkdtemp(prefix="bn-web-")
SUITE = Suite("web", TMP)
SHOT = os.environ.get("WEB_SHOT", os.path.join(ROOT, "build", "web",
                                               "page.png"))
PRESET, SEED = "tiny-tok", 21
# bundle name -> (tern-dequant options, onnx-emit options) of each form
BUNDLES = {
    "tok": [("fp32", "", ""), ("int8", "--to int8", ""),
            ("q2", "--to q2", "")],
    "tok-gqa": [("q2", "--to q2", "--gqa")],
    "tok-ext": [("fp32", "", "--split-data 8k")],
    "tok-e32": [("q2", "--to q2 --embed f32", "")],
}


def source():
    d = os.path.join(TMP, "src")
    if not os.path.exists(d):
        gf.write_model(d, gf.PRESETS[PRESET], SEED)
    return d


def bundles():
    for name, forms in BUNDLES.items():
        out = os.path.join(TMP, name)
        if os.path.exists(out):
            continue
        for i, (_, dq, emit) in enumerate(forms):
            p = subprocess.run("%s %s | %s %s | %s -q --bundle %s %s %s" % (
                tool("st-read"), source(), tool("tern-dequant"), dq,
                tool("onnx-emit"), out, "--force" if i else "", emit),
                shell=True, stderr=subprocess.PIPE)
            assert p.returncode == 0, p.stderr
    return {n: os.path.join(TMP, n) for n in BUNDLES}


class Server:
    """tests/web/serve.mjs on a free loopback port, for a with-block."""

    def __init__(self, folders):
        self.p = subprocess.Popen(
            ["node", os.path.join(HERE, "web", "serve.mjs")] + folders,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.url = self.p.stdout.readline().decode().strip()
        assert self.url.startswith("http://127.0.0.1:"), (
            self.url, self.p.stderr.read())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.terminate()
        self.p.wait(10)
        self.p.stdout.close()
        self.p.stderr.close()


def browse(url, runs, shot=None):
    """One JSON result per run from tests/web/browser.mjs."""
    argv = ["node", os.path.join(HERE, "web", "browser.mjs"), url,
            json.dumps(runs)] + ([shot] if shot else [])
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=900)
    assert p.returncode == 0, p.stderr.decode()
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def chosen_prompt():
    """A prompt whose greedy tokens float32 noise cannot flip, and the
    reference's tokens for it."""
    if not hasattr(chosen_prompt, "value"):
        ref = reference.Reference(source())
        chosen_prompt.value = clear_prompt(ref, bundles()["tok"])
    return chosen_prompt.value


@SUITE.test
def every_form_generates_in_chromium_as_in_node():
    folders = bundles()
    prompt, want = chosen_prompt()
    runs = [{"model": name, "dtype": dtype, "device": "wasm",
             "prompt": prompt, "max": 20}
            for name, forms in BUNDLES.items() for dtype, _, _ in forms]
    node = {(r["model"], r["dtype"]): generate(
        folders[r["model"]], prompt, r["dtype"])["new_ids"] for r in runs}
    with Server(list(folders.values())) as s:
        got = browse(s.url, runs)
    assert len(got) == len(runs), got
    for r in got:
        key = (r["model"], r["dtype"])
        assert "error" not in r, r
        assert r["new_ids"] == node[key] == want, (key, r["new_ids"],
                                                   node[key], want)
        SUITE.report.append("web: %-8s %-5s wasm: %2d tokens equal to Node "
                            "and the reference, %.0f tokens/s" % (
                                key[0], key[1], len(r["new_ids"]),
                                r["tokens_per_s"]))


def q2_bundle(name, embed):
    """A q2 bundle of the source, its embedding stored as --embed says."""
    out = os.path.join(TMP, name)
    p = subprocess.run("%s %s | %s --to q2 --embed %s | %s -q --bundle %s"
                       % (tool("st-read"), source(), tool("tern-dequant"),
                          embed, tool("onnx-emit"), out), shell=True,
                       stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    return out


@SUITE.test
def a_bfloat16_embedding_is_what_the_browser_build_cannot_cast():
    """The reason compact bundles store their embedding as float16: kept
    as bf16 it fails to load in transformers.js's browser build."""
    out = q2_bundle("tok-keep", "keep")
    with Server([out]) as s:
        (r,) = browse(s.url, [{"model": "tok-keep", "dtype": "q2",
                               "device": "wasm", "max": 4}])
    assert "Could not find an implementation for Cast" in r.get("error", ""), r


@SUITE.test
def an_8bit_table_runs_in_chromium():
    """--embed q8 loads and runs in onnxruntime-web's wasm build (its
    embedding gathered with standard operators, since onnxruntime-web has
    no GatherBlockQuantized; its head an 8-bit MatMulNBits).  The 8-bit
    head rounds its activations to int8 per block in both runtimes, so
    near-ties may go either way after a while: the first ten greedy tokens
    must be Node's (a wrong gather or head differs from the first)."""
    out = q2_bundle("tok-q8", "q8")
    prompt = chosen_prompt()[0]
    want = generate(out, prompt, "q2")["new_ids"]
    with Server([out]) as s:
        (r,) = browse(s.url, [{"model": "tok-q8", "dtype": "q2",
                               "device": "wasm", "prompt": prompt,
                               "max": 20}])
    assert "error" not in r, r
    same = next((i for i, (a, b) in enumerate(zip(r["new_ids"], want))
                 if a != b), min(len(want), len(r["new_ids"])))
    assert same >= 10, (r["new_ids"], want)
    SUITE.report.append("web: tok-q8   q2    wasm: the first %d of %d "
                        "tokens equal to Node's (an 8-bit table), %.0f "
                        "tokens/s" % (same, len(want), r["tokens_per_s"]))


# The trained model of the tests, whose greedy text float32 noise does not
# move, as a bundle of the forms WebGPU and WebAssembly take (fp32, q2
# with the 8-bit table, int8 with the int8 table) and q2 with a float32
# table (exact, for SwiftShader, which has no float16).
KJV = os.path.join(ROOT, "tests", "models", "bitnet-kjv")
KJV_PROMPT, KJV_NEW = "And God said", 12


def kjv_bundles():
    forms = {"kjv": ["", "--to q2 --embed q8", "--to int8 --embed int8"],
             "kjv-e32": ["--to q2 --embed f32"]}
    for name, dqs in forms.items():
        out = os.path.join(TMP, name)
        if os.path.exists(out):
            continue
        for i, dq in enumerate(dqs):
            p = subprocess.run("%s %s | %s %s | %s -q --bundle %s %s" % (
                tool("st-read"), KJV, tool("tern-dequant"), dq,
                tool("onnx-emit"), out, "--force" if i else ""), shell=True,
                stderr=subprocess.PIPE)
            assert p.returncode == 0, p.stderr
    return [os.path.join(TMP, n) for n in forms]


# What onnxruntime may leave on its CPU provider beside WebGPU: the
# int64 arithmetic of shapes, positions and the padding mask.
SHAPE_OPS = {"Shape", "Concat", "Cast", "Gather", "Sub", "Add", "Range",
             "Unsqueeze", "LessOrEqual", "Reshape", "Slice", "ReduceSum",
             "Equal", "Where", "And", "Less", "GreaterOrEqual"}


def check_placement(model, cpu_nodes):
    """Every node onnxruntime put on the CPU is one of the shape nodes,
    reads no weight, and their number does not grow with the layers."""
    import onnx
    m = onnx.load(model, load_external_data=False)
    weights = {i.name for i in m.graph.initializer
               if i.name.startswith(("model.", "lm_head."))}
    nodes = {n.name: n for n in m.graph.node}
    assert 0 < len(cpu_nodes) <= 20, cpu_nodes
    for op, name in cpu_nodes:
        n = nodes[name]
        assert op == n.op_type and op in SHAPE_OPS, (op, name)
        assert not weights & set(n.input), (op, name, list(n.input))


@SUITE.test
def webgpu_runs_every_heavy_node_and_generates():
    """On device webgpu (headless chromium offers SwiftShader, a CPU
    emulation without float16): onnxruntime places every node but the
    shape arithmetic on the GPU (the activation rounding is an Add and a
    Sub, which its WebGPU provider has, Round being one it lacks; the
    2-bit projections and the 8-bit head are MatMulNBits there); the
    trained model's greedy text in q2 with a float32 table equals the
    fp32 form's on the same device (and its first eight tokens Node's);
    the form the bundle names
    for webgpu (q2 with the 8-bit table) is the one device "auto" takes
    there, and its first eight tokens are Node's."""
    kjv, e32 = kjv_bundles()
    want = generate(kjv, KJV_PROMPT, "fp32", KJV_NEW)["new_ids"]
    want_q8 = generate(kjv, KJV_PROMPT, "q2", KJV_NEW)["new_ids"]
    runs = [{"model": "kjv", "dtype": "fp32", "device": "webgpu"},
            {"model": "kjv-e32", "dtype": "q2", "device": "webgpu",
             "verbose": 1},
            {"model": "kjv", "dtype": "auto", "device": "auto",
             "verbose": 1}]
    for r in runs:
        r.update(prompt=KJV_PROMPT, max=KJV_NEW)
    with Server([kjv, e32]) as s:
        got = browse(s.url, runs)
    for r in got:
        assert "error" not in r, r
        assert r["device"] == "webgpu" and "swiftshader" in r["adapter"], r
    fp32, q2, auto = got
    # the same device, the same text; Node's float32 sums in another
    # order, and the trained model has a near-tie at token 12
    assert fp32["new_ids"] == q2["new_ids"], (fp32, q2)
    assert fp32["new_ids"][:8] == want[:8], (fp32["new_ids"], want)
    assert auto["dtype"] == "q2", auto
    assert auto["new_ids"][:8] == want_q8[:8], (auto["new_ids"], want_q8)
    check_placement(os.path.join(e32, "onnx", "model_q2.onnx"),
                    q2["cpu_nodes"])
    check_placement(os.path.join(kjv, "onnx", "model_q2.onnx"),
                    auto["cpu_nodes"])
    for r in got:
        SUITE.report.append("web: %-8s %-5s webgpu (%s): %s, %.2f tokens/s, "
                            "%d nodes on the CPU" % (
                                r["model"], r["dtype"], r["adapter"],
                                r["text"][:40].strip(), r["decode_tok_s"],
                                len(r.get("cpu_nodes", []))))


@SUITE.test
def a_4bit_table_runs_on_wasm_and_webgpu():
    """The smallest bundle, q2 with the 4-bit table (--embed q4, blocks of
    32, and q4-256): its nibbles unpacked with standard operators and its
    head a 4-bit MatMulNBits, both of which onnxruntime-web has on wasm
    and on WebGPU, where every node but the shape arithmetic runs on the
    GPU; on both devices the trained model's first eight greedy tokens
    are Node's (the head rounds its activations per block, as the 8-bit
    one does, so a near-tie later may go either way)."""
    folders = {}
    for name, embed in (("kjv-q4", "q4"), ("kjv-q4w", "q4-256")):
        folders[name] = os.path.join(TMP, name)
        if not os.path.exists(folders[name]):
            p = subprocess.run("%s %s | %s --to q2 --embed %s | %s -q "
                               "--bundle %s" % (
                                   tool("st-read"), KJV, tool("tern-dequant"),
                                   embed, tool("onnx-emit"), folders[name]),
                               shell=True, stderr=subprocess.PIPE)
            assert p.returncode == 0, p.stderr
    want = {n: generate(f, KJV_PROMPT, "q2", KJV_NEW)["new_ids"]
            for n, f in folders.items()}
    runs = [{"model": n, "dtype": "q2", "device": dev, "prompt": KJV_PROMPT,
             "max": KJV_NEW, "verbose": int(dev == "webgpu")}
            for n in folders for dev in ("wasm", "webgpu")]
    with Server(list(folders.values())) as s:
        got = browse(s.url, runs)
    assert len(got) == len(runs), got
    for r in got:
        assert "error" not in r and r["device"] in ("wasm", "webgpu"), r
        ids, node = r["new_ids"], want[r["model"]]
        same = next((i for i, (a, b) in enumerate(zip(ids, node)) if a != b),
                    min(len(ids), len(node)))
        assert same >= 8, (r["model"], r["device"], ids, node)
        if r["device"] == "webgpu":
            assert "swiftshader" in r["adapter"], r
            check_placement(os.path.join(folders[r["model"]], "onnx",
                                         "model_q2.onnx"), r["cpu_nodes"])
        SUITE.report.append("web: %-8s q2    %s: the first %d of %d tokens "
                            "equal to Node's (a 4-bit table), %.2f tokens/s"
                            % (r["model"], r["device"], same, len(node),
                               r["decode_tok_s"]))


@SUITE.test
def the_page_lists_bundles_shows_progress_and_streams():
    """The page a person uses: the bundles the server holds, by
    /models/index.json, with their forms and the device choices of their
    config.json; downloading reported as it goes, then the session; the
    form the bundle names for WebAssembly taken by default there; the
    text as generated, with its rate; and a screenshot of it."""
    kjv, e32 = kjv_bundles()
    with Server([kjv, e32]) as s:
        with urllib.request.urlopen(s.url + "models/index.json") as f:
            listed = json.load(f)
        os.makedirs(os.path.dirname(SHOT), exist_ok=True)
        if os.path.exists(SHOT):
            os.unlink(SHOT)
        (r,) = browse(s.url, [{"model": "kjv", "device": "wasm",
                               "dtype": "auto", "prompt": KJV_PROMPT,
                               "max": 24}], SHOT)
    assert [b["name"] for b in listed] == ["kjv", "kjv-e32"], listed
    assert sorted(listed[0]["forms"]) == ["fp32", "int8", "q2"], listed
    assert listed[0]["devices"] == {"wasm": {"dtype": "int8"},
                                    "webgpu": {"dtype": "q2"}}, listed
    # the int8 table's head rounds its input to 7 bits: the trained model,
    # not a random one, has the margins to keep Node's greedy text
    assert "error" not in r and r["dtype"] == "int8", r
    size = sum(os.path.getsize(os.path.join(kjv, "onnx", f))
               for f in os.listdir(os.path.join(kjv, "onnx"))
               if f.startswith("model_int8.onnx"))
    assert r["progress_events"] > 0 and r["downloaded_mb"] * 1e6 >= size, r
    assert r["decode_tok_s"] > 0 and len(r["new_ids"]) == 24, r
    want = generate(kjv, KJV_PROMPT, "int8", 24)
    assert r["text"] == want["text"], (r["text"], want["text"])
    with open(SHOT, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    SUITE.report.append("web: the page: '%s%s', %.0f tokens/s (int8, wasm); "
                        "screenshot in %s" % (KJV_PROMPT, r["text"][:50],
                                              r["decode_tok_s"], SHOT))


if __name__ == "__main__":
    sys.exit(SUITE.main())
