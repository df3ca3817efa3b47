#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Write BitNet b1.58 models in the real Hugging Face formats, at any size.

The packed format is that of microsoft/bitnet-b1.58-2B-4T: every BitLinear
projection is a uint8 tensor [out/4, in] whose 2-bit codes (value + 1) are
stacked along the output axis (rows r, R+r, 2R+r, 3R+r of W in bits 1:0,
3:2, 5:4, 7:6 of row r), with a bf16 [1] weight_scale beside it; every other
tensor is bf16; the head is tied to model.embed_tokens.weight.  The packing
here is written from that description, independently of the C code.

Values follow published statistics of the 2B4T master weights: ternary
fractions about 0.32/0.36/0.32, weight_scale 0.3-1.7, embedding rows of L2
norm 0.2-0.9, norm weights that grow with depth.  Same seed, same bytes.

    gen_fixture.py OUT [--preset NAME] [--seed N] [--shards N] [--master]
                       [--linear-class autobitlinear|bitlinear] [--truth F]
                       [--archive PATH]
"""
import argparse
import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_tokenizer  # noqa: E402

PRESETS = {
    # hidden, layers, heads, kv_heads, ffn, vocab
    "micro": dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                  num_key_value_heads=1, intermediate_size=8, vocab_size=6),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, intermediate_size=96,
                 vocab_size=200),
    "tiny-mqa": dict(hidden_size=64, num_hidden_layers=1,
                     num_attention_heads=4, num_key_value_heads=1,
                     intermediate_size=128, vocab_size=131),
    # with a real byte-level BPE tokenizer (vocab >= TOKENIZER_MIN_VOCAB)
    "tiny-tok": dict(hidden_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2,
                     intermediate_size=96, vocab_size=300),
    "tiny-tok-mha": dict(hidden_size=96, num_hidden_layers=2,
                         num_attention_heads=3, num_key_value_heads=3,
                         intermediate_size=160, vocab_size=320),
    # 1bitLLM's bitnet_b1_58 (as bitnet_b1_58-large, smaller): full
    # attention, float masters, its RoPE buffers saved per layer
    "tiny-1bitllm": dict(architectures=["BitnetForCausalLM"], hidden_size=64,
                         num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=4, intermediate_size=96,
                         vocab_size=190),
    "tiny-mha": dict(hidden_size=96, num_hidden_layers=3,
                     num_attention_heads=3, num_key_value_heads=3,
                     intermediate_size=160, vocab_size=257),
    # mid-size, for the browser benchmark (tests/bench/web.sh)
    "mid": dict(hidden_size=1024, num_hidden_layers=8,
                num_attention_heads=16, num_key_value_heads=4,
                intermediate_size=2816, vocab_size=4096),
    # the model of `make demo`: a few MB, the 2B4T's proportions
    "demo": dict(hidden_size=256, num_hidden_layers=4,
                 num_attention_heads=8, num_key_value_heads=2,
                 intermediate_size=688, vocab_size=1000),
    # the 2B4T layer and vocabulary sizes with only two layers
    "2b-2layers": dict(hidden_size=2560, num_hidden_layers=2,
                       num_attention_heads=20, num_key_value_heads=5,
                       intermediate_size=6912, vocab_size=128256),
    "2b": dict(hidden_size=2560, num_hidden_layers=30,
               num_attention_heads=20, num_key_value_heads=5,
               intermediate_size=6912, vocab_size=128256),
    # HF1BitLLM/Llama3-8B-1.58-100B-tokens' shapes: the Llama family, an
    # untied bf16 head, Llama 3's RoPE bands
    "8b": dict(model_type="llama", hidden_size=4096, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=8,
               intermediate_size=14336, vocab_size=128256),
}


def llama3_bands(original):
    """rope_scaling of Llama 3 (factor 8, low 1, high 4) for a context of
    original positions."""
    return {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": original}


# the Llama family with BitLinear projections: an explicit head_dim (heads
# x head_dim is not hidden), GQA, an untied head; with Llama 3's RoPE bands
# (an original context of 64 puts the frequencies of a 24-wide head in all
# three bands); with a tokenizer
PRESETS["tiny-llama"] = dict(model_type="llama", hidden_size=64,
                             num_hidden_layers=2, num_attention_heads=4,
                             num_key_value_heads=2, head_dim=24,
                             intermediate_size=96, vocab_size=210)
PRESETS["tiny-llama3"] = dict(PRESETS["tiny-llama"],
                              rope_scaling=llama3_bands(64))
PRESETS["tiny-llama-tok"] = dict(PRESETS["tiny-llama"], vocab_size=300)
# the same with AutoBitLinear, as onebitllms writes Falcon-E (the
# weight_scale multiplies; online for the bf16 masters of its prequantized
# revision)
PRESETS["tiny-falcon-e"] = dict(PRESETS["tiny-llama"], quantization_config={
    "quant_method": "bitnet", "linear_class": "autobitlinear",
    "quantization_mode": "offline", "modules_to_not_convert": ["lm_head"]})
PRESETS["tiny-1bitllm-tok"] = dict(PRESETS["tiny-1bitllm"], vocab_size=300)
# with LLaMA-2's SentencePiece vocabulary, as 1bitLLM's models have it
PRESETS["tiny-1bitllm-spm"] = dict(PRESETS["tiny-1bitllm"], vocab_size=32000)
# with a SentencePiece vocabulary trained in the tests (spm_train)
PRESETS["tiny-1bitllm-spm4k"] = dict(PRESETS["tiny-1bitllm"], vocab_size=4000)
# the shapes of the other families bitnet.cpp runs, for the browser
# benchmark (tests/bench/browser.sh): 1bitLLM's bitnet_b1_58-large, -xl
# and -3B (float16 masters, tied), tiiuae's Falcon3-1B and -3B 1.58bit
# (the Llama family, head_dim 256, an untied head)
for _name, _h, _l, _heads, _ffn in (("1bitllm-700m", 1536, 24, 16, 4096),
                                    ("1bitllm-1.3b", 2048, 24, 32, 5460),
                                    ("1bitllm-3b", 3200, 26, 32, 8640)):
    PRESETS[_name] = dict(architectures=["BitnetForCausalLM"],
                          hidden_size=_h, num_hidden_layers=_l,
                          num_attention_heads=_heads,
                          num_key_value_heads=_heads,
                          intermediate_size=_ffn, vocab_size=32002)
for _name, _h, _l, _heads, _ffn in (("falcon3-1b", 2048, 18, 8, 8192),
                                    ("falcon3-3b", 3072, 22, 12, 9216)):
    PRESETS[_name] = dict(model_type="llama", hidden_size=_h,
                          num_hidden_layers=_l, num_attention_heads=_heads,
                          num_key_value_heads=4, head_dim=256,
                          intermediate_size=_ffn, vocab_size=131072,
                          rope_theta=1000042.0, rms_norm_eps=1e-06)
PRESETS["8b"]["rope_scaling"] = llama3_bands(8192)

PROJECTIONS = [  # (name, out, in) in terms of the config
    ("self_attn.q_proj", "q", "h"), ("self_attn.k_proj", "kv", "h"),
    ("self_attn.v_proj", "kv", "h"), ("self_attn.o_proj", "h", "q"),
    ("mlp.gate_proj", "f", "h"), ("mlp.up_proj", "f", "h"),
    ("mlp.down_proj", "h", "f"),
]


def bf16_bits(x):
    """float32 -> bf16 bit patterns (uint16), round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    u = u.astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def pack_ternary(w):
    """W [out, in] of -1/0/1 -> uint8 [out/4, in], transformers' layout."""
    out = w.shape[0]
    assert out % 4 == 0
    r = out // 4
    codes = (w + 1).astype(np.uint8)
    packed = np.zeros((r,) + w.shape[1:], dtype=np.uint8)
    for i in range(4):
        packed |= codes[i * r:(i + 1) * r] << (2 * i)
    return packed


