#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The profile of one operator in place: a copy of an ONNX model (its
external data shared, not copied) whose OP nodes give zeros of their
output's shape instead of computing it, so that the time a decode step
loses is that operator's share of it, in the runtime that runs it.

    no_matmul.py MODEL.onnx OUT.onnx [OP]     (OP: MatMulInteger)

MatMulInteger(A [M, K], B [K, N]) becomes Expand(zeros int32 [1, N],
[M, N]), M taken from A's shape.  OUT names the data files MODEL does:
put it where they are (or links to them) are."""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main():
    src, out = sys.argv[1], sys.argv[2]
    op = sys.argv[3] if len(sys.argv) > 3 else "MatMulInteger"
    assert op == "MatMulInteger", "only MatMulInteger is replaced"
    m = onnx.load(src, load_external_data=False)
    inits = {i.name: i for i in m.graph.initializer}
    producers = {o: n for n in m.graph.node for o in n.output}
    nodes, k = [], 0
    for n in m.graph.node:
        if n.op_type != op:
            nodes.append(n)
            continue
        b = n.input[1]
        if b in inits:
            cols = inits[b].dims[1]
        else:  # the folded Transpose of a table piece [N, K]
            cols = inits[producers[b].input[0]].dims[0]
        z, shape, m_dim = "nm_zero%d" % k, "nm_shape%d" % k, "nm_m%d" % k
        m.graph.initializer.append(numpy_helper.from_array(
            np.zeros((1, cols), np.int32), z))
        m.graph.initializer.append(numpy_helper.from_array(
            np.array([cols], np.int64), "nm_cols%d" % k))
        nodes += [
            helper.make_node("Shape", [n.input[0]], [m_dim], end=1),
            helper.make_node("Concat", [m_dim, "nm_cols%d" % k], [shape],
                             axis=0),
            helper.make_node("Expand", [z, shape], [n.output[0]])]
        k += 1
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save(m, out)
    print("%s: %d %s nodes replaced" % (out, k, op))


if __name__ == "__main__":
    main()
