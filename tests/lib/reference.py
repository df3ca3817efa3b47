#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""An independent float32 reference forward pass of a BitNet b1.58 model.

Written from bitnet-onnx(7)'s description and transformers'
modeling_bitnet.py / integrations/bitnet.py semantics, not from our ONNX
graph: it reads the Hugging Face safetensors files itself, unpacks the
2-bit weights itself, and applies weight_scale the way each transformers
class does:

  autobitlinear (AutoBitLinear, offline): y = F.linear(act_quant(x), W_t)
                                             * weight_scale
  bitlinear (BitLinear):  y = F.linear(x_int8, W_t) / (s_x * weight_scale)

Everything is computed in float32.  The forward takes the same interface
as the ONNX model (input_ids, attention_mask, position_ids, past) and
also records the smallest distance of any x * s to an int8 rounding
boundary, so a test can tell a real difference from a rounding flip.
"""
import json
import os
import struct

import numpy as np

F32 = np.float32
ST_DTYPES = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32,
             "U8": np.uint8, "I8": np.int8}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        a = np.frombuffer(data[b:end], dtype=ST_DTYPES[e["dtype"]])
        if e["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a.reshape(e["shape"]).astype(
            np.float32 if e["dtype"] in ("BF16", "F16", "F32") else a.dtype)
    return out


def read_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for s in shards:
            tensors.update(read_safetensors(os.path.join(folder, s)))
    else:
        tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    return cfg, tensors


def unpack(packed):
    """uint8 [R, in] -> int8 [4R, in]: bits 2i+1:2i of row r are row iR+r."""
    return np.concatenate([((packed >> (2 * i)) & 3).astype(np.int8) - 1
                           for i in range(4)], axis=0)


class Reference:
    def __init__(self, folder, act_quant=True):
        self.cfg, self.t = read_model(folder)
        c = self.cfg
        self.h = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        llama = c.get("model_type") == "llama"
        # BitNetConfig: 5 when absent, the head count when null;
        # LlamaConfig: the head count
        self.kv = c.get("num_key_value_heads", self.heads if llama else 5) \
            or self.heads
        self.hd = c.get("head_dim") or self.h // self.heads
        self.eps = F32(c.get("rms_norm_eps", 1e-6 if llama else 1e-5))
        # transformers 5 reads the theta of rope_parameters first
        self.theta = (c.get("rope_parameters") or {}).get(
            "rope_theta", c.get("rope_theta",
                                10000.0 if llama else 500000.0))
        q = c.get("quantization_config", {})
        self.linear_class = q.get("linear_class", "bitlinear")
        # the Llama architecture with BitLinear projections (Llama3-8B-1.58,
        # Falcon3-1.58bit): SiLU-gated MLP, no sub-norms; 1bitLLM's
        # bitnet_b1_58: SiLU, sub-norms of its own names, float masters
        # quantized per tensor as AutoBitLinear's online mode does
        self.onebit = c.get("architectures", [""])[0] == "BitnetForCausalLM"
        self.llama = c.get("model_type") == "llama" and not self.onebit
        self.silu = c.get("model_type") == "llama"
        self.attn_norm = "inner_attn_ln" if self.onebit else "attn_sub_norm"
        self.ffn_norm = "ffn_layernorm" if self.onebit else "ffn_sub_norm"
        self.online = q.get("quantization_mode",
                            "offline") == "online" or self.onebit
        self.act_quant = act_quant
        self.head_act_quant = False
        self.min_margin = np.inf

    def rms_norm(self, x, w):
        var = np.mean(x * x, axis=-1, keepdims=True)
        return w * (x * (F32(1) / np.sqrt(var + self.eps)))

    def quantize(self, x):
        s = F32(127) / np.maximum(np.max(np.abs(x), axis=-1, keepdims=True),
                                  F32(1e-5))
        xs = x * s
        frac = np.abs(xs - np.floor(xs) - F32(0.5))
        self.min_margin = min(self.min_margin, float(np.min(frac)))
        return np.clip(np.round(xs), -128, 127).astype(F32), s

    def linear(self, x, name):
        w = self.t[name]
        if w.dtype != np.uint8:  # a plain float weight
            if self.online:
                w = self.online_weight(w)
            if self.act_quant:
                xq, s = self.quantize(x)
                x = xq / s
            return x @ w.T
        wt = unpack(w).astype(F32)
        ws = self.t[name + "_scale"].reshape(())
        if not self.act_quant:
            return (x @ wt.T) * ws if self.linear_class == "autobitlinear" \
                else (x @ wt.T) / ws
        xq, s = self.quantize(x)
        if self.linear_class == "autobitlinear":
            return ((xq / s) @ wt.T) * ws
        return (xq @ wt.T) / (s * ws)

    @staticmethod
    def online_weight(w):
        """AutoBitLinear's WeightQuant: s = 1 / max(mean|W|, 1e-5) in
        float32 (the mean summed in float64), round(W * s) clipped to
        [-1, 1], divided by s."""
        mean = F32(np.mean(np.abs(w.astype(np.float64))))
        s = F32(1) / max(mean, F32(1e-5))
        return np.clip(np.round(w * s), -1, 1).astype(F32) / s

    def llama3(self, inv):
        """transformers' llama3 rope_type: wavelengths past
        original / low_freq_factor slowed by factor, those under
        original / high_freq_factor kept, those between blended."""
        r = self.cfg["rope_scaling"]
        old = r["original_max_position_embeddings"]
        low, high, factor = (r["low_freq_factor"], r["high_freq_factor"],
                             F32(r["factor"]))
        wl = F32(2 * np.pi) / inv
        f = np.where(wl > F32(old / low), inv / factor, inv).astype(F32)
        smooth = ((F32(old) / wl - F32(low)) / F32(high - low)).astype(F32)
        blended = ((F32(1) - smooth) * f / factor + smooth * f).astype(F32)
        mid = ~(wl < F32(old / high)) & ~(wl > F32(old / low))
        return np.where(mid, blended, f).astype(F32)

    def rope(self, position_ids, inv=None):
        """cos and sin of the positions: from theta (and Llama 3's bands),
        or from a layer's saved inv_freq (1bitLLM)."""
        if inv is None:
            inv = F32(1) / (F32(self.theta) ** (
                np.arange(0, self.hd, 2).astype(F32) / F32(self.hd)))
            if (self.cfg.get("rope_scaling") or {}).get(
                    "rope_type") == "llama3":
                inv = self.llama3(inv)
        inv = inv.astype(F32)
        freqs = position_ids.astype(F32)[:, :, None] * inv[None, None, :]
        emb = np.concatenate([freqs, freqs], axis=-1)
        return np.cos(emb)[:, None], np.sin(emb)[:, None]

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)

    def mask(self, attention_mask, s):
        t = attention_mask.shape[1]
        past = t - s
        causal = np.arange(t)[None, :] <= (np.arange(s) + past)[:, None]
        allowed = causal[None, None] & (attention_mask[:, None, None, :] == 1)
        return np.where(allowed, F32(0), np.finfo(F32).min).astype(F32)

    def attention(self, l, x, cos, sin, mask, past):
        b, s, _ = x.shape
        p = f"model.layers.{l}.self_attn."

        def heads(y, n):
            return y.reshape(b, s, n, self.hd).transpose(0, 2, 1, 3)
        q = heads(self.linear(x, p + "q_proj.weight"), self.heads)
        k = heads(self.linear(x, p + "k_proj.weight"), self.kv)
        v = heads(self.linear(x, p + "v_proj.weight"), self.kv)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        k = np.concatenate([past[0], k], axis=2)
        v = np.concatenate([past[1], v], axis=2)
        g = self.heads // self.kv
        kr, vr = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
        scores = (q @ kr.transpose(0, 1, 3, 2)) * F32(1 / np.sqrt(self.hd))
        scores = scores + mask
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        o = (probs @ vr).transpose(0, 2, 1, 3).reshape(b, s, -1)
        if not self.llama:
            o = self.rms_norm(o, self.t[p + self.attn_norm + ".weight"])
        return self.linear(o, p + "o_proj.weight"), (k, v)

    def mlp(self, l, x):
        p = f"model.layers.{l}.mlp."
        gate = self.linear(x, p + "gate_proj.weight")
        up = self.linear(x, p + "up_proj.weight")
        if self.silu:
            a = gate * (F32(1) / (F32(1) + np.exp(-gate))) * up
        else:
            a = np.square(np.maximum(gate, F32(0))) * up
        if not self.llama:
            a = self.rms_norm(a, self.t[p + self.ffn_norm + ".weight"])
        return self.linear(a, p + "down_proj.weight")

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        """Returns (logits [B,S,V], [(key, value)] per layer)."""
        b, s = input_ids.shape
        layers = self.cfg["num_hidden_layers"]
        if past is None:
            empty = np.zeros((b, self.kv, 0, self.hd), F32)
            past = [(empty, empty)] * layers
        x = self.t["model.embed_tokens.weight"][input_ids]
        cos, sin = self.rope(position_ids)
        mask = self.mask(attention_mask, s)
        present = []
        for l in range(layers):
            pre = f"model.layers.{l}."
            h = self.rms_norm(x, self.t[pre + "input_layernorm.weight"])
            saved = self.t.get(pre + "self_attn.rotary_emb.inv_freq")
            if saved is not None:
                cos, sin = self.rope(position_ids, saved)
            a, kv = self.attention(l, h, cos, sin, mask, past[l])
            present.append(kv)
            x = x + a
            h = self.rms_norm(x, self.t[pre + "post_attention_layernorm.weight"])
            x = x + self.mlp(l, h)
        x = self.rms_norm(x, self.t["model.norm.weight"])
        if self.head_act_quant:  # a head of int8 rows (--embed int8)
            s = F32(63) / np.maximum(np.max(np.abs(x), axis=-1,
                                            keepdims=True), F32(1e-5))
            x = np.round(x * s) / s
        head = self.t.get("lm_head.weight", self.t["model.embed_tokens.weight"])
        return x @ head.T, present
