#!/usr/bin/env python3
"""Small ONNX graphs for ops the zoo reaches only in part:
test/e2e/Inputs/ops/<name>/ with model.onnx, inputs/*.npy and ONNX Runtime's
outputs/*.npy.

    .venv-models/bin/python tools/models/make_op_models.py [OUT_DIR]

topk: TopK (k 2, along the last axis, largest and smallest first) of a
run-time float tensor with ties and -inf, and of its transpose along axis 0.

onehot_gather: OneHot (constant depth 5, values [-1, 3], axis 1) of run-time
indices with negative and out-of-range entries, and GatherElements along
axis 0 and axis 1 (negative indices) of a run-time float tensor.

scatter: ScatterElements (axis 0 replacing, axis 1 adding with negative and
repeated indices, max and mul) and ScatterND (whole rows replaced; single
elements added with a repeated tuple; min) on run-time data, indices and
updates.

experts: a mixture of experts' product as exporters write it (each token's
expert weights gathered by run-time ids, a batched MatMul) with 4 experts
whose other dimensions do not divide by 4: under tp=4 the search splits the
table by expert.

per_sample: batch-sized constants whose rows differ (what static exports
fold: positions per sample, a per-sample scale, a padding bias stored
transposed) beside a run-time input x [4, 6]: data parallelism and
micro-batches must give each replica its own rows. inputs/labels.npy: labels
for a training step over y as logits.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def onehot_gather(out):
    f, i = TensorProto.FLOAT, TensorProto.INT64
    inputs = [helper.make_tensor_value_info("idx", i, [2, 3]),
              helper.make_tensor_value_info("data", f, [3, 4]),
              helper.make_tensor_value_info("rows", i, [2, 4]),
              helper.make_tensor_value_info("cols", i, [3, 2])]
    outputs = [helper.make_tensor_value_info("onehot", f, [2, 5, 3]),
               helper.make_tensor_value_info("by_rows", f, [2, 4]),
               helper.make_tensor_value_info("by_cols", f, [3, 2])]
    inits = [helper.make_tensor("depth", i, [], [5]),
             helper.make_tensor("values", f, [2], [-1.0, 3.0])]
    nodes = [helper.make_node("OneHot", ["idx", "depth", "values"], ["onehot"], axis=1),
             helper.make_node("GatherElements", ["data", "rows"], ["by_rows"], axis=0),
             helper.make_node("GatherElements", ["data", "cols"], ["by_cols"], axis=1)]
    graph = helper.make_graph(nodes, "onehot_gather", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    feeds = {"idx": np.array([[0, 4, -1], [-5, 7, 2]], np.int64),
             "data": np.arange(12, dtype=np.float32).reshape(3, 4) * 1.5 - 4,
             "rows": np.array([[2, 0, 1, -1], [0, 1, 2, 0]], np.int64),
             "cols": np.array([[3, -4], [1, 1], [-1, 0]], np.int64)}
    return model, feeds


def topk(out):
    f, i = TensorProto.FLOAT, TensorProto.INT64
    inputs = [helper.make_tensor_value_info("x", f, [3, 5])]
    outputs = [helper.make_tensor_value_info(n, t, s) for n, t, s in (
        ("largest", f, [3, 2]), ("largest_at", i, [3, 2]),
        ("smallest", f, [3, 2]), ("smallest_at", i, [3, 2]),
        ("down", f, [2, 5]), ("down_at", i, [2, 5]))]
    inits = [helper.make_tensor("k", i, [1], [2])]
    nodes = [helper.make_node("TopK", ["x", "k"], ["largest", "largest_at"], axis=-1),
             helper.make_node("TopK", ["x", "k"], ["smallest", "smallest_at"], axis=1,
                              largest=0),
             helper.make_node("TopK", ["x", "k"], ["down", "down_at"], axis=0)]
    graph = helper.make_graph(nodes, "topk", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    x = np.array([[0.5, 2.0, 2.0, -1.0, 0.0],
                  [-np.inf, -np.inf, -3.0, -np.inf, -7.5],
                  [1.25, -2.0, 9.0, 9.0, 9.0]], np.float32)
    return model, {"x": x}


def scatter(out):
    f, i = TensorProto.FLOAT, TensorProto.INT64
    inputs = [helper.make_tensor_value_info("data", f, [3, 4]),
              helper.make_tensor_value_info("rows", i, [2, 4]),
              helper.make_tensor_value_info("cols", i, [3, 2]),
              helper.make_tensor_value_info("upd_rows", f, [2, 4]),
              helper.make_tensor_value_info("upd_cols", f, [3, 2]),
              helper.make_tensor_value_info("tuples1", i, [2, 1]),
              helper.make_tensor_value_info("upd1", f, [2, 4]),
              helper.make_tensor_value_info("tuples2", i, [3, 2]),
              helper.make_tensor_value_info("upd2", f, [3])]
    names = ["replaced", "added", "maxed", "multiplied", "nd_rows", "nd_added", "nd_min"]
    outputs = [helper.make_tensor_value_info(n, f, [3, 4]) for n in names]
    nodes = [helper.make_node("ScatterElements", ["data", "rows", "upd_rows"], ["replaced"],
                              axis=0),
             helper.make_node("ScatterElements", ["data", "cols", "upd_cols"], ["added"],
                              axis=1, reduction="add"),
             helper.make_node("ScatterElements", ["data", "cols", "upd_cols"], ["maxed"],
                              axis=1, reduction="max"),
             helper.make_node("ScatterElements", ["data", "rows", "upd_rows"], ["multiplied"],
                              axis=0, reduction="mul"),
             helper.make_node("ScatterND", ["data", "tuples1", "upd1"], ["nd_rows"]),
             helper.make_node("ScatterND", ["data", "tuples2", "upd2"], ["nd_added"],
                              reduction="add"),
             helper.make_node("ScatterND", ["data", "tuples2", "upd2"], ["nd_min"],
                              reduction="min")]
    graph = helper.make_graph(nodes, "scatter", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    feeds = {"data": np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5 - 2,
             "rows": np.array([[2, 0, -1, 1], [0, 1, 0, -3]], np.int64),
             "cols": np.array([[3, -4], [1, 1], [-1, 0]], np.int64),
             "upd_rows": np.array([[9, -8, 7, 6], [-5, 4, -3, 2]], np.float32),
             "upd_cols": np.array([[1.5, -2], [3, 0.25], [-7, 8]], np.float32),
             "tuples1": np.array([[2], [-3]], np.int64),
             "upd1": np.array([[1, 2, 3, 4], [-1, -2, -3, -4]], np.float32),
             "tuples2": np.array([[0, 1], [2, -1], [0, 1]], np.int64),
             "upd2": np.array([10, -20, -30], np.float32)}
    return model, feeds


def experts(out):
    f, i = TensorProto.FLOAT, TensorProto.INT64
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((4, 63, 95)) * 0.1).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", f, [6, 95, 1]),
              helper.make_tensor_value_info("ids", i, [6])]
    outputs = [helper.make_tensor_value_info("y", f, [6, 63, 1])]
    inits = [helper.make_tensor("experts.w", f, list(w.shape), w.flatten().tolist())]
    nodes = [helper.make_node("Gather", ["experts.w", "ids"], ["picked"], axis=0),
             helper.make_node("MatMul", ["picked", "x"], ["y"])]
    graph = helper.make_graph(nodes, "experts", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    feeds = {"x": rng.standard_normal((6, 95, 1)).astype(np.float32),
             "ids": np.array([2, 0, 3, 3, 1, 2], np.int64)}
    return model, feeds


def per_sample(out):
    f, i = TensorProto.FLOAT, TensorProto.INT64
    pos = np.array([[(r + c) % 10 for c in range(6)] for r in range(4)], np.int64)
    scale = (np.arange(24, dtype=np.float32).reshape(4, 6) % 7 - 3) * 0.5
    bias_t = np.zeros((6, 4), np.float32)
    bias_t[4:, 1] = -1e4
    bias_t[3:, 3] = -1e4
    inputs = [helper.make_tensor_value_info("x", f, [4, 6])]
    outputs = [helper.make_tensor_value_info("y", f, [4, 6])]
    inits = [helper.make_tensor("table", f, [10], (np.arange(10) * 0.25 - 1).tolist())]
    nodes = [helper.make_node("Constant", [], ["pos"], value=helper.make_tensor(
                 "pos_value", i, [4, 6], pos.flatten().tolist())),
             helper.make_node("Constant", [], ["scale"], value=helper.make_tensor(
                 "scale_value", f, [4, 6], scale.flatten().tolist())),
             helper.make_node("Constant", [], ["bias_t"], value=helper.make_tensor(
                 "bias_value", f, [6, 4], bias_t.flatten().tolist())),
             helper.make_node("Gather", ["table", "pos"], ["emb"], axis=0),
             helper.make_node("Mul", ["x", "scale"], ["scaled"]),
             helper.make_node("Add", ["scaled", "emb"], ["shifted"]),
             helper.make_node("Transpose", ["bias_t"], ["bias"], perm=[1, 0]),
             helper.make_node("Add", ["shifted", "bias"], ["biased"]),
             helper.make_node("Softmax", ["biased"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "per_sample", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    x = np.linspace(-2, 2, 24, dtype=np.float32).reshape(4, 6)
    # Labels for a training step over y as logits (not a model input).
    np.save(os.path.join(out, "inputs", "labels.npy"), np.array([1, 4, 0, 5], np.int64))
    return model, {"x": x}


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test/e2e/Inputs/ops")
    for name, make in (("onehot_gather", onehot_gather), ("topk", topk),
                       ("scatter", scatter), ("experts", experts),
                       ("per_sample", per_sample)):
        out = os.path.join(out_root, name)
        os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
        os.makedirs(os.path.join(out, "outputs"), exist_ok=True)
        model, feeds = make(out)
        path = os.path.join(out, "model.onnx")
        onnx.save(model, path)
        for n, v in feeds.items():
            np.save(os.path.join(out, "inputs", n + ".npy"), v)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        for n, v in zip(names, session.run(names, feeds)):
            np.save(os.path.join(out, "outputs", n + ".npy"), v)
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
