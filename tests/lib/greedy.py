# SPDX-License-Identifier: ISC
"""Greedy generation for the bundle and browser tests: transformers.js in
Node (tests/tjs/generate.mjs), the numpy reference's greedy continuation,
and the choice of a prompt whose greedy tokens float32 noise cannot flip."""
import json
import os
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/
GENERATE = os.path.join(HERE, "tjs", "generate.mjs")
PROMPTS = ["The model reads a sentence", "Once upon a time",
           "Rivers carry water", "The baker opens his shop",
           "Music fills the evening", "Ships follow lighthouses",
           "Libraries keep journals", "Children walk to school"]
NEW_TOKENS = 20


def generate(folder, prompt, dtype, new_tokens=NEW_TOKENS):
    p = subprocess.run(["node", GENERATE, folder, prompt, str(new_tokens),
                        dtype], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def run_ref(ref, ids):
    x = np.array([ids], np.int64)
    kv = np.zeros((1, ref.kv, 0, ref.hd), np.float32)
    logits, _ = ref.forward(x, np.ones_like(x),
                            np.arange(len(ids))[None].astype(np.int64),
                            [(kv, kv)] * ref.cfg["num_hidden_layers"])
    return logits[0]


def greedy(ref, prompt_ids, n, eos, gap=1e-3, margin=2e-5):
    """The reference's greedy continuation, and whether it is clear: every
    choice's top two logits at least gap of the largest apart, and (unless
    margin is None) no activation of the whole sequence within margin of
    an int8 rounding boundary, so that float32 differences cannot change a
    token.  A trained model has activations on every side of every
    boundary but wide gaps: it is judged by the gap alone."""
    ids, clear = list(prompt_ids), True
    for _ in range(n):
        last = run_ref(ref, ids)[-1]
        top = np.sort(last)[-2:]
        clear &= bool(top[1] - top[0] > gap * np.abs(last).max())
        ids.append(int(last.argmax()))
        if ids[-1] == eos:
            break
    if margin is None:
        return ids[len(prompt_ids):], clear
    ref.min_margin = np.inf
    run_ref(ref, ids)
    return ids[len(prompt_ids):], clear and ref.min_margin > margin


def clear_prompt(ref, folder, min_tokens=16):
    """(prompt, the reference's greedy tokens) for the first prompt whose
    greedy continuation is clear and at least min_tokens long."""
    eos = ref.cfg["eos_token_id"]
    for prompt in PROMPTS:
        ids = generate(folder, prompt, "fp32", 1)["prompt_ids"]
        want, clear = greedy(ref, ids, NEW_TOKENS, eos)
        if clear and len(want) >= min_tokens:
            return prompt, want
    raise AssertionError("no prompt with clear greedy choices")
