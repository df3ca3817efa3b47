#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Held-out perplexity of the small trained model (tests/models/): the
token windows of its held-out text, the perplexity of a model's logits on
them, and of an ONNX model run in onnxruntime-node.

    heldout.py MODEL.onnx [SESSION_CONFIG_JSON]

prints the perplexity of MODEL.onnx (a conversion of the trained model)."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_tokenizer  # noqa: E402
import ort_run  # noqa: E402

MODELS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "models")
PACKED = os.path.join(MODELS, "bitnet-kjv")
HELDOUT = os.path.join(MODELS, "heldout.txt")
WINDOW, WINDOWS = 256, 4          # held-out tokens scored: 4 x 255


def windows():
    """[WINDOWS, WINDOW] token ids of the held-out text."""
    with open(os.path.join(PACKED, "tokenizer.json")) as f:
        enc = gen_tokenizer.Encoder(json.load(f))
    with open(HELDOUT) as f:
        ids = enc(f.read())
    return np.array(ids[:WINDOW * WINDOWS], np.int64).reshape(WINDOWS,
                                                               WINDOW)


def perplexity(logits, ids):
    """exp of the mean negative log-likelihood of ids[:, 1:]."""
    x = logits[:, :-1].astype(np.float64)
    x -= x.max(-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, ids[:, 1:, None], -1)
    return float(np.exp(nll.mean()))


def model_feeds(ids, cfg):
    """The inputs of a whole model of config cfg on ids, empty cache."""
    hd = cfg.get("head_dim") or (cfg["hidden_size"] //
                                 cfg["num_attention_heads"])
    kv = cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    return ort_run.feeds(ids, ort_run.empty_past(
        cfg["num_hidden_layers"], kv, hd, ids.shape[0]))


def onnx_ppl(model, cfg, ids, options=None):
    """Perplexity of an ONNX model of config cfg on ids."""
    out, _ = ort_run.run(model, model_feeds(ids, cfg), ["logits"], options)
    return perplexity(out["logits"], ids)


def main():
    with open(os.path.join(PACKED, "config.json")) as f:
        cfg = json.load(f)
    extra = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
    options = {"extra": extra} if extra else None
    print("%.6f" % onnx_ppl(sys.argv[1], cfg, windows(), options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
