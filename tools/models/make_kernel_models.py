#!/usr/bin/env python3
"""Writes small ONNX graphs that exercise generated kernels past what the zoo's
16-token models reach: attention over 150 queries and keys (several query
blocks, several key tiles, a partial last tile), with an additive mask given
as an input (attention_long) or a constant causal mask of -inf above the
diagonal (attention_causal). Their inputs come from tessera-run's generator
and the reference is the CPU backend (test/e2e/cuda_kernels.sh).

usage: make_kernel_models.py OUT_DIR   (writes OUT_DIR/<name>/model.onnx)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

B, H, S, D = 1, 2, 150, 64


def attention(name, causal):
    f = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(n, f, [B, H, S, D]) for n in ("q", "k", "v")]
    inits = [helper.make_tensor("scale", f, [], [1 / 8])]
    if causal:
        tri = np.triu(np.full((S, S), -np.inf, dtype=np.float32), 1).reshape(1, 1, S, S)
        inits.append(numpy_helper.from_array(tri, "mask"))
    else:
        inputs.append(helper.make_tensor_value_info("mask", f, [B, 1, S, S]))
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
        helper.make_node("Add", ["ss", "mask"], ["sm"]),
        helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    out = helper.make_tensor_value_info("y", f, [B, H, S, D])
    graph = helper.make_graph(nodes, name, inputs, [out], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main():
    root = sys.argv[1]
    for name, causal in (("attention_long", False), ("attention_causal", True)):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        model = attention(name, causal)
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(root, name, "model.onnx"))
        print("wrote", os.path.join(root, name, "model.onnx"))


if __name__ == "__main__":
    main()
