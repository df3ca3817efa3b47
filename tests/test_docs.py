#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The documentation cannot rot: every command of every EXAMPLES section of
the man pages runs on a fixture (and where a page shows output, it must
match), and every tool's --help names the same options as its page.

Prints 'docs: N passed, N failed' last."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture  # noqa: E402
from harness import BIN, Suite, tool  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN = os.path.join(ROOT, "man")
TMP = tempfile.mkdtemp(prefix="bn-docs-")
SUITE = Suite("docs", TMP)
PAGES = ["st-read.1", "gguf-read.1", "tern-dequant.1", "tstream-info.1",
         "tstream.5", "onnx-emit.1", "onnx-verify.1", "bitnet-onnx.7"]
TOOLS = ["st-read", "tern-dequant", "tstream-info", "onnx-emit",
         "onnx-verify", "gguf-read"]
EIGHT_LAYERS = dict(hidden_size=64, num_hidden_layers=8,
                    num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=96, vocab_size=200)


def unescape(line):
    return line.replace("\\e", "\\").replace("\\-", "-").replace("\\(aq",
                                                                  "'")


def examples(page):
    """[(command, expected output lines or None)] of the EXAMPLES section."""
    with open(os.path.join(MAN, page)) as f:
        text = f.read()
    m = re.search(r"^\.Sh EXAMPLES\n(.*?)(?=^\.Sh )", text, re.S | re.M)
    assert m, page + " has no EXAMPLES"
    out, literal = [], False
    for line in m.group(1).splitlines():
        if line.startswith(".Bd -literal"):
            literal = True
        elif line.startswith(".Ed"):
            literal = False
        elif line.startswith(".Dl $ "):
            out.append((unescape(line[len(".Dl $ "):]), None))
        elif literal and line.startswith("$ "):
            out.append((unescape(line[2:]), []))
        elif literal and out and out[-1][1] is not None:
            out[-1][1].append(unescape(line))
    return out


def workspace():
    """A folder where the pages' names exist: model/ (8 layers),
    bitnet-b1.58-2B-4T/, Llama3-8B-1.58/ (a llama GGUF), a sharded index, weights.safetensors with
    conf/config.json, model.tar.zst, packed.tstream, model.tstream,
    model.onnx."""
    ws = os.path.join(TMP, "ws")
    if os.path.exists(ws):
        return ws
    gf.write_model(os.path.join(ws, "model"), EIGHT_LAYERS, 5, truth=False)
    gf.write_model(ws, EIGHT_LAYERS, 5, shards=2, truth=False)
    os.symlink("model", os.path.join(ws, "bitnet-b1.58-2B-4T"))
    shutil.copy(os.path.join(ws, "model", "model.safetensors"),
                os.path.join(ws, "weights.safetensors"))
    os.makedirs(os.path.join(ws, "conf"))
    shutil.copy(os.path.join(ws, "model", "config.json"),
                os.path.join(ws, "conf", "config.json"))
    gguf_fixture.write_gguf(os.path.join(ws, "model"),
                            os.path.join(ws, "ggml-model-i2_s.gguf"))
    gf.write_model(os.path.join(TMP, "llama"), gf.PRESETS["tiny-llama-tok"],
                   5, truth=False)
    os.makedirs(os.path.join(ws, "Llama3-8B-1.58"))
    gguf_fixture.write_gguf(os.path.join(TMP, "llama"), os.path.join(
        ws, "Llama3-8B-1.58", "ggml-model-i2_s.gguf"), arch="llama")
    for cmd in ("st-read model/ > packed.tstream",
                "tar -C model -cf - config.json model.safetensors "
                "tokenizer_config.json | zstd -q > model.tar.zst",
                "tern-dequant packed.tstream > model.tstream",
                "onnx-emit -q model.tstream > model.onnx"):
        assert shell(cmd, ws).returncode == 0, cmd
    return ws


def shell(cmd, cwd):
    env = dict(os.environ, PATH=BIN + ":/usr/bin:/bin")
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd,
                          env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


@SUITE.test
def every_example_runs():
    ws = workspace()
    count = 0
    for page in PAGES:
        for cmd, want in examples(page):
            p = shell(cmd, ws)
            assert p.returncode == 0, (page, cmd, p.stderr.decode())
            if want:
                got = p.stdout.decode().splitlines()
                assert got == want, (page, cmd, got, want)
            count += 1
    assert count >= 25, count
    SUITE.report.append("docs: %d example commands from %d pages ran" % (
        count, len(PAGES)))


def long_options(text, pattern):
    return set(re.findall(pattern, text, re.M))


@SUITE.test
def help_names_the_options_of_the_page():
    for t in TOOLS:
        p = subprocess.run([tool(t), "--help"], stdout=subprocess.PIPE)
        assert p.returncode == 0
        helped = long_options(p.stdout.decode(), r"--([a-z][a-z-]+)")
        with open(os.path.join(MAN, t + ".1")) as f:
            page = f.read()
        documented = long_options(page, r"^\.It (?:Fl \S+(?: Ar \S+)? , )?"
                                  r"Fl Fl ([a-z][a-z-]+)")
        assert helped == documented, (t, sorted(helped ^ documented))


if __name__ == "__main__":
    sys.exit(SUITE.main())
