# SPDX-License-Identifier: ISC
"""ggml's block-quantized tensor types in numpy, written from the format
descriptions (ggml's block layouts): make blocks of each type from a
float matrix, and dequantize them as ggml does, value by value in float32.
For the GGUF fixtures and the checks of gguf-read."""
import numpy as np

F32 = np.float32
# name: (ggml type id, values a block, bytes a block)
TYPES = {"q4_0": (2, 32, 18), "q8_0": (8, 32, 34), "q4_k": (12, 256, 144),
         "q6_k": (14, 256, 210), "bf16": (30, 1, 2)}


def _half(b, at):
    """The float16 at byte offset `at` of each block, as float32."""
    return b[:, at:at + 2].copy().view(np.float16)[:, 0].astype(F32)


def dequantize(kind, raw, n):
    """n float32 values of the blocks in raw (bytes)."""
    _, vals, size = TYPES[kind]
    b = np.frombuffer(raw, np.uint8).reshape(-1, size)
    if kind == "bf16":
        bits = b.copy().view(np.uint16).astype(np.uint32) << 16
        return bits.view(F32).reshape(-1)[:n]
    out = {"q4_0": _q4_0, "q8_0": _q8_0, "q4_k": _q4_k,
           "q6_k": _q6_k}[kind](b)
    return out.reshape(-1)[:n]


def _q8_0(b):
    return b[:, 2:].view(np.int8).astype(F32) * _half(b, 0)[:, None]


def _q4_0(b):
    d = _half(b, 0)[:, None]
    qs = b[:, 2:18].astype(np.int32)
    lo = ((qs & 15) - 8).astype(F32) * d
    hi = ((qs >> 4) - 8).astype(F32) * d
    return np.concatenate([lo, hi], 1)


def _scale_min(s, j):
    """Q4_K's 6-bit scale and min of sub-block j of scales s [nb, 12]."""
    s = s.astype(np.int32)
    if j < 4:
        return s[:, j] & 63, s[:, j + 4] & 63
    return ((s[:, j + 4] & 15) | (s[:, j - 4] >> 6) << 4,
            (s[:, j + 4] >> 4) | (s[:, j] >> 6) << 4)


def _q4_k(b):
    d, dmin = _half(b, 0)[:, None], _half(b, 2)[:, None]
    s, q = b[:, 4:16], b[:, 16:].astype(np.int32)
    out = []
    for j in range(4):
        qj = q[:, 32 * j:32 * j + 32]
        for k, nib in ((2 * j, qj & 15), (2 * j + 1, qj >> 4)):
            sc, m = _scale_min(s, k)
            dk = (d * sc[:, None].astype(F32)).astype(F32)
            mk = (dmin * m[:, None].astype(F32)).astype(F32)
            out.append((dk * nib.astype(F32)).astype(F32) - mk)
    return np.concatenate(out, 1)


def _q6_k(b):
    ql, qh = b[:, :128].astype(np.int32), b[:, 128:192].astype(np.int32)
    sc = b[:, 192:208].view(np.int8).astype(F32)
    d = _half(b, 208)[:, None]
    out = np.zeros((b.shape[0], 256), F32)
    for h in range(2):
        l_, h_, s_ = ql[:, 64 * h:64 * h + 64], qh[:, 32 * h:32 * h + 32], \
            sc[:, 8 * h:8 * h + 8]
        for r, (lo, shift, high) in enumerate(((0, 0, False), (32, 2, False),
                                               (0, 4, True), (32, 6, True))):
            nib = l_[:, lo:lo + 32]
            nib = (nib >> 4) if high else (nib & 15)
            q = (nib | ((h_ >> shift) & 3) << 4) - 32
            scale = np.repeat(s_[:, [2 * r, 2 * r + 1]], 16, 1)
            out[:, 128 * h + 32 * r:128 * h + 32 * r + 32] = \
                ((d * scale).astype(F32) * q.astype(F32)).astype(F32)
    return out


def quantize(kind, x, seed=0):
    """Blocks of type kind for the float matrix x (its size a multiple of
    the block): Q8_0 and Q4_0 quantize x (d from max|x|); the K types
    take random codes with scales of x's size, enough to check a reader;
    BF16 rounds x to bfloat16 (truncating)."""
    _, vals, size = TYPES[kind]
    x = np.asarray(x, F32).reshape(-1, vals)
    rng = np.random.default_rng(seed)
    nb = x.shape[0]
    if kind == "bf16":
        return (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    b = np.zeros((nb, size), np.uint8)
    amax = np.abs(x).max(1)
    if kind == "q8_0":
        d = (amax / 127).astype(np.float16)
        inv = np.where(d != 0, 1 / np.where(d != 0, d, 1).astype(F32), 0)
        q = np.clip(np.rint(x * inv[:, None]), -127, 127).astype(np.int8)
        b[:, :2] = d.view(np.uint8).reshape(nb, 2)
        b[:, 2:] = q.view(np.uint8)
    elif kind == "q4_0":
        d = (amax / 7).astype(np.float16)
        inv = np.where(d != 0, 1 / np.where(d != 0, d, 1).astype(F32), 0)
        q = (np.clip(np.rint(x * inv[:, None]), -8, 7) + 8).astype(np.uint8)
        b[:, :2] = d.view(np.uint8).reshape(nb, 2)
        b[:, 2:18] = q[:, :16] | (q[:, 16:] << 4)
    else:
        b[:] = rng.integers(0, 256, b.shape, dtype=np.uint8)
        d = (amax / 2000).astype(np.float16)
        at = 0 if kind == "q4_k" else 208
        b[:, at:at + 2] = d.view(np.uint8).reshape(nb, 2)
        if kind == "q4_k":
            b[:, 2:4] = (amax / 4000).astype(np.float16).view(
                np.uint8).reshape(nb, 2)
    return b.tobytes()
