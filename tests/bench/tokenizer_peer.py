#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Our SentencePiece tokenizer.json beside bitnet.cpp's own tokenizer: for
a GGUF of LLaMA-2's vocabulary and one spm_train learns, the ids
transformers.js gives each text of the tokenizer tests' corpus through the
bundle gguf-read made, and the ids bitnet.cpp's llama-cli prints for it
(--verbose-prompt, special tokens parsed).  Not part of make check: it
needs a bitnet.cpp.

    tokenizer_peer.py PEER_RUN [N]

PEER_RUN is bitnet.cpp's tool runner ('run llama-cli ...'); N limits the
texts compared (default: all 3000; the vocabulary is learnt from all).  Prints, per vocabulary, how many texts differ.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(HERE, "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture  # noqa: E402
import spm_vocab  # noqa: E402
import tok_corpus  # noqa: E402

BIN = os.environ.get("BIN", os.path.join(HERE, "..", "bin"))
LLAMA2 = os.path.join(HERE, "tok", "node_modules", "@lenml",
                      "tokenizer-llama2", "models", "tokenizer.json")


def bundle(tmp, name, preset, records):
    src = gf.model_once(os.path.join(tmp, "src-" + preset), preset, 28)
    g = os.path.join(tmp, name + ".gguf")
    gguf_fixture.write_gguf(src, g, arch="bitnet", tokenizer=records)
    out = os.path.join(tmp, name)
    subprocess.run("%s/gguf-read -q %s | %s/tern-dequant | %s/onnx-emit -q "
                   "--bundle %s" % (BIN, g, BIN, BIN, out), shell=True,
                   check=True)
    return g, out


def peer_ids(run, gguf, text):
    p = subprocess.run([run, "llama-cli", "-m", gguf, "-p", text, "-n", "1",
                        "--verbose-prompt", "-t", "1", "--temp", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace")
    head, sep, rest = out.partition("number of tokens in prompt = ")
    if not sep:
        raise RuntimeError("llama-cli printed no prompt tokens: " +
                           out[-400:])
    n = int(rest.split("\n", 1)[0])
    return [int(x) for x in re.findall(r"^\s*(\d+) -> ", rest, re.M)][:n]


def compare(run, gguf, folder, texts, path):
    p = subprocess.run(["node", os.path.join(HERE, "tjs", "tokenize.mjs"),
                        folder, "@" + path], stdout=subprocess.PIPE,
                       check=True)
    ours = json.loads(p.stdout)
    differ = [i for i, t in enumerate(texts)
              if t and peer_ids(run, gguf, t) != ours[i]["ids"]]
    return differ


def main():
    run = sys.argv[1]
    corpus = tok_corpus.texts()
    texts = corpus[:int(sys.argv[2])] if len(sys.argv) > 2 else corpus
    tmp = tempfile.mkdtemp(prefix="bn-tokpeer-")
    path = os.path.join(tmp, "texts.json")
    with open(path, "w") as f:
        json.dump(texts, f)
    with open(LLAMA2) as f:
        llama2 = spm_vocab.from_tokenizer_json(json.load(f))
    trained, _ = spm_vocab.from_spm(spm_vocab.train(
        corpus, os.path.join(tmp, "spm"), ["<|sep|>"]), ["<|sep|>"])
    for name, preset, records in (
            ("llama2", "tiny-1bitllm-spm", llama2),
            ("trained", "tiny-1bitllm-spm4k", trained)):
        t0 = time.time()
        g, folder = bundle(tmp, name, preset, records)
        differ = compare(run, g, folder, texts, path)
        print("%s: %d of %d texts differ from bitnet.cpp (%.0f s)%s" % (
            name, len(differ), len(texts), time.time() - t0,
            "; first %r" % texts[differ[0]] if differ else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
