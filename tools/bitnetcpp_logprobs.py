#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Put bitnet.cpp beside our ONNX models on the same tokens: for a model of
each family, written as the F32 GGUF bitnet.cpp's converter makes and as
the I2_S one its llama-quantize makes of it, bitnet.cpp's llama-perplexity
saves the log-probabilities it computes (--kl-divergence-base: the tokens,
then each scored position's log-probs in 16 bits); gguf-read | tern-dequant
| onnx-emit converts the same file, onnxruntime runs the same token
windows, and the two are compared.  Not part of make check: it needs a
bitnet.cpp build.

    tools/bitnetcpp_logprobs.py 'PATH/run' [TEXT]

Prints, per model and GGUF form: the largest |log p difference| over the
tokens both give a probability above e-10, how often the most likely token
is the same, and both perplexities.  bitnet.cpp computes an F32 model
without the activations' 8-bit quantization, so for the F32 form it is also
held against the numpy reference computed that way (ref-noq): on random
fixtures, whose logits are large, that quantization alone moves log p by
several units, while the two unquantized computations agree closely.
"""
import os
import shlex
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import gen_fixture as gf  # noqa: E402
import gguf_fixture  # noqa: E402
import ort_run  # noqa: E402
import reference  # noqa: E402

CTX = 128   # llama-perplexity's window; the second half is scored
# (name, model folder or fixture preset, GGUF architecture)
MODELS = [("bitnet-kjv (trained)", os.path.join(ROOT, "tests", "models",
                                                 "bitnet-kjv"), "bitnet-25"),
          ("tiny-tok", "tiny-tok", "bitnet-25"),
          ("tiny-llama-tok", "tiny-llama-tok", "llama"),
          ("tiny-1bitllm-tok", "tiny-1bitllm-tok", "bitnet")]


def read_logprobs(path):
    """tokens [chunks, CTX] and log-probs [chunks, CTX-1-CTX/2, vocab] of
    a --kl-divergence-base file: '_logits_', n_ctx, n_vocab, n_chunk, the
    tokens, then per scored position two floats (scale, min) and n_vocab
    uint16 q, padded to an even count: log p = min + scale * q."""
    b = open(path, "rb").read()
    assert b[:8] == b"_logits_", path
    n_ctx, n_vocab, n_chunk = struct.unpack("<iii", b[8:20])
    toks = np.frombuffer(b, np.int32, n_ctx * n_chunk, 20)
    nv = 2 * ((n_vocab + 1) // 2) + 4
    rows = np.frombuffer(b, np.uint16, offset=20 + toks.nbytes).reshape(
        n_chunk, n_ctx - 1 - n_ctx // 2, nv)
    head = rows[:, :, :4].copy().view(np.float32)   # scale, min
    lp = head[..., 1:2] + head[..., 0:1] * rows[:, :, 4:4 + n_vocab]
    return toks.reshape(n_chunk, n_ctx), lp


def log_softmax(x):
    x = x.astype(np.float64)
    x -= x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def onnx_logprobs(model, ref, toks):
    """Our log-probs of the scored positions of each window (the cache's
    sizes from the reference's reading of the config)."""
    out = []
    for ids in toks:
        lg, _ = ort_run.run(model, ort_run.feeds(
            ids[None].astype(np.int64), ort_run.empty_past(
                ref.cfg["num_hidden_layers"], ref.kv, ref.hd)), ["logits"])
        out.append(log_softmax(lg["logits"][0]))
    return np.stack(out)[:, CTX // 2:CTX - 1]


def reference_logprobs(ref, toks):
    """The numpy reference's (ref built without activation
    quantization)."""
    out = []
    for ids in toks:
        ids = ids[None].astype(np.int64)
        pos = np.arange(ids.shape[1], dtype=np.int64)[None]
        out.append(log_softmax(ref.forward(ids, np.ones_like(ids), pos)[0][0]))
    return np.stack(out)[:, CTX // 2:CTX - 1]


def agreement(a, b):
    seen = (a > -10) & (b > -10)
    return "max |d log p| %.3f, same top token %5.1f%%" % (
        np.abs(a - b)[seen].max(), 100 * (a.argmax(-1) == b.argmax(-1)).mean())


def compare(run, gguf, text, src, work):
    base = os.path.join(work, "base.bin")
    p = subprocess.run(shlex.split(run) + [
        "llama-perplexity", "-m", gguf, "-f", text, "-c", str(CTX), "-b",
        str(CTX), "-t", "2", "--kl-divergence-base", base],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return "bitnet.cpp failed: " + p.stderr.decode()[-300:]
    toks, theirs = read_logprobs(base)
    model = os.path.join(work, "model.onnx")
    bin_ = os.path.join(ROOT, "bin")
    subprocess.run("%s/gguf-read %s | %s/tern-dequant | %s/onnx-emit -q -o "
                   "%s" % (bin_, gguf, bin_, bin_, model), shell=True,
                   check=True)
    ref = reference.Reference(src, act_quant=False)
    ours = onnx_logprobs(model, ref, toks)
    nxt = toks[:, CTX // 2 + 1:, None]
    ppl = [np.exp(-np.take_along_axis(x, nxt, -1).mean())
           for x in (ours, theirs)]
    line = "ours: %s; ppl ours %.2f, bitnet.cpp %.2f" % (
        agreement(ours, theirs), ppl[0], ppl[1])
    if "-f32" in gguf:
        line += "; ref-noq: %s" % agreement(reference_logprobs(ref, toks),
                                           theirs)
    return line


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.split("\n\n")[2])
    run = sys.argv[1]
    text = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "tests", "models", "heldout.txt")
    with tempfile.TemporaryDirectory(prefix="bn-bitnetcpp-") as tmp:
        for name, src, arch in MODELS:
            if not os.path.isdir(src):
                src = gf.model_once(os.path.join(tmp, src), src, 31)
            f32 = os.path.join(tmp, name.split()[0] + "-f32.gguf")
            gguf_fixture.write_gguf(src, f32, arch=arch, proj="f32")
            i2s = f32.replace("-f32", "-i2s")
            subprocess.run(shlex.split(run) + ["llama-quantize", f32, i2s,
                                                "I2_S", "1"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
            for form, g in (("F32", f32), ("I2_S", i2s)):
                work = tempfile.mkdtemp(dir=tmp)
                print("%-20s %-9s %-4s %s" % (name, arch, form,
                                             compare(run, g, text, src,
                                                     work)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
