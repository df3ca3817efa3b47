#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Write a bitnet.cpp GGUF v3 model (I2_S projections, or the float32 ones
bitnet.cpp's llama-quantize takes) holding the same weights as a Hugging
Face fixture, laid out as bitnet.cpp's converter lays out each family:

    bitnet-b1.58, bitnet-25   microsoft's BitNet (packed fixtures)
    llama                     Llama with BitLinear projections: the rows of
                              attn_q and attn_k interleaved per head for
                              llama.cpp's adjacent-pair RoPE, W = t / scale
    bitnet                    1bitLLM's bitnet_b1_58: the float masters
                              quantized per tensor, its sub-norms under
                              BitNet's GGUF names, no RoPE buffers

Written from the format's description (gguf-read(1)): the I2_S packing
here is independent of the C code.

    gguf_fixture.py MODEL_DIR OUT.gguf [--embed TYPE] [--arch A]
                    [--proj i2s|f32]

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
V_U32, V_I32, V_F32, V_BOOL, V_STRING, V_ARRAY = 4, 5, 6, 7, 8, 9
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED = 1, 3, 4
PARTS = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
         "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
         "self_attn.attn_sub_norm": "attn_sub_norm",
         "self_attn.o_proj": "attn_output",
         "post_attention_layernorm": "ffn_norm",
         "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
         "mlp.ffn_sub_norm": "ffn_sub_norm", "mlp.down_proj": "ffn_down",
         # 1bitLLM's names of the sub-norms
         "self_attn.inner_attn_ln": "attn_sub_norm",
         "mlp.ffn_layernorm": "ffn_sub_norm"}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == V_U32:
        return out + struct.pack("<I", value)
    if vtype == V_BOOL:
        return out + struct.pack("<B", bool(value))
    if vtype == V_F32:
        return out + struct.pack("<f", value)
    if vtype == V_STRING:
        return out + gstr(value)
    etype, items = value
    out += struct.pack("<IQ", etype, len(items))
    return out + b"".join(gstr(i) if etype == V_STRING else
                          struct.pack({V_I32: "<i", V_F32: "<f"}.get(
                              etype, "<I"), i) for i in items)


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


PROJECTIONS = tuple(k + ".weight" for k in PARTS if k.endswith("_proj"))


def permute(w, heads):
    """The rows of each head's q or k reordered as llama.cpp's converter
    does for its adjacent-pair RoPE: row 2i+j of a head is the Hugging Face
    row j*head_dim/2 + i."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]) \
        .swapaxes(1, 2).reshape(w.shape)


def ternary_of(name, a, t, cfg):
    """A projection as its -1/0/+1 values and the float32 weights the
    converter writes (W = t * m)."""
    if a.dtype == np.uint8:   # packed, beside its weight_scale
        w = reference.unpack(a)
        ws = np.float32(t[name + "_scale"].reshape(()))
        q = cfg.get("quantization_config", {})
        f = w.astype(np.float32)
        if q.get("linear_class", "bitlinear") == "bitlinear":
            return w, (f / ws).astype(np.float32)
        return w, f * ws
    # float masters (1bitLLM): quantized per tensor in their own type
    q = reference.Reference.online_weight(a.astype(np.float32))
    return np.sign(q).astype(np.int8), q.astype(a.dtype).astype(np.float32)


def projection(name, a, t, cfg, arch, proj):
    w, f = ternary_of(name, a, t, cfg)
    if arch == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
        heads = cfg["num_attention_heads" if "q_proj" in name
                    else "num_key_value_heads"]
        w, f = permute(w, heads), permute(f, heads)
    if proj == "f32":
        return f.tobytes(), T_F32, w.shape
    return pack_i2s(w, np.max(np.abs(f))), T_I2S, w.shape


def tensors_of(model_dir, embed, proj="i2s", arch=ARCH):
    """[(gguf name, ggml type, ggml dims, bytes)] of the fixture; its
    projections as I2_S, or (proj "f32") as the float32 weights
    bitnet.cpp's llama-quantize takes."""
    cfg, t = reference.read_model(model_dir)
    out = []
    for name, a in sorted(t.items()):
        if name.endswith(("_scale", "rotary_emb.inv_freq")):
            continue
        if a.dtype == np.uint8 or (
                a.ndim == 2 and name.endswith(PROJECTIONS)):
            data, typ, shape = projection(name, a, t, cfg, arch, proj)
        elif name == "model.embed_tokens.weight" and embed == "f16":
            data, typ, shape = a.astype(np.float16).tobytes(), T_F16, a.shape
        elif name == "model.embed_tokens.weight" and embed in ggml_blocks.TYPES:
            typ = ggml_blocks.TYPES[embed][0]
            data, shape = ggml_blocks.quantize(embed, a), a.shape
        else:
            data, typ, shape = a.astype(np.float32).tobytes(), T_F32, a.shape
        out.append((gguf_name(name), typ, list(reversed(shape)), data))
    return cfg, out


