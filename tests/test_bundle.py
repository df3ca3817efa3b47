#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""onnx-emit --bundle: the folder and its tar stream, and greedy text
generation through transformers.js (a client nobody here wrote) equal,
token for token, to the numpy reference's greedy continuation.

Prints 'N passed, N failed' last."""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture  # noqa: E402
from greedy import PROMPTS, clear_prompt, generate  # noqa: E402
from harness import Suite, sh, tool  # noqa: E402
import reference  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bn-bundle-")
SUITE = Suite("bundle", TMP)
# with a tokenizer; then the Llama family (Llama3-8B-1.58's) and 1bitLLM's
CONFIGS = [("tiny-tok", 21), ("tiny-tok-mha", 22), ("tiny-llama-tok", 23),
           ("tiny-1bitllm-tok", 24)]
FORMS = {"fp32": "", "int8": "--to int8", "q2": "--to q2"}


def model_dir(preset, seed):
    return gf.model_once(os.path.join(TMP, "src-%s" % preset), preset, seed)


def bundle_of(reader, path, name, forms=("q2",), flags=""):
    """The bundle folder TMP/name of the model reader (st-read or
    gguf-read) reads from path, with each form in it."""
    out = os.path.join(TMP, name)
    for i, form in enumerate(forms):
        p = sh("%s %s | %s %s | %s -q --bundle %s %s %s" % (
            tool(reader), path, tool("tern-dequant"), FORMS[form],
            tool("onnx-emit"), out, "--force" if i else "", flags))
        assert p.returncode == 0, p.stderr.decode()
    return out


def bundle(preset, seed, forms=("fp32",), name=None, flags=""):
    """A bundle folder of the preset with each form in it."""
    return bundle_of("st-read", model_dir(preset, seed),
                     name or "bundle-%s" % preset, forms, flags)


@SUITE.test
def generation_equals_reference():
    """>= 16 new tokens of greedy generation through transformers.js equal
    the numpy reference's, on a config of each family, in f32, int8 and
    q2, and in q2 with GroupQueryAttention and with the last position's
    logits alone."""
    for preset, seed in CONFIGS:
        folder = bundle(preset, seed, forms=tuple(FORMS))
        ref = reference.Reference(model_dir(preset, seed))
        prompt, want = clear_prompt(ref, folder)
        got = {f: generate(folder, prompt, f) for f in FORMS}
        gqa = bundle(preset, seed, forms=("q2",), name="gqa-" + preset,
                     flags="--gqa")
        got["q2 --gqa"] = generate(gqa, prompt, "q2")
        last = bundle(preset, seed, forms=("q2",), name="last-" + preset,
                      flags="--last-logits")
        got["q2 --last-logits"] = generate(last, prompt, "q2")
        for form, g in got.items():
            assert g["new_ids"] == want, (preset, form, g["new_ids"], want)
        SUITE.report.append("%-8s '%s' -> %d tokens equal in fp32, int8, "
                            "q2, q2 --gqa, q2 --last-logits: %r" % (
                                preset, prompt, len(want),
                                got["fp32"]["text"][:40]))


@SUITE.test
def bundle_holds_the_layout_transformers_js_loads():
    folder = bundle("tiny-tok", 21, forms=("fp32", "q2"), name="layout")
    files = sorted(os.path.relpath(os.path.join(r, f), folder)
                   for r, _, fs in os.walk(folder) for f in fs)
    assert files == ["config.json", "generation_config.json",
                     "onnx/model.onnx", "onnx/model.onnx_data",
                     "onnx/model_q2.onnx", "onnx/model_q2.onnx_data",
                     "special_tokens_map.json", "tokenizer.json",
                     "tokenizer_config.json"], files
    src = model_dir("tiny-tok", 21)
    for f in ("tokenizer.json", "tokenizer_config.json",
              "generation_config.json", "special_tokens_map.json"):
        assert filecmp.cmp(os.path.join(src, f), os.path.join(folder, f),
                           shallow=False), f
    cfg = json.load(open(os.path.join(folder, "config.json")))
    orig = json.load(open(os.path.join(src, "config.json")))
    assert cfg["model_type"] == "llama"
    assert cfg["bitnet_onnx_model_type"] == "bitnet"
    assert cfg["transformers.js_config"]["use_external_data_format"] == {
        "model.onnx": 1, "model_q2.onnx": 1}
    for k, v in orig.items():
        if k != "model_type":
            assert cfg[k] == v, k


@SUITE.test
def split_data_bundle_generates():
    """--split-data cuts the external data into files of at most that
    size, named as transformers.js fetches them (model.onnx_data,
    model.onnx_data_1, ...), their count in config.json; the bundle
    generates what the one-file bundle does.  Rewritten with fewer files,
    the old files past the new count are gone."""
    folder = bundle("tiny-tok", 21, name="split", flags="--split-data 64k")
    data = sorted(f for f in os.listdir(os.path.join(folder, "onnx"))
                  if "_data" in f)
    n = len(data)
    assert n >= 4, data
    assert data == sorted(["model.onnx_data"] + ["model.onnx_data_%d" % i
                                                 for i in range(1, n)])
    for f in data:
        size = os.path.getsize(os.path.join(folder, "onnx", f))
        assert 0 < size <= 64 * 1024 or f == data[0], (f, size)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    assert cfg["transformers.js_config"]["use_external_data_format"] == {
        "model.onnx": n}
    whole = bundle("tiny-tok", 21, name="whole")
    a = generate(folder, PROMPTS[0], "fp32", 8)
    b = generate(whole, PROMPTS[0], "fp32", 8)
    assert a["new_ids"] == b["new_ids"] and a["text"] == b["text"], (a, b)
    bundle_of("st-read", model_dir("tiny-tok", 21), "split", ("fp32",),
              "--force")
    assert sorted(f for f in os.listdir(os.path.join(folder, "onnx"))
                  if "_data" in f) == ["model.onnx_data"]
    p = sh("%s %s | %s | %s --bundle %s --external-data" % (
        tool("st-read"), model_dir("tiny-tok", 21), tool("tern-dequant"),
        tool("onnx-emit"), os.path.join(TMP, "never")))
    assert p.returncode == 2 and b"always external data" in p.stderr, p
    assert not os.path.exists(os.path.join(TMP, "never"))


@SUITE.test
def tar_stream_unpacks_to_the_folder():
    folder = bundle("tiny-tok", 21, forms=("q2",), name="for-tar")
    tmpdir = os.path.join(TMP, "tmpdir")
    os.makedirs(tmpdir, exist_ok=True)
    out = os.path.join(TMP, "untarred")
    os.makedirs(out)
    p = sh("%s %s | %s --to q2 | TMPDIR=%s %s -q --bundle - | tar -x -C %s"
           % (tool("st-read"), model_dir("tiny-tok", 21),
              tool("tern-dequant"), tmpdir, tool("onnx-emit"), out))
    assert p.returncode == 0, p.stderr
    cmp = filecmp.dircmp(folder, out)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    for f in os.listdir(os.path.join(folder, "onnx")):
        assert filecmp.cmp(os.path.join(folder, "onnx", f),
                           os.path.join(out, "onnx", f), shallow=False)
    assert os.listdir(tmpdir) == []  # the temporary folder is gone
    g = generate(out, PROMPTS[0], "q2", 4)
    assert len(g["new_ids"]) == 4


@SUITE.test
def tar_stream_to_a_reader_that_stops():
    tmpdir = os.path.join(TMP, "tmpdir-pipe")
    os.makedirs(tmpdir)
    p = sh("set -o pipefail; %s %s | %s | TMPDIR=%s %s -q --bundle - | "
           "head -c 1000 > /dev/null" % (
               tool("st-read"), model_dir("tiny-tok", 21),
               tool("tern-dequant"), tmpdir, tool("onnx-emit")),
           executable="/bin/bash")
    assert p.returncode == 141, (p.returncode, p.stderr)
    assert p.stderr == b"", p.stderr
    assert os.listdir(tmpdir) == []


@SUITE.test
def existing_bundle_is_not_overwritten():
    folder = bundle("tiny-tok", 21, name="twice")
    before = {f: open(os.path.join(folder, f), "rb").read()
              for f in ("config.json", "onnx/model.onnx")}
    for form in ("fp32", "q2"):
        p = sh("%s %s | %s %s | %s --bundle %s" % (
            tool("st-read"), model_dir("tiny-tok", 21), tool("tern-dequant"),
            FORMS[form], tool("onnx-emit"), folder))
        assert p.returncode == 2, p.stderr
        assert b"exists; --force overwrites" in p.stderr, p.stderr
        assert p.stderr.count(b"\n") == 1
    for f, data in before.items():
        assert open(os.path.join(folder, f), "rb").read() == data
    assert not os.path.exists(os.path.join(folder, "onnx", "model_q2.onnx"))


@SUITE.test
def bundle_usage_errors():
    src = model_dir("tiny-tok", 21)
    for flags, needle in (("--bundle x -o y", b"give one"),
                          ("--force", b"--force goes with --bundle")):
        p = sh("%s %s | %s | %s %s" % (tool("st-read"), src,
                                       tool("tern-dequant"),
                                       tool("onnx-emit"), flags))
        assert p.returncode == 2 and needle in p.stderr, (flags, p.stderr)
    p = sh("%s %s | %s | %s --bundle /nonexistent/dir/x" % (
        tool("st-read"), src, tool("tern-dequant"), tool("onnx-emit")))
    assert p.returncode == 3 and b"/nonexistent/dir/x" in p.stderr, p.stderr


TOKENIZE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tjs",
                        "tokenize.mjs")
# texts that exercise each part of a split pattern: contractions, digit
# runs, punctuation runs, newlines, spaces, letters outside ASCII
TEXTS = ["Once upon a time", "It's 2026: 1234567 tokens, isn't it?!",
         "  two  spaces\n\nand lines\r\n", "caf\u00e9 na\u00efve \u00fcber",
         "x<|end_of_text|>y", "((a+b)*c) -> d;;"]


def tokenize(folder, texts=TEXTS):
    p = subprocess.run(["node", TOKENIZE, folder, json.dumps(texts)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def gguf_bundle(src, name):
    """A bundle of src's model read back from a GGUF of it."""
    g = os.path.join(TMP, name + ".gguf")
    gguf_fixture.write_gguf(src, g)
    return bundle_of("gguf-read", g, name)


