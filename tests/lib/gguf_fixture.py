#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Write a bitnet.cpp GGUF v3 model (architecture bitnet-b1.58, I2_S
projections) holding the same weights as a packed Hugging Face fixture.

Written from the format's description (gguf-read(1)): the I2_S packing
here is independent of the C code.

    gguf_fixture.py MODEL_DIR OUT.gguf [--embed TYPE] [--output-head]

TYPE is f32, f16, or one of ggml_blocks.TYPES (bf16, q8_0, q4_0, q4_k,
q6_k) for token_embd.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_blocks  # noqa: E402
import reference  # noqa: E402

ARCH = "bitnet-b1.58"
ALIGN = 32
T_F32, T_F16, T_I2S = 0, 1, 36
V_U32, V_F32, V_STRING, V_ARRAY = 4, 6, 8, 9
PARTS = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
         "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
         "self_attn.attn_sub_norm": "attn_sub_norm",
         "self_attn.o_proj": "attn_output",
         "post_attention_layernorm": "ffn_norm",
         "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
         "mlp.ffn_sub_norm": "ffn_sub_norm", "mlp.down_proj": "ffn_down"}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == V_U32:
        return out + struct.pack("<I", value)
    if vtype == V_F32:
        return out + struct.pack("<f", value)
    if vtype == V_STRING:
        return out + gstr(value)
    etype, items = value
    out += struct.pack("<IQ", etype, len(items))
    return out + b"".join(gstr(i) if etype == V_STRING else
                          struct.pack("<I", i) for i in items)


def pack_i2s(t, scale):
    """int8 -1/0/1, flat row-major -> I2_S bytes + float32 scale."""
    codes = (t.reshape(-1) + 1).astype(np.uint8).reshape(-1, 4, 32)
    packed = (codes[:, 0] << 6 | codes[:, 1] << 4 | codes[:, 2] << 2 |
              codes[:, 3]).astype(np.uint8)
    tail = np.full(8, scale, np.float32).tobytes()  # 32 bytes of scale
    return packed.tobytes() + tail


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    layer, part = hf[len("model.layers."):].split(".", 1)
    return "blk.%s.%s.weight" % (layer, PARTS[part[:-len(".weight")]])


def tensors_of(model_dir, embed, proj="i2s"):
    """[(gguf name, ggml type, ggml dims, bytes)] of the packed fixture;
    its projections as I2_S, or (proj "f32") as the float32 weights
    bitnet.cpp's llama-quantize takes."""
    cfg, t = reference.read_model(model_dir)
    divide = cfg.get("quantization_config", {}).get(
        "linear_class") == "bitlinear"
    out = []
    for name, a in sorted(t.items()):
        if name.endswith("_scale"):
            continue
        if a.dtype == np.uint8:
            w = reference.unpack(a)
            scale = np.float32(t[name + "_scale"].reshape(()))
            if proj == "f32":
                f = w.astype(np.float32)
                f = f / scale if divide else f * scale
                data, typ = f.astype(np.float32).tobytes(), T_F32
            else:
                data, typ = pack_i2s(w, scale), T_I2S
            shape = w.shape
        elif name == "model.embed_tokens.weight" and embed == "f16":
            data, typ, shape = a.astype(np.float16).tobytes(), T_F16, a.shape
        elif name == "model.embed_tokens.weight" and embed in ggml_blocks.TYPES:
            typ = ggml_blocks.TYPES[embed][0]
            data, shape = ggml_blocks.quantize(embed, a), a.shape
        else:
            data, typ, shape = a.astype(np.float32).tobytes(), T_F32, a.shape
        out.append((gguf_name(name), typ, list(reversed(shape)), data))
    return cfg, out


def tokenizer_meta(model_dir, cfg):
    """tokenizer.ggml.tokens (and merges) from the folder's tokenizer.json,
    as llama.cpp's gpt2 tokenizer reads them; placeholders without one."""
    path = os.path.join(model_dir, "tokenizer.json")
    if not os.path.exists(path):
        return [kv("tokenizer.ggml.tokens", V_ARRAY, (V_STRING, [
            "t%d" % i for i in range(cfg["vocab_size"])]))]
    with open(path) as f:
        tok = json.load(f)
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    by_id.update({a["id"]: a["content"] for a in tok["added_tokens"]})
    tokens = [by_id.get(i, "[PAD%d]" % i) for i in range(cfg["vocab_size"])]
    return [kv("tokenizer.ggml.tokens", V_ARRAY, (V_STRING, tokens)),
            kv("tokenizer.ggml.merges", V_ARRAY,
               (V_STRING, tok["model"]["merges"]))]


def write_gguf(model_dir, path, embed="f32", drop=(), extra=(),
               arch=ARCH, proj="i2s"):
    """The model folder as a GGUF of bitnet.cpp's layout, under
    architecture arch (bitnet-b1.58, or bitnet-25 as bitnet.cpp's converter
    writes it today); the metadata keys in drop (without the architecture
    prefix) are left out, the kv() records in extra added."""
    cfg, tensors = tensors_of(model_dir, embed, proj)
    p = arch + "."
    meta = [kv("general.architecture", V_STRING, arch),
            kv("general.alignment", V_U32, ALIGN),
            kv(p + "embedding_length", V_U32, cfg["hidden_size"]),
            kv(p + "block_count", V_U32, cfg["num_hidden_layers"]),
            kv(p + "feed_forward_length", V_U32, cfg["intermediate_size"]),
            kv(p + "attention.head_count", V_U32,
               cfg["num_attention_heads"]),
            kv(p + "attention.head_count_kv", V_U32,
               cfg["num_key_value_heads"]),
            kv(p + "rope.freq_base", V_F32, cfg["rope_theta"]),
            kv(p + "attention.layer_norm_rms_epsilon", V_F32,
               cfg["rms_norm_eps"]),
            kv(p + "context_length", V_U32, cfg["max_position_embeddings"]),
            kv(p + "vocab_size", V_U32, cfg["vocab_size"]),
            kv("tokenizer.ggml.model", V_STRING, "gpt2")] + \
        tokenizer_meta(model_dir, cfg) + [
            kv("tokenizer.ggml.bos_token_id", V_U32, cfg["bos_token_id"]),
            kv("tokenizer.ggml.eos_token_id", V_U32, cfg["eos_token_id"])]
    meta = [m for m in meta if not any(m.startswith(gstr(p + k))
                                       for k in drop)] + list(extra)
    infos, offset = [], 0
    for name, typ, dims, data in tensors:
        infos.append(gstr(name) + struct.pack("<I", len(dims)) +
                     b"".join(struct.pack("<Q", d) for d in dims) +
                     struct.pack("<IQ", typ, offset))
        offset += -(-len(data) // ALIGN) * ALIGN
    head = (b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) +
            b"".join(meta) + b"".join(infos))
    head += b"\0" * (-len(head) % ALIGN)
    with open(path, "wb") as f:
        f.write(head)
        for _, _, _, data in tensors:
            f.write(data + b"\0" * (-len(data) % ALIGN))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--proj", choices=["i2s", "f32"], default="i2s")
    ap.add_argument("--arch", default=ARCH)
    ap.add_argument("--embed", default="f32",
                    choices=["f32", "f16"] + sorted(ggml_blocks.TYPES))
    a = ap.parse_args()
    write_gguf(a.model, a.out, a.embed, arch=a.arch, proj=a.proj)
    return 0


if __name__ == "__main__":
    sys.exit(main())
