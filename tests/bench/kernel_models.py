#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""One projection alone, in each weight form a runtime could run it as:
models that multiply x [1, K] by the same ternary weights W [N, K] (a
fixed seed), for kernels.js to time one kernel at a time without the
rest of a decoder.

    kernel_models.py OUTDIR [--mib M] [K N]   (default: 128, and 2560
                                              6912, the 2B4T's ffn gate)

A model holds as many copies of the projection (all on the same x,
outputs y0, y1, ...) as make M MiB of weights, so that a run streams
them from memory as a decoder's token does: one copy would stay in the
CPU's last-level cache (32 MiB on the bench machine) and time the
kernel's arithmetic alone.  --mib 0 makes one copy of each, to time just
that.  Copy c holds W's rows rotated by c (its output is x @ W^T rotated
the same way): with the same bytes in every copy onnxruntime-node ran
MatMulInteger twice as fast as on distinct weights.

Writes OUTDIR/NAME.onnx; OUTDIR/forms.json, a row per model: {"name",
"op", "input": "float32" | "uint8", "weight_bytes" (of one copy),
"copies", "exact"}; x.bin, the
input (K int8) and ref.bin, x @ W^T (N little-endian int32).
  mnb{2,4,8}_b{32,128,256}_a{0,4}  com.microsoft.MatMulNBits, W as
      bits-wide codes W + 2^(bits-1) with that zero point, in blocks of
      32, 128 or 256, accuracy level 0 or 4, every block's scale 1: the
      output is x @ W^T (level 4 quantizes x per block to int8 first);
  mmint  MatMulInteger(x + 128 as uint8, zero point 128; W^T as int8),
      the int8 form's: the same integer sums, as int32.
The input of the float forms is integers in [-127, 127], so each form's
output can be checked against x @ W^T exactly (level 0, MatMulInteger)
or within its rounding (level 4)."""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (bits, blocks): onnxruntime's MatMulNBits takes blocks of 16 to 256;
# 2-bit in 256 has no CPU kernel (the converter writes 32 to 128).
NBITS_FORMS = ((2, (32, 128)), (4, (32, 128, 256)), (8, (32, 128)))


def save(path, make_node, make_inits, in_type, out_type, k, n, copies):
    """The model of `copies` nodes make_node(c) (output y{c}), each with
    the initializers make_inits(c) gives, (NAME, array) pairs, named
    NAME{c}."""
    nodes, tensors, outs = [], [], []
    for c in range(copies):
        nodes.append(make_node(c))
        tensors += [numpy_helper.from_array(a, "%s%d" % (name, c))
                    for name, a in make_inits(c)]
        outs.append(helper.make_tensor_value_info("y%d" % c, out_type,
                                                  [1, n]))
    graph = helper.make_graph(
        nodes, "kernel", [helper.make_tensor_value_info("x", in_type,
                                                         [1, k])],
        outs, tensors)
    contrib = nodes[0].domain == "com.microsoft"
    opsets = [helper.make_opsetid("", 17)]
    if contrib:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def packed_codes(w, bits, block):
    """W [N, K] as MatMulNBits' B: u8 [N, K / block, block * bits / 8],
    codes w + 2^(bits - 1), the lowest bits first."""
    n, k = w.shape
    per = 8 // bits
    codes = (w.astype(np.int32) + (1 << (bits - 1))).astype(np.uint8)
    codes = codes.reshape(n, k // block, block // per, per)
    out = np.zeros(codes.shape[:3], np.uint8)
    for i in range(per):
        out |= codes[..., i] << (bits * i)
    return out


def copies_for(nbytes, mib):
    return max(1, -(-(mib << 20) // nbytes))


def nbits_model(outdir, w, bits, block, level, mib):
    n, k = w.shape
    name = "mnb%d_b%d_a%d" % (bits, block, level)
    b = packed_codes(w, bits, block)
    scales = np.ones((n, k // block), np.float32)
    copies = copies_for(b.nbytes + scales.nbytes, mib)
    save(os.path.join(outdir, name + ".onnx"), lambda c: helper.make_node(
        "MatMulNBits", ["x", "B%d" % c, "scales%d" % c], ["y%d" % c],
        domain="com.microsoft", K=k, N=n, bits=bits, block_size=block,
        accuracy_level=level),
        lambda c: [("B", np.roll(b, c, axis=0)), ("scales", scales)],
        TensorProto.FLOAT, TensorProto.FLOAT, k, n, copies)
    return {"name": name, "op": "MatMulNBits", "input": "float32",
            "weight_bytes": int(b.nbytes + scales.nbytes), "copies": copies,
            "exact": level == 0}


def int8_model(outdir, w, mib):
    n, k = w.shape
    wt = np.ascontiguousarray(w.T)
    copies = copies_for(wt.nbytes, mib)
    save(os.path.join(outdir, "mmint.onnx"), lambda c: helper.make_node(
        "MatMulInteger", ["x", "W%d" % c, "zero%d" % c], ["y%d" % c]),
        lambda c: [("W", np.roll(wt, c, axis=1)),
                   ("zero", np.array([128], np.uint8))],
        TensorProto.UINT8, TensorProto.INT32, k, n, copies)
    return {"name": "mmint", "op": "MatMulInteger", "input": "uint8",
            "weight_bytes": int(wt.nbytes), "copies": copies, "exact": True}


def main():
    args = sys.argv[1:]
    mib = 128
    if len(args) >= 2 and args[1] == "--mib":
        mib = int(args[2])
        del args[1:3]
    if len(args) not in (1, 3) or mib < 0:
        sys.exit("usage: kernel_models.py OUTDIR [--mib M] [K N]")
    outdir = args[0]
    k, n = (int(v) for v in args[1:]) if len(args) == 3 else (2560, 6912)
    if k % 256:
        sys.exit("kernel_models.py: K %d is not a multiple of 256, the "
                 "largest block" % k)
    os.makedirs(outdir, exist_ok=True)
    w = np.random.default_rng(0).integers(-1, 2, (n, k)).astype(np.int8)
    forms = [nbits_model(outdir, w, bits, block, level, mib)
             for bits, blocks in NBITS_FORMS for block in blocks
             for level in (0, 4)]
    forms.append(int8_model(outdir, w, mib))
    with open(os.path.join(outdir, "forms.json"), "w") as f:
        json.dump({"k": k, "n": n, "forms": forms}, f, indent=1)
    # the input, and x @ W^T that every output is checked against
    x = np.random.default_rng(1).integers(-127, 128, k).astype(np.int8)
    x.tofile(os.path.join(outdir, "x.bin"))
    (w.astype(np.int32) @ x.astype(np.int32)).astype("<i4").tofile(
        os.path.join(outdir, "ref.bin"))


if __name__ == "__main__":
    main()
