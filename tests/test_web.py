#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""In the browser: every bundle form runs in transformers.js as it ships
(its own browser build, onnxruntime-web's asyncify wasm inside), in
Debian's headless chromium, from the page of tests/web served on the
loopback address, and generates the same greedy tokens as in Node.

f32, int8, q2, q2 --gqa and an external-data f32 bundle run on device
wasm; 20 tokens of a prompt whose greedy choices float32 noise cannot
flip must equal Node's (and the numpy reference's).  A q2 bundle with
the 8-bit table (--embed q8) runs there too, its first ten tokens Node's.  Device webgpu is
tried and reported: headless chromium offers SwiftShader at best, which
has no float16 shaders.  A screenshot of the page is written to
$WEB_SHOT (default build/web/page.png).

Prints 'web: N passed, N failed' last."""
import json
import os
import subprocess
import sys
import tempfile

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
    "tok-ext": [("fp32", "", "--external-data")],
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
    os.makedirs(os.path.dirname(SHOT), exist_ok=True)
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    with Server(list(folders.values())) as s:
        got = browse(s.url, runs, SHOT)
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
    with open(SHOT, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    SUITE.report.append("web: screenshot of the page in %s" % SHOT)


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


@SUITE.test
def webgpu_is_tried_and_reported():
    folders = bundles()
    prompt = chosen_prompt()[0]
    runs = [{"model": m, "dtype": dt, "device": "webgpu", "prompt": prompt,
             "max": 8} for m, dt in (("tok", "fp32"), ("tok-e32", "q2"),
                                     ("tok", "q2"))]
    with Server(list(folders.values())) as s:
        got = browse(s.url, runs)
    for r in got:
        if "error" in r:
            SUITE.report.append("web: %s %s webgpu (adapter %s): not run: %s"
                                % (r["model"], r["dtype"], r["adapter"],
                                   r["error"][:120]))
        else:
            want = generate(folders[r["model"]], prompt, r["dtype"], 8)
            assert r["new_ids"] == want["new_ids"], (r, want)
            SUITE.report.append("web: %s %s webgpu (adapter %s): %d tokens "
                                "equal to Node, %.1f tokens/s" % (
                                    r["model"], r["dtype"], r["adapter"],
                                    len(r["new_ids"]), r["tokens_per_s"]))


if __name__ == "__main__":
    sys.exit(SUITE.main())
