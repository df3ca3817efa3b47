#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Train a small BitNet b1.58 model on the King James Version of the Bible
(public domain; Debian's bible-kjv-text, read through its `bible`
program), the BitNet way, and write it as the Hugging Face repositories
hold such a model.

The architecture is BitNet b1.58 2B4T's as bitnet-onnx reads it: RMSNorm,
grouped-query attention with rotate-half RoPE, attn_sub_norm before
o_proj, a relu^2 gated MLP with ffn_sub_norm before down_proj, tied
embeddings.  Every projection is an AutoBitLinear in online mode, as
transformers' BitNet integration trains it: the weight quantized per
tensor to {-1, 0, 1} times mean|W| (scale 1 / max(mean|W|, 1e-5)), the
input per token to int8 (scale 127 / max|x|), both with the
straight-through estimator.

    tools/train_bitnet.py OUT_DIR [--minutes M] [--seed S]

writes into OUT_DIR:
    bitnet-kjv-bf16/   the master weights in bf16, quantization_mode online
    bitnet-kjv/        packed ternary uint8 [out/4, in] + weight_scale
                       (autobitlinear, offline), as microsoft's 2B4T repo
    bitnet-kjv-gguf/   ggml-model-i2_s.gguf, bitnet.cpp's form of it
    heldout.txt        the held-out text (every 20th chapter)
    train.log          the loss curve and held-out perplexity
    loss.png           the loss curve, plotted
with config.json, generation_config.json and the tokenizer files (a
byte-level BPE learned on the training text) in both model folders.
Needs Debian's python3-torch, python3-numpy, python3-matplotlib and
bible-kjv (and, to train in under an hour on two cores, libopenblas0:
Debian's torch calls the system BLAS, and the reference one is 28 times
slower here).  Runs on the CPU; the seed fixes data order and initial
weights (with the same torch build and thread count, the same model).
"""
import argparse
import collections
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import gen_fixture as gf  # noqa: E402
import gen_tokenizer  # noqa: E402
import gguf_fixture  # noqa: E402

CONFIG = dict(hidden_size=256, num_hidden_layers=6, num_attention_heads=8,
              num_key_value_heads=4, intermediate_size=704,
              vocab_size=3072)
SEQ = 256
ROPE_THETA = 10000.0
EPS = 1e-5
PROJ = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
        "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
        "mlp.down_proj"]


# --- text ---------------------------------------------------------------

def chapters():
    """[(heading, text)] of every chapter of the KJV, in order."""
    out = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    result, head, verses = [], None, []
    for line in out.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            verses.append(m.group(1).strip())
        elif line.strip():
            if head is not None:
                result.append((head, " ".join(verses)))
            head, verses = line.strip(), []
    result.append((head, " ".join(verses)))
    return result


def split(chs):
    """Training text and held-out text (every 20th chapter)."""
    train = [c for i, c in enumerate(chs) if i % 20 != 19]
    held = [c for i, c in enumerate(chs) if i % 20 == 19]
    join = lambda cs: "".join("%s\n%s\n\n" % c for c in cs)  # noqa: E731
    return join(train), join(held)


def learn_merges(text, count, table):
    """Byte-level BPE merges of text: the most frequent pair of symbols
    within a word, merged, count times; pair counts kept up to date for
    the words a merge touches only, so a corpus of megabytes takes
    seconds."""
    freq = collections.Counter(gen_tokenizer.PRETOKENIZE.findall(text))
    words = [[table[b] for b in w.encode()] for w in freq]
    counts = list(freq.values())
    pairs, where = collections.Counter(), collections.defaultdict(set)
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pairs[p] += counts[i]
            where[p].add(i)
    merges = []
    while len(merges) < count and pairs:
        best = max(pairs, key=pairs.get)
        merges.append(best)
        for i in sorted(where.pop(best, ())):
            w, n = words[i], counts[i]
            for p in zip(w, w[1:]):
                pairs[p] -= n
            out = words[i] = gen_tokenizer.merge_pair(w, best)
            for p in zip(out, out[1:]):
                pairs[p] += n
                where[p].add(i)
        for p in [p for p, n in pairs.items() if n <= 0]:
            del pairs[p]
    return merges


# --- the model ----------------------------------------------------------

def ste(x, q):
    return x + (q - x).detach()


def quant_weight(w):
    s = 1.0 / w.abs().mean().clamp(min=1e-5)
    return ste(w, (w * s).round().clamp(-1, 1) / s)


def quant_act(x):
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return ste(x, (x * s).round().clamp(-128, 127) / s)


class BitLinear(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in) *
                                         (n_in ** -0.5))

    def forward(self, x):
        return F.linear(quant_act(x), quant_weight(self.weight))


class RMSNorm(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))

    def forward(self, x):
        v = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(v + EPS))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, f = c["hidden_size"], c["intermediate_size"]
        self.heads = c["num_attention_heads"]
        self.kv = c["num_key_value_heads"]
        self.hd = h // self.heads
        self.input_layernorm = RMSNorm(h)
        self.post_attention_layernorm = RMSNorm(h)
        self.q_proj = BitLinear(h, self.heads * self.hd)
        self.k_proj = BitLinear(h, self.kv * self.hd)
        self.v_proj = BitLinear(h, self.kv * self.hd)
        self.o_proj = BitLinear(self.heads * self.hd, h)
        self.attn_sub_norm = RMSNorm(h)
        self.gate_proj = BitLinear(h, f)
        self.up_proj = BitLinear(h, f)
        self.down_proj = BitLinear(f, h)
        self.ffn_sub_norm = RMSNorm(f)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, s, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, s, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, s, self.kv, self.hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) * (self.hd ** -0.5)
        att = att.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1),
                              float("-inf"))
        a = att.softmax(-1) @ v
        a = a.transpose(1, 2).reshape(b, s, -1)
        x = x + self.o_proj(self.attn_sub_norm(a))
        h = self.post_attention_layernorm(x)
        m = F.relu(self.gate_proj(h)).pow(2) * self.up_proj(h)
        return x + self.down_proj(self.ffn_sub_norm(m))


class BitNet(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        torch.nn.init.normal_(self.embed.weight, std=0.02)
        self.layers = torch.nn.ModuleList(
            Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"])
        hd = c["hidden_size"] // c["num_attention_heads"]
        inv = 1.0 / (ROPE_THETA ** (torch.arange(0, hd, 2).float() / hd))
        pos = torch.arange(SEQ).float()[:, None] * inv[None]
        emb = torch.cat((pos, pos), dim=-1)
        self.register_buffer("cos", emb.cos()[None, None], persistent=False)
        self.register_buffer("sin", emb.sin()[None, None], persistent=False)

    def forward(self, ids):
        s = ids.shape[1]
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, self.cos[:, :, :s], self.sin[:, :, :s])
        return self.norm(x) @ self.embed.weight.t()


# --- training -------------------------------------------------------------

def batches(data, batch, gen):
    n = len(data) - SEQ - 1
    while True:
        starts = torch.randint(0, n, (batch,), generator=gen)
        x = torch.stack([data[i:i + SEQ] for i in starts])
        y = torch.stack([data[i + 1:i + SEQ + 1] for i in starts])
        yield x, y


@torch.no_grad()
def perplexity(model, data):
    """exp(mean loss) over the held-out tokens, in windows of SEQ."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(data) - 1, SEQ):
        x = data[i:i + SEQ][None]
        y = data[i + 1:i + SEQ + 1][None]
        x = x[:, :y.shape[1]]
        logits = model(x)
        total += F.cross_entropy(logits[0], y[0], reduction="sum").item()
        count += y.shape[1]
    model.train()
    return math.exp(total / count)


