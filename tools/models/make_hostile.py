#!/usr/bin/env python3
"""Writes the hostile ONNX files of test/frontends/onnx/hostile_*.test.

    python tools/models/make_hostile.py [--out test/frontends/onnx/Inputs/hostile]

Each file is a small, otherwise valid model with one fault. The files are
committed; this script documents and regenerates them (needs PyPI onnx).
"""
import argparse
import os

import numpy as np
from onnx import TensorProto, helper


def model(nodes, inputs, outputs, initializers=(), opset=17, domains=()):
    graph = helper.make_graph(nodes, "hostile", inputs, outputs, list(initializers))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(graph, opset_imports=imports, producer_name="tessera-hostile")
    m.ir_version = 8
    return m


def vec(name, n=4):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [n])


def external(name, location, dims=(4,), offset=None, length=None):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
    return t


def raw(name, dims, nbytes):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.raw_data = bytes(nbytes)
    return t


def add_with(init):
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
                 [vec("x")], [vec("y")], [init])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="test/frontends/onnx/Inputs/hostile")
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    files = {
        "ext_traversal.onnx": add_with(external("w", "../../../../etc/passwd")),
        "ext_absolute.onnx": add_with(external("w", "/etc/passwd")),
        "ext_symlink.onnx": add_with(external("w", "weights.bin")),
        "ext_beyond_end.onnx": add_with(external("w", "small.bin", offset=8)),
        "ext_missing.onnx": add_with(external("w", "nowhere.bin")),
        "absurd_dims.onnx": add_with(raw("w", [1 << 45, 4], 16)),
        "negative_dims.onnx": add_with(raw("w", [-4], 16)),
        "count_overflow.onnx": add_with(raw("w", [1 << 40, 1 << 40, 1 << 40], 16)),
        "raw_size_mismatch.onnx": add_with(raw("w", [4], 8)),
        "missing_initializer.onnx": model(
            [helper.make_node("Add", ["x", "w"], ["y"], name="add0")], [vec("x")], [vec("y")]),
        "cycle.onnx": model(
            [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")],
            [vec("x")], [vec("a")]),
        "input_absurd_dim.onnx": model(
            [helper.make_node("Relu", ["x"], ["y"], name="relu0")],
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 40])], [vec("y")]),
        "unsupported_op.onnx": model(
            [helper.make_node("Det", ["x"], ["y"], name="det0")],
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])]),
        "custom_domain.onnx": model(
            [helper.make_node("FusedMatMul", ["x", "x"], ["y"], name="fmm0",
                              domain="com.microsoft")],
            [vec("x")], [vec("y")], domains=["com.microsoft"]),
        "bad_attribute.onnx": model(
            [helper.make_node("Softmax", ["x"], ["y"], name="softmax0", axis=5)],
            [vec("x")], [vec("y")], opset=13),
        "opset_newer.onnx": model(
            [helper.make_node("Relu", ["x"], ["y"], name="relu0")], [vec("x")], [vec("y")],
            opset=40),
        "shape_mismatch.onnx": model(
            [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm0")],
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3]),
             helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 5])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])]),
    }
    for name, m in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(m.SerializeToString())
    print(f"wrote {len(files)} files to {out}")


if __name__ == "__main__":
    main()
