# SPDX-License-Identifier: ISC
"""Run an ONNX model through tests/ort/run.js (onnxruntime-node)."""
import json
import os
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/


def empty_past(layers, kv_heads, head_dim, batch=1):
    """An empty KV cache: (key, value) of [batch, kv_heads, 0, head_dim]
    per layer."""
    e = np.zeros((batch, kv_heads, 0, head_dim), np.float32)
    return [(e, e)] * layers


def feeds(ids, past, mask=None, pos=None):
    """The inputs of a whole model: input_ids [batch, seq], the cache as
    (key, value) per layer, a mask of ones and positions from 0 unless
    given."""
    b, s = ids.shape
    f = {"input_ids": ids,
         "attention_mask": np.ones_like(ids) if mask is None else mask,
         "position_ids": (np.tile(np.arange(s, dtype=np.int64), (b, 1))
                          if pos is None else pos)}
    for layer, (k, v) in enumerate(past):
        f["past_key_values.%d.key" % layer] = k
        f["past_key_values.%d.value" % layer] = v
    return f


def run(model, inputs, outputs=None, options=None):
    """inputs: {name: int64 or float32 array}; returns ({name: array},
    info dict from run.js)."""
    with tempfile.TemporaryDirectory(prefix="bn-ort-") as d:
        spec = {"model": os.path.abspath(model), "out_dir": d, "inputs": {}}
        for name, a in inputs.items():
            a = np.ascontiguousarray(a)
            kind = "int64" if a.dtype == np.int64 else "float32"
            f = os.path.join(d, "in-%d.bin" % len(spec["inputs"]))
            a.astype(np.int64 if kind == "int64" else np.float32).tofile(f)
            spec["inputs"][name] = {"type": kind, "dims": list(a.shape),
                                    "file": f}
        if outputs:
            spec["outputs"] = outputs
        if options:
            spec["options"] = options
        path = os.path.join(d, "spec.json")
        with open(path, "w") as f:
            json.dump(spec, f)
        p = subprocess.run(["node", os.path.join(HERE, "ort", "run.js"),
                            path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError("onnxruntime: " + p.stderr.decode())
        info = json.loads(p.stdout)
        out = {}
        for name, o in info["outputs"].items():
            a = np.fromfile(os.path.join(d, name + ".bin"), dtype=np.float32)
            out[name] = a.reshape(o["dims"])
        return out, info