def train(model, train_ids, held_ids, minutes, seed, log):
    gen = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": other, "weight_decay": 0.0}],
                            lr=2e-3, betas=(0.9, 0.95))
    batch, t0, step = 16, time.time(), 0
    # the schedule runs on time: warm up, then a cosine to 10% by the end
    budget = minutes * 60
    curve = []
    for x, y in batches(train_ids, batch, gen):
        frac = (time.time() - t0) / budget
        if frac >= 1:
            break
        lr = 2e-3 * min(1.0, (step + 1) / 200) * (
            0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        curve.append((step, loss.item()))
        if step % 50 == 0:
            tps = step * batch * SEQ / (time.time() - t0)
            line = "step %5d  loss %.4f  lr %.2e  %.0f tokens/s" % (
                step, sum(v for _, v in curve[-50:]) / 50, lr, tps)
            if step % 500 == 0:
                line += "  held-out perplexity %.2f" % perplexity(
                    model, held_ids)
            log(line)
    return curve, step * batch * SEQ


# --- export ---------------------------------------------------------------

def bf16(t):
    """float32 tensor -> (bf16 bits as uint16 array, its float32 value)."""
    bits = gf.bf16_bits(t.detach().numpy())
    return bits, gf.bf16_value(bits)


def hf_names(model):
    """{Hugging Face name: float32 tensor} of the model."""
    out = {"model.embed_tokens.weight": model.embed.weight,
           "model.norm.weight": model.norm.weight}
    for i, b in enumerate(model.layers):
        p = "model.layers.%d." % i
        out[p + "input_layernorm.weight"] = b.input_layernorm.weight
        out[p + "post_attention_layernorm.weight"] = \
            b.post_attention_layernorm.weight
        out[p + "self_attn.attn_sub_norm.weight"] = b.attn_sub_norm.weight
        out[p + "mlp.ffn_sub_norm.weight"] = b.ffn_sub_norm.weight
        for proj in PROJ:
            out[p + proj + ".weight"] = getattr(b, proj.split(".")[1]).weight
    return out


def write_st(path, arrays):
    """{name: (safetensors dtype, numpy array)} as a safetensors file."""
    header, blobs, off = {}, [], 0
    for name in sorted(arrays):
        dtype, a = arrays[name]
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def config(mode, bos, eos):
    c = dict(CONFIG)
    c.update({"architectures": ["BitNetForCausalLM"], "model_type": "bitnet",
              "hidden_act": "relu2", "max_position_embeddings": SEQ,
              "rms_norm_eps": EPS, "rope_theta": ROPE_THETA,
              "tie_word_embeddings": True, "bos_token_id": bos,
              "eos_token_id": eos, "torch_dtype": "bfloat16",
              "use_cache": True,
              "quantization_config": {"quant_method": "bitnet",
                                      "linear_class": "autobitlinear",
                                      "quantization_mode": mode}})
    return c


def write_side(folder, tok, cfg):
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    files = {
        "config.json": cfg,
        "generation_config.json": {"bos_token_id": cfg["bos_token_id"],
                                   "eos_token_id": cfg["eos_token_id"],
                                   "do_sample": False},
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": gen_tokenizer.SPECIALS[0],
            "eos_token": gen_tokenizer.SPECIALS[1],
            "add_bos_token": False, "model_max_length": SEQ},
        "special_tokens_map.json": {"bos_token": gen_tokenizer.SPECIALS[0],
                                    "eos_token": gen_tokenizer.SPECIALS[1]},
    }
    for name, obj in files.items():
        with open(os.path.join(folder, name), "w") as f:
            json.dump(obj, f, indent=2)


