#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The end of `make demo`: run a converted model in onnxruntime (through
onnxruntime-node) on a prompt and print the most likely next tokens and
the time taken.

    demo.py MODEL.onnx MODEL_DIR [PROMPT]

MODEL_DIR holds config.json and the tokenizer.json the prompt is encoded
with.
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "lib"))
import gen_tokenizer  # noqa: E402
import ort_run  # noqa: E402


def main():
    model, folder = sys.argv[1], sys.argv[2]
    text = sys.argv[3] if len(sys.argv) > 3 else "And God said"
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(folder, "tokenizer.json")) as f:
        enc = gen_tokenizer.Encoder(json.load(f))
    layers, kv = cfg["num_hidden_layers"], cfg["num_key_value_heads"]
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    prompt = np.array([enc(text)], np.int64)
    feeds = ort_run.feeds(prompt, ort_run.empty_past(layers, kv, hd))
    t0 = time.time()
    out, info = ort_run.run(model, feeds, outputs=["logits"])
    wall = time.time() - t0
    logits = out["logits"][0, -1].astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    print("prompt: %r, token ids %s" % (text, " ".join(map(str, prompt[0]))))
    print("most likely next tokens (probability, id):")
    for i in np.argsort(-p)[:5]:
        print("  %-12r %.4f  %5d" % (enc.decode([i]), p[i], i))
    print("onnxruntime-node: session load %.1f ms, forward of %d tokens "
          "%.1f ms (%.2f s in all with node's start)" % (
              info["load_ms"], prompt.shape[1], info["run_ms"], wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