def make_config(sizes, linear_class="autobitlinear", mode="offline"):
    if sizes.get("architectures") == ["BitnetForCausalLM"]:
        return onebit_config(sizes)
    if sizes.get("model_type") == "llama":
        return llama_config(sizes, mode)
    cfg = {
        "architectures": ["BitNetForCausalLM"],
        "model_type": "bitnet",
        "hidden_act": "relu2",
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "bos_token_id": 128000 if sizes["vocab_size"] > 128000 else 1,
        "eos_token_id": 128001 if sizes["vocab_size"] > 128001 else 2,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "quantization_config": {
            "quant_method": "bitnet",
            "linear_class": linear_class,
            "quantization_mode": mode,
        },
    }
    cfg.update(sizes)
    return cfg


def llama_config(sizes, mode="offline"):
    """The Llama architecture with BitLinear projections, as
    Llama3-8B-1.58 and Falcon3-1.58bit write it: no linear_class (the
    weight_scale divides), an untied bf16 lm_head.  A preset may give its
    own quantization_config (tiny-falcon-e); with a linear_class its mode
    is mode."""
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_act": "silu",
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0,
        "rope_scaling": None,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
        "quantization_config": {"quant_method": "bitnet",
                                "modules_to_not_convert": ["lm_head"]},
    }
    cfg.update(json.loads(json.dumps(sizes)))   # a copy
    if "linear_class" in cfg["quantization_config"]:
        cfg["quantization_config"]["quantization_mode"] = mode
    return cfg