def llama3_style(src, dst):
    """A copy of src whose tokenizer.json is laid out as Llama 3's (its
    split pattern before byte-level symbols, whole vocabulary words before
    merges, a BOS before each sequence), with src's vocabulary."""
    shutil.copytree(src, dst)
    path = os.path.join(dst, "tokenizer.json")
    with open(path) as f:
        tok = json.load(f)
    bos = tok["added_tokens"][-2]["content"]
    bos_id = tok["added_tokens"][-2]["id"]
    level = {"type": "ByteLevel", "add_prefix_space": False,
             "trim_offsets": True, "use_regex": False}
    tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": (
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
            r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
            r"\s+(?!\S)|\s+")}, "behavior": "Isolated", "invert": False},
        level]}

    def ref(type_id):
        return {"SpecialToken": {"id": bos, "type_id": type_id}}

    def seq(x, type_id):
        return {"Sequence": {"id": x, "type_id": type_id}}
    tok["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True,
         "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing", "single": [ref(0), seq("A", 0)],
         "pair": [ref(0), seq("A", 0), ref(1), seq("B", 1)],
         "special_tokens": {bos: {"id": bos, "ids": [bos_id],
                                  "tokens": [bos]}}}]}
    tok["model"]["ignore_merges"] = True
    with open(path, "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    path = os.path.join(dst, "tokenizer_config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["add_bos_token"] = True
    with open(path, "w") as f:
        json.dump(cfg, f)
    return dst


@SUITE.test
def a_gguf_tokenizer_becomes_tokenizer_json():
    """gguf-read turns llama.cpp's byte-level BPE metadata back into
    tokenizer.json and tokenizer_config.json, so a bundle made from GGUF
    alone runs in transformers.js: GPT-2's pre-tokenizer gives the
    original tokenizer.json exactly and the same greedy generation;
    Llama 3's (llama-bpe: its split pattern, whole words first, a BOS)
    tokenizes every text as the original does; a pre-tokenizer not
    converted leaves the bundle without one."""
    src = model_dir("tiny-tok", 21)
    hf = bundle("tiny-tok", 21, forms=("q2",), name="hf-tok")
    out = gguf_bundle(src, "gguf-tok")
    with open(os.path.join(out, "tokenizer.json")) as a, \
            open(os.path.join(src, "tokenizer.json")) as b:
        assert json.load(a) == json.load(b)
    prompt = PROMPTS[1]
    got, want = generate(out, prompt, "q2"), generate(hf, prompt, "q2")
    assert (got["prompt_ids"], got["new_ids"]) == (want["prompt_ids"],
                                                   want["new_ids"])
    l3 = llama3_style(src, os.path.join(TMP, "src-llama3-tok"))
    want = tokenize(bundle_of("st-read", l3, "hf-l3"))
    got = tokenize(gguf_bundle(l3, "gguf-l3"))
    assert got == want, (got, want)
    with open(os.path.join(l3, "tokenizer.json")) as f:
        bos = json.load(f)["added_tokens"][-2]["id"]
    assert all(t["ids"][0] == bos for t in got), got
    with open(os.path.join(TMP, "gguf-l3", "tokenizer_config.json")) as f:
        assert json.load(f)["add_bos_token"] is True
    # a pre-tokenizer whose pattern is not known here: no tokenizer.json
    with open(os.path.join(TMP, "gguf-tok.gguf"), "rb") as f:
        blob = f.read()
    g = os.path.join(TMP, "other-pre.gguf")
    with open(g, "wb") as f:
        f.write(blob.replace(b"\x05\0\0\0\0\0\0\0gpt-2",
                             b"\x05\0\0\0\0\0\0\0gpt-9", 1))
    p = sh("%s --list %s" % (tool("gguf-read"), g))
    assert p.returncode == 0, p.stderr
    assert b"tokenizer.gguf.json" in p.stdout
    assert b"tokenizer.json" not in p.stdout, p.stdout
    # and onnx-emit says when a bundle is left without a tokenizer.json
    for path, note in ((g, True), (os.path.join(TMP, "gguf-tok.gguf"),
                                   False)):
        d = os.path.join(TMP, "note-%s" % note)
        p = sh("%s %s | %s | %s --bundle %s" % (
            tool("gguf-read"), path, tool("tern-dequant"),
            tool("onnx-emit"), d))
        assert p.returncode == 0, p.stderr
        assert (b"note: the bundle has no tokenizer.json" in p.stderr) \
            == note, p.stderr


if __name__ == "__main__":
    sys.exit(SUITE.main())
