#!/usr/bin/python3
"""The end of `make demo`: run a converted model in onnxruntime (through
onnxruntime-node) on a prompt of token ids and print the most likely next
tokens and the time taken.

    demo.py MODEL.onnx CONFIG.json
"""
import json
import sys
import time

import numpy as np

import ort_run


def main():
    model, config = sys.argv[1], sys.argv[2]
    with open(config) as f:
        cfg = json.load(f)
    layers, kv = cfg["num_hidden_layers"], cfg["num_key_value_heads"]
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    prompt = np.array([[cfg["bos_token_id"], 17, 42, 256, 9, 311]], np.int64)
    feeds = {"input_ids": prompt, "attention_mask": np.ones_like(prompt),
             "position_ids": np.arange(prompt.shape[1])[None]}
    empty = np.zeros((1, kv, 0, hd), np.float32)
    for l in range(layers):
        feeds["past_key_values.%d.key" % l] = empty
        feeds["past_key_values.%d.value" % l] = empty
    t0 = time.time()
    out, info = ort_run.run(model, feeds, outputs=["logits"])
    wall = time.time() - t0
    logits = out["logits"][0, -1].astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    print("prompt token ids: %s" % " ".join(map(str, prompt[0])))
    print("top next tokens (id: probability):")
    for i in np.argsort(-p)[:5]:
        print("  %5d: %.4f" % (i, p[i]))
    print("onnxruntime-node: session load %.1f ms, forward of %d tokens "
          "%.1f ms (%.2f s in all with node's start)" % (
              info["load_ms"], prompt.shape[1], info["run_ms"], wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
