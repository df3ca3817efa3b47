# SPDX-License-Identifier: ISC
"""Hand-made tensor streams for the bad-input tests: the protobuf headers
are encoded here field by field (from proto/tstream.proto), so any of them
can be made wrong on purpose."""
import struct

MAGIC = b"\x89TSTR\r\n\x1a"


class DType:
    """enum DType"""
    F32, F16, BF16, U8, I8, I32, I64, F64 = range(1, 9)
    SIZE = {F32: 4, F16: 2, BF16: 2, U8: 1, I8: 1, I32: 4, I64: 8, F64: 8}


class Enc:
    """enum Encoding"""
    PLAIN, HF_PACKED, I2S, INT8, Q2 = range(1, 6)


class Info:
    """message TensorInfo field numbers"""
    NAME, DTYPE, SHAPE, ENCODING, PAYLOAD_LENGTH, SCALE, SOURCE, \
        BLOCK_SIZE = range(1, 9)


class Cfg:
    """message ModelConfig field numbers (those the tests set)"""
    MODEL_TYPE, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB = \
        (1, 3, 4, 5, 6, 7, 8, 9)
    QUANT_METHOD, LINEAR_CLASS, QUANT_MODE = 17, 18, 19


class Head:
    """message StreamHeader field numbers"""
    VERSION, CONFIG_JSON, CONFIG, SIDE_FILES, MANIFEST, PRODUCERS, \
        SOURCE = range(1, 8)


class Trlr:
    """message Trailer field numbers"""
    TENSOR_COUNT, PAYLOAD_BYTES, SIDE_FILES = 1, 2, 3


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(n, v):
    return varint(n << 3) + varint(v)


def field_bytes(n, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(n << 3 | 2) + varint(len(b)) + b


def field_fixed32_float(n, f):
    return varint(n << 3 | 5) + struct.pack("<f", f)


def field_double(n, f):
    return varint(n << 3 | 1) + struct.pack("<d", f)


def config(hidden=8, layers=1, heads=2, kv=1, ffn=8, vocab=4,
           linear_class="autobitlinear", mode="offline"):
    return (field_bytes(Cfg.MODEL_TYPE, "bitnet") +
            field_varint(Cfg.HIDDEN, hidden) +
            field_varint(Cfg.LAYERS, layers) +
            field_varint(Cfg.HEADS, heads) + field_varint(Cfg.KV_HEADS, kv) +
            field_varint(Cfg.HEAD_DIM, hidden // heads) +
            field_varint(Cfg.FFN, ffn) + field_varint(Cfg.VOCAB, vocab) +
            field_bytes(Cfg.QUANT_METHOD, "bitnet") +
            field_bytes(Cfg.LINEAR_CLASS, linear_class) +
            field_bytes(Cfg.QUANT_MODE, mode))


def tensor_info(name, dtype=DType.F32, shape=(4,), encoding=Enc.PLAIN,
                length=None, scale=None, block_size=None):
    """A TensorInfo; payload_length is what the encoding needs unless
    length is given."""
    n = 1
    for s in shape:
        n *= s
    if length is None:
        length = {Enc.HF_PACKED: n // 4, Enc.I2S: n // 4 + 32}.get(
            encoding, n * DType.SIZE.get(dtype, 1))
    b = field_bytes(Info.NAME, name) + field_varint(Info.DTYPE, dtype)
    for s in shape:
        b += field_varint(Info.SHAPE, s)
    b += (field_varint(Info.ENCODING, encoding) +
          field_varint(Info.PAYLOAD_LENGTH, length))
    if scale is not None:
        b += field_fixed32_float(Info.SCALE, scale)
    if block_size is not None:
        b += field_varint(Info.BLOCK_SIZE, block_size)
    return b


def header(manifest, version=1, cfg=None, extra=b""):
    b = field_varint(Head.VERSION, version)
    if cfg is not False:
        b += field_bytes(Head.CONFIG, cfg if cfg is not None else config())
    for t in manifest:
        b += field_bytes(Head.MANIFEST, t)
    return b + extra


def frame(tag, body):
    return tag + struct.pack("<I", len(body)) + body


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def tensor(info, payload, crc=None, mark=b"TEND"):
    c = crc32c(payload) if crc is None else crc
    return frame(b"TENS", info) + payload + mark + struct.pack("<I", c)


def trailer(count, nbytes):
    return frame(b"TRLR", field_varint(Trlr.TENSOR_COUNT, count) +
                 field_varint(Trlr.PAYLOAD_BYTES, nbytes))


def stream(manifest, tensors, count=None, nbytes=None, head=None,
           tail=None):
    """A whole stream: magic, header of manifest, tensors as (info,
    payload) pairs or raw bytes, and a trailer counting them unless
    count, nbytes or tail say otherwise."""
    body = head if head is not None else header(manifest)
    out = MAGIC + struct.pack("<I", 1) + frame(b"HEAD", body)
    total = 0
    for t in tensors:
        if isinstance(t, tuple):
            out += tensor(*t)
            total += len(t[1])
        else:
            out += t
    if tail is not None:
        return out + tail
    return out + trailer(len(tensors) if count is None else count,
                         total if nbytes is None else nbytes)
