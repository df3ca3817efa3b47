# SPDX-License-Identifier: ISC
"""Hand-made tensor streams for the bad-input tests: the protobuf headers
are encoded here field by field (from proto/tstream.proto), so any of them
can be made wrong on purpose."""
import struct

MAGIC = b"\x89TSTR\r\n\x1a"


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
           linear_class="autobitlinear"):
    return (field_bytes(1, "bitnet") + field_varint(3, hidden) +
            field_varint(4, layers) + field_varint(5, heads) +
            field_varint(6, kv) + field_varint(7, hidden // heads) +
            field_varint(8, ffn) + field_varint(9, vocab) +
            field_bytes(17, "bitnet") + field_bytes(18, linear_class) +
            field_bytes(19, "offline"))


def tensor_info(name, dtype=1, shape=(4,), encoding=1, length=None,
                scale=None):
    """dtype 1 f32, 3 bf16, 4 u8; encoding 1 plain, 2 hf-packed, 3 i2s."""
    size = {1: 4, 2: 2, 3: 2, 4: 1, 5: 1}.get(dtype, 1)
    n = 1
    for s in shape:
        n *= s
    if length is None:
        length = {2: n // 4, 3: n // 4 + 32}.get(encoding, n * size)
    b = field_bytes(1, name) + field_varint(2, dtype)
    for s in shape:
        b += field_varint(3, s)
    b += field_varint(4, encoding) + field_varint(5, length)
    if scale is not None:
        b += field_fixed32_float(6, scale)
    return b


def header(manifest, version=1, cfg=None, extra=b""):
    b = field_varint(1, version)
    if cfg is not False:
        b += field_bytes(3, cfg if cfg is not None else config())
    for t in manifest:
        b += field_bytes(5, t)
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
    return frame(b"TRLR", field_varint(1, count) + field_varint(2, nbytes))


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