def export(model, out, tok, bos, eos):
    master = os.path.join(out, "bitnet-kjv-bf16")
    packed = os.path.join(out, "bitnet-kjv")
    os.makedirs(master, exist_ok=True)
    os.makedirs(packed, exist_ok=True)
    m_arrays, p_arrays = {}, {}
    for name, t in hf_names(model).items():
        bits, value = bf16(t)
        m_arrays[name] = ("BF16", bits)
        if not any(name.endswith(p + ".weight") for p in PROJ):
            p_arrays[name] = ("BF16", bits)
            continue
        # what AutoBitLinear computes from the bf16 master: the mean in
        # float32 (summed in float64), ternary values, mean|W| as scale
        mean = np.float32(np.mean(np.abs(value.astype(np.float64))))
        a = max(mean, np.float32(1e-5))
        tern = np.clip(np.round(value * (np.float32(1) / a)), -1, 1)
        p_arrays[name] = ("U8", gf.pack_ternary(tern.astype(np.int8)))
        p_arrays[name + "_scale"] = ("BF16", gf.bf16_bits(
            np.array([a], np.float32)))
    write_st(os.path.join(master, "model.safetensors"), m_arrays)
    write_st(os.path.join(packed, "model.safetensors"), p_arrays)
    write_side(master, tok, config("online", bos, eos))
    write_side(packed, tok, config("offline", bos, eos))
    # and as bitnet.cpp's GGUF: I2_S projections, a float16 embedding
    gguf = os.path.join(out, "bitnet-kjv-gguf")
    os.makedirs(gguf, exist_ok=True)
    gguf_fixture.write_gguf(packed, os.path.join(gguf,
                            "ggml-model-i2_s.gguf"), embed="f16")


def plot(curve, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = np.array([s for s, _ in curve])
    loss = np.array([v for _, v in curve])
    k = 50
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
    plt.figure(figsize=(7, 4))
    plt.plot(steps, loss, alpha=0.25, label="batch loss")
    plt.plot(steps[k - 1:], smooth, label="mean of 50 steps")
    plt.xlabel("step")
    plt.ylabel("cross-entropy (nats/token)")
    plt.title("BitNet b1.58 on the KJV: training loss")
    plt.legend()
    plt.grid(alpha=0.3)
    plt.tight_layout()
    plt.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=55)
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train.log"), "w")

    def log(line):
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    train_text, held_text = split(chapters())
    with open(os.path.join(args.out, "heldout.txt"), "w") as f:
        f.write(held_text)
    t = time.time()
    tok = gen_tokenizer.build(CONFIG["vocab_size"], train_text,
                              learn_merges)
    log("tokenizer  byte-level BPE, %d ids, learned in %.0f s" % (
        CONFIG["vocab_size"], time.time() - t))
    enc = gen_tokenizer.Encoder(tok)
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    bos, eos = ids[gen_tokenizer.SPECIALS[0]], ids[gen_tokenizer.SPECIALS[1]]
    train_ids = torch.tensor(enc(train_text), dtype=torch.long)
    held_ids = torch.tensor(enc(held_text), dtype=torch.long)
    log("corpus     KJV (public domain): %d training tokens, %d held out "
        "(every 20th chapter)" % (len(train_ids), len(held_ids)))
    model = BitNet(CONFIG)
    log("model      %s, %d parameters, seed %d, %d threads" % (
        json.dumps(CONFIG), sum(p.numel() for p in model.parameters()),
        args.seed, args.threads))
    curve, tokens = train(model, train_ids, held_ids, args.minutes,
                          args.seed, log)
    log("trained    %d steps, %d tokens" % (curve[-1][0], tokens))
    log("held-out perplexity %.3f (torch, float32, quantized as trained)"
        % perplexity(model, held_ids))
    export(model, args.out, tok, bos, eos)
    plot(curve, os.path.join(args.out, "loss.png"))
    log("written    %s" % args.out)


if __name__ == "__main__":
    main()