def onebit_config(sizes):
    """1bitLLM's bitnet_b1_58: model_type llama, BitnetForCausalLM,
    weight_bits 1 and input_bits 8, no quantization_config (float master
    weights quantized per tensor as the model runs)."""
    cfg = {
        "model_type": "llama",
        "hidden_act": "silu",
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "tie_word_embeddings": True,
        "weight_bits": 1,
        "input_bits": 8,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float16",
    }
    cfg.update(sizes)
    return cfg


def dims(cfg):
    h = cfg["hidden_size"]
    hd = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    return {"h": h, "q": cfg["num_attention_heads"] * hd,
            "kv": cfg["num_key_value_heads"] * hd,
            "f": cfg["intermediate_size"]}


EMBED_ROWS = 4096  # embedding rows generated (and written) at a time


def tensor_rng(seed, name, part=0):
    """Each tensor (part) has its own generator: the same seed gives the
    same bytes whatever is generated before it or kept in memory."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), part])


def ternary(rng, shape):
    """-1/0/+1 with probabilities 0.32/0.36/0.32."""
    lut = np.repeat(np.array([-1, 0, 1], np.int8), [32, 36, 32])
    return lut[rng.integers(0, 100, shape, dtype=np.uint8)]


class Tensor:
    """One tensor of the model, made on demand: chunks() yields the stored
    array block by block (so a 2B embedding is never whole in memory),
    truth() what it means as float32."""

    def __init__(self, name, dtype, shape, chunks, truth):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)
        self.chunks, self.truth = chunks, truth
        self.nbytes = int(np.prod(self.shape)) * np.dtype(dtype).itemsize


def bf16_tensor(name, shape, make):
    """make() -> float32 values, stored as bf16."""
    def chunks():
        yield bf16_bits(make())
    return Tensor(name, np.uint16, shape, chunks,
                  lambda: bf16_value(bf16_bits(make())))


def embedding(cfg, seed):
    name, (v, h) = "model.embed_tokens.weight", (cfg["vocab_size"],
                                                 cfg["hidden_size"])

    def block(b):
        rng = tensor_rng(seed, name, b)
        n = min(EMBED_ROWS, v - b * EMBED_ROWS)
        e = rng.standard_normal((n, h), dtype=np.float32)
        e *= (rng.uniform(0.2, 0.9, (n, 1)) /
              np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)
        return bf16_bits(e)

    def chunks():
        for b in range(-(-v // EMBED_ROWS)):
            yield block(b)
    return Tensor(name, np.uint16, (v, h), chunks, lambda: bf16_value(
        np.concatenate(list(chunks()))))


def master_projection(name, shape, seed, f16=False):
    """bf16 (or, as 1bitLLM's, f16) master weights [out, in] of the
    online-quantized repository: normal, with mean|W| drawn from 0.3-1.7."""
    def make():
        rng = tensor_rng(seed, name)
        mag = rng.uniform(0.3, 1.7)
        return (rng.standard_normal(shape, dtype=np.float32) *
                np.float32(mag * np.sqrt(np.pi / 2)))
    if f16:
        return (Tensor(name + ".weight", np.float16, shape,
                       lambda: iter([make().astype(np.float16)]),
                       lambda: make().astype(np.float16).astype(np.float32)),)
    return (bf16_tensor(name + ".weight", shape, make),)


def projection(name, shape, seed, divides):
    """The packed weight and its weight_scale.  The effective magnitude
    mean|W| is drawn from 0.3-1.7 in either convention: AutoBitLinear
    stores it as weight_scale (and multiplies), BitLinear stores its
    inverse (and divides)."""
    def t():
        return ternary(tensor_rng(seed, name), shape)

    def scale():
        mag = tensor_rng(seed, name, 1).uniform(0.3, 1.7)
        return bf16_bits(np.array([1 / mag if divides else mag], np.float32))

    def chunks():
        yield pack_ternary(t())
    return (Tensor(name + ".weight", np.uint8, (shape[0] // 4, shape[1]),
                   chunks, lambda: (t(), bf16_value(scale())[0])),
            Tensor(name + ".weight_scale", np.uint16, (1,),
                   lambda: iter([scale()]), lambda: bf16_value(scale())))


def model_tensors(cfg, seed):
    """Every tensor of the model, in model order, made lazily."""
    d = dims(cfg)
    q = cfg.get("quantization_config", {})
    divides = q.get("linear_class", "bitlinear") == "bitlinear"
    onebit = cfg.get("architectures") == ["BitnetForCausalLM"]
    online = q.get("quantization_mode") == "online" or onebit
    llama = cfg["model_type"] == "llama" and not onebit
    layers = cfg["num_hidden_layers"]
    out = [embedding(cfg, seed)]
    for layer in range(layers):
        depth = layer / max(layers - 1, 1)
        pre = f"model.layers.{layer}."
        for norm, size, scale in (
                ("input_layernorm", d["h"], 1.0 + depth),
                ("self_attn.attn_sub_norm", d["h"], 0.01 * 1000 ** depth),
                ("post_attention_layernorm", d["h"], 1.0 + depth),
                ("mlp.ffn_sub_norm", d["f"], 0.01 * 1000 ** depth)):
            if llama and "sub_norm" in norm:
                continue
            if onebit:  # its own names for the sub-norms
                norm = {"self_attn.attn_sub_norm": "self_attn.inner_attn_ln",
                        "mlp.ffn_sub_norm": "mlp.ffn_layernorm"}.get(norm,
                                                                     norm)
            name = pre + norm + ".weight"
            out.append(bf16_tensor(name, (size,), lambda n=name, k=size,
                       sc=scale: (sc * tensor_rng(seed, n).uniform(
                           0.8, 1.2, k)).astype(np.float32)))
        if onebit:  # the RoPE frequencies it saves with each layer
            hd = cfg.get("head_dim") or d["h"] // cfg["num_attention_heads"]
            inv = (1.0 / (cfg["rope_theta"] ** (
                np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / hd))
                   ).astype(np.float32)
            out.append(Tensor(pre + "self_attn.rotary_emb.inv_freq",
                              np.float32, (hd // 2,), lambda v=inv: iter([v]),
                              lambda v=inv: v))
        for name, o, i in PROJECTIONS:
            if online:
                out.extend(master_projection(pre + name, (d[o], d[i]), seed,
                                             f16=onebit))
            else:
                out.extend(projection(pre + name, (d[o], d[i]), seed,
                                      divides))
    name = "model.norm.weight"
    out.append(bf16_tensor(name, (d["h"],), lambda: tensor_rng(
        seed, name).uniform(1.0, 3.0, d["h"]).astype(np.float32)))
    if not cfg["tie_word_embeddings"]:
        shape = (cfg["vocab_size"], d["h"])
        out.append(bf16_tensor("lm_head.weight", shape, lambda: (
            tensor_rng(seed, "lm_head.weight").standard_normal(
                shape, dtype=np.float32) * np.float32(0.05))))
    return out


ST_DTYPES = {np.dtype(np.uint16): "BF16", np.dtype(np.uint8): "U8",
             np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
             np.dtype(np.int8): "I8"}


def write_safetensors(path, tensors):
    """tensors: Tensor objects (uint16 is bf16), written in the given order
    one chunk at a time."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for t in tensors:
        header[t.name] = {"dtype": ST_DTYPES[np.dtype(t.dtype)],
                          "shape": list(t.shape),
                          "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for t in tensors:
            for chunk in t.chunks():
                f.write(np.ascontiguousarray(chunk).tobytes())


TOKENIZER_MIN_VOCAB = 300


def write_side_files(out, cfg):
    """generation_config.json and tokenizer_config.json; and for a
    vocabulary of TOKENIZER_MIN_VOCAB or more a real tokenizer.json and
    special_tokens_map.json, whose special tokens become the config's
    bos and eos (cfg is updated)."""
    files = {}
    if cfg["vocab_size"] >= TOKENIZER_MIN_VOCAB:
        bos, eos = gen_tokenizer.write_tokenizer(out, cfg["vocab_size"])
        cfg["bos_token_id"], cfg["eos_token_id"] = bos, eos
        files["special_tokens_map.json"] = {
            "bos_token": gen_tokenizer.SPECIALS[0],
            "eos_token": gen_tokenizer.SPECIALS[1]}
    files["generation_config.json"] = {
        "bos_token_id": cfg["bos_token_id"],
        "eos_token_id": cfg["eos_token_id"], "do_sample": False}
    files["tokenizer_config.json"] = {
        "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
        "model_max_length": cfg["max_position_embeddings"]}
    if cfg["vocab_size"] >= TOKENIZER_MIN_VOCAB:
        files["tokenizer_config.json"].update(
            tokenizer_class="PreTrainedTokenizerFast", add_bos_token=False)
    for name, obj in files.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=2)


def write_model(out, sizes, seed=0, linear_class="autobitlinear", shards=1,
                truth=True, master=False):
    """Write a model folder, packed (or bf16 master weights, quantization
    mode online, when master is set); return {name: truth} (or {} when
    truth is False, for models too large to hold)."""
    os.makedirs(out, exist_ok=True)
    cfg = make_config(sizes, linear_class, "online" if master else "offline")
    write_side_files(out, cfg)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tensors = sorted(model_tensors(cfg, seed), key=lambda t: t.name)
    if shards <= 1:
        write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    else:
        weight_map, per = {}, -(-len(tensors) // shards)
        for k in range(shards):
            fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            part = tensors[k * per:(k + 1) * per]
            write_safetensors(os.path.join(out, fname), part)
            weight_map.update({t.name: fname for t in part})
        index = {"metadata": {"total_size": sum(t.nbytes for t in tensors)},
                 "weight_map": weight_map}
        with open(os.path.join(out, "model.safetensors.index.json"),
                  "w") as f:
            json.dump(index, f, indent=2)
    return {t.name: t.truth() for t in tensors} if truth else {}


def model_once(out, preset, seed=0, **kw):
    """write_model of a preset into out unless it is there already."""
    if not os.path.exists(out):
        write_model(out, PRESETS[preset], seed, **kw)
    return out


def write_archive(model, path, order=("config.json", "model.safetensors"),
            prefix="model/"):
    """An archive of the model folder with the given files first, then the
    rest; the kind follows path's ending."""
    names = list(order) + sorted(n for n in os.listdir(model)
                                 if n not in order)
    if path.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for n in names:
                z.write(os.path.join(model, n), prefix + n)
        return path
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for n in names:
            t.add(os.path.join(model, n), prefix + n)
    data = raw.getvalue()
    if path.endswith(".gz"):
        data = gzip.compress(data)
    elif path.endswith(".xz"):
        data = lzma.compress(data)
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-q", "-c"], input=data,
                              stdout=subprocess.PIPE, check=True).stdout
    with open(path, "wb") as f:
        f.write(data)
    return path


def save_truth(path, truth):
    flat = {}
    for name, t in truth.items():
        if isinstance(t, tuple):
            flat[name + "/ternary"] = t[0]
            flat[name + "/scale"] = np.array([t[1]], np.float32)
        else:
            flat[name] = t
    np.savez(path, **flat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--linear-class", default="autobitlinear",
                    choices=["autobitlinear", "bitlinear"])
    ap.add_argument("--master", action="store_true",
                    help="bf16 master weights (quantization_mode online)")
    ap.add_argument("--truth", help="also save the float truth as .npz")
    ap.add_argument("--archive", metavar="PATH",
                    help="also write the folder as an archive (.tar, "
                    ".tar.gz, .tar.xz, .tar.zst or .zip, by its ending)")
    a = ap.parse_args()
    truth = write_model(a.out, PRESETS[a.preset], a.seed, a.linear_class,
                        a.shards, truth=bool(a.truth), master=a.master)
    if a.truth:
        save_truth(a.truth, truth)
    if a.archive:
        write_archive(a.out, a.archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