def pre_of(tok):
    """The tokenizer.ggml.pre llama.cpp's converter would name for a
    tokenizer.json: Llama 3's split pattern is llama-bpe, GPT-2's
    byte-level one gpt-2."""
    pre = tok["pre_tokenizer"]
    if pre["type"] == "Sequence" and pre["pretokenizers"][0]["type"] == \
            "Split":
        return "llama-bpe"
    assert pre["type"] == "ByteLevel" and pre["use_regex"], pre
    return "gpt-2"


def adds_bos(tok):
    """Does the post-processor (alone, or in a Sequence) put a special
    token first, as llama.cpp's converter reads it?"""
    post = tok["post_processor"] or {}
    for p in post.get("processors", [post]):
        if p["type"] == "TemplateProcessing":
            return "SpecialToken" in p["single"][0]
    return False


def tokenizer_meta(model_dir, cfg):
    """tokenizer.ggml.* from the folder's tokenizer.json, as llama.cpp's
    converter writes a byte-level BPE: tokens, their types (special added
    tokens are control, other added ones user-defined), merges, the
    pre-tokenizer's name and whether a BOS is added; placeholders without
    one."""
    path = os.path.join(model_dir, "tokenizer.json")
    if not os.path.exists(path):
        return [kv("tokenizer.ggml.tokens", V_ARRAY, (V_STRING, [
            "t%d" % i for i in range(cfg["vocab_size"])]))]
    with open(path) as f:
        tok = json.load(f)
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    by_id.update({a["id"]: a["content"] for a in tok["added_tokens"]})
    tokens = [by_id.get(i, "[PAD%d]" % i) for i in range(cfg["vocab_size"])]
    types = [TOKEN_NORMAL] * len(tokens)
    for a in tok["added_tokens"]:
        types[a["id"]] = TOKEN_CONTROL if a["special"] else \
            TOKEN_USER_DEFINED
    return [kv("tokenizer.ggml.pre", V_STRING, pre_of(tok)),
            kv("tokenizer.ggml.tokens", V_ARRAY, (V_STRING, tokens)),
            kv("tokenizer.ggml.token_type", V_ARRAY, (V_I32, types)),
            kv("tokenizer.ggml.merges", V_ARRAY,
               (V_STRING, tok["model"]["merges"])),
            kv("tokenizer.ggml.add_bos_token", V_BOOL, adds_bos(tok))]


def write_gguf(model_dir, path, embed="f32", drop=(), extra=(),
               arch=ARCH, proj="i2s", edit=None, tokenizer=None):
    """The model folder as a GGUF of bitnet.cpp's layout, under
    architecture arch (bitnet-b1.58, or bitnet-25 as bitnet.cpp's converter
    writes it today, bitnet for 1bitLLM, llama for the Llama family); the
    metadata keys in drop (without the architecture prefix) are left out,
    the kv() records in extra added; edit, if given, takes the tensor list
    of tensors_of and returns the one written; tokenizer, if given, is the
    list of kv() records of the tokenizer written instead of the folder's
    byte-level BPE."""
    cfg, tensors = tensors_of(model_dir, embed, proj, arch)
    if edit is not None:
        tensors = edit(tensors)
    p = arch + "."
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg[
        "num_attention_heads"]
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
            ] + ([  # what bitnet.cpp's converter adds for Llama
                kv(p + "rope.dimension_count", V_U32, hd)] if arch == "llama"
            else []) + ([
                kv(p + "attention.key_length", V_U32, hd),
                kv(p + "attention.value_length", V_U32, hd)]
            if hd * cfg["num_attention_heads"] != cfg["hidden_size"]
            else []) + ([  # what bitnet.cpp's converter writes for 1bitLLM
                kv(p + "rope.scaling.type", V_STRING, "linear"),
                kv(p + "rope.scaling.factor", V_F32, 1.0)]
            if arch == "bitnet" else []) + (list(tokenizer) if tokenizer
                                             is not None else [
            kv("tokenizer.ggml.model", V_STRING, "gpt2")] +
        tokenizer_meta(model_dir, cfg) + [
            kv("tokenizer.ggml.bos_token_id", V_U32, cfg["bos_token_id"]),
            kv("tokenizer.ggml.eos_token_id", V_U32, cfg["eos_token_id"])])
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
