#!/usr/bin/env python3
"""Writes graph-only ONNX models of GPT-3-style and Llama-style transformers.

The weights are external data in a file that is never written, so a 175B
model's graph is a few hundred kilobytes; `tessera-compile --plan-only` plans
such models for clusters one does not have. Only the `onnx` package is needed.

  make_graph_only.py --style gpt --layers 32 --hidden 4096 --heads 32 \
      --batch 8 --seq 2048 -o /tmp/gpt3-6.7b
  make_graph_only.py --preset gpt3-175b -o /tmp/gpt3-175b

The graphs use the operators exporters write (MatMul/Add projections, a fused
QKV projection split three ways for GPT, separate Q/K/V with grouped-query
repeat for Llama, LayerNormalization or the decomposed RMS norm, GELU or
SiLU MLPs, softmax attention). Attention is unmasked and has no rotary
embedding: the plan and the cost model do not depend on either.
"""
import argparse
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

PRESETS = {
    # GPT-3 paper, table 2.1 (hidden, layers, heads); vocabulary 50257 padded
    # to 51200 as Megatron does.
    "gpt3-1.3b": dict(style="gpt", layers=24, hidden=2048, heads=16),
    "gpt3-2.7b": dict(style="gpt", layers=32, hidden=2560, heads=32),
    "gpt3-6.7b": dict(style="gpt", layers=32, hidden=4096, heads=32),
    "gpt3-13b": dict(style="gpt", layers=40, hidden=5120, heads=40),
    "gpt3-175b": dict(style="gpt", layers=96, hidden=12288, heads=96),
    "llama2-7b": dict(style="llama", layers=32, hidden=4096, heads=32, kv_heads=32,
                      ffn=11008, vocab=32000),
    "llama2-70b": dict(style="llama", layers=80, hidden=8192, heads=64, kv_heads=8,
                       ffn=28672, vocab=32000),
}


class Graph:
    def __init__(self, dtype, weight_file):
        self.nodes, self.inits = [], []
        self.dtype = dtype
        self.np_dtype = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
        self.offset = 0
        self.weight_file = weight_file
        self.count = 0
        self.prefix = ""  # "layers.3/": node names say which layer they are in

    def name(self, base):
        self.count += 1
        return f"{self.prefix}{base}_{self.count}"

    def weight(self, name, shape):
        """A float initializer whose bytes live in the (absent) weight file."""
        t = TensorProto()
        t.name = name
        t.data_type = self.dtype
        t.dims.extend(shape)
        t.data_location = TensorProto.EXTERNAL
        length = int(np.prod(shape)) * np.dtype(self.np_dtype).itemsize
        for k, v in (("location", self.weight_file), ("offset", str(self.offset)),
                     ("length", str(length))):
            e = t.external_data.add()
            e.key, e.value = k, v
        self.offset += (length + 63) // 64 * 64
        self.inits.append(t)
        return name

    def const(self, name, array):
        self.inits.append(helper.make_tensor(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                             array.shape, array.flatten().tolist()))
        return name

    def op(self, kind, inputs, **attrs):
        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def scalar(self, value):
        return self.const(self.name("c"), np.array(value, dtype=self.np_dtype))


def linear(g, x, name, n_in, n_out, bias):
    y = g.op("MatMul", [x, g.weight(name + ".weight", [n_in, n_out])])
    return g.op("Add", [y, g.weight(name + ".bias", [n_out])]) if bias else y


def heads(g, x, b, s, n, d, perm):
    # 0 copies the input's dimension: the batch stays free for data parallelism.
    shape = g.const(g.name("shape"), np.array([0, 0, n, d], dtype=np.int64))
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=perm)


def attention(g, q, k, v, b, s, h, d):
    scores = g.op("Div", [g.op("MatMul", [q, k]), g.scalar(math.sqrt(d))])
    o = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    o = g.op("Transpose", [o], perm=[0, 2, 1, 3])
    return g.op("Reshape", [o, g.const(g.name("shape"), np.array([0, 0, h * d], dtype=np.int64))])


def rms_norm(g, x, name, hidden):
    two = g.scalar(2.0)
    axes = g.const(g.name("axes"), np.array([-1], dtype=np.int64))
    mean = g.op("ReduceMean", [g.op("Pow", [x, two]), axes], keepdims=1)
    denom = g.op("Sqrt", [g.op("Add", [mean, g.scalar(1e-5)])])
    return g.op("Mul", [g.op("Div", [x, denom]), g.weight(name + ".weight", [hidden])])


def build(a):
    dtype = TensorProto.FLOAT16 if a.dtype == "float16" else TensorProto.FLOAT
    g = Graph(dtype, "weights.bin")
    b, s, h, n = a.batch, a.seq, a.hidden, a.heads
    d = h // n
    kv = a.kv_heads or n
    ffn = a.ffn or 4 * h
    ids = "input_ids"
    x = g.op("Gather", [g.weight("embed.weight", [a.vocab, h]), ids], axis=0)
    if a.style == "gpt":
        pos = g.const("positions", np.arange(s, dtype=np.int64))
        x = g.op("Add", [x, g.op("Gather", [g.weight("pos_embed.weight", [s, h]), pos], axis=0)])
    for i in range(a.layers):
        p = f"layers.{i}"
        g.prefix = p + "/"
        if a.style == "gpt":
            y = g.op("LayerNormalization", [x, g.weight(p + ".ln_1.weight", [h]),
                                           g.weight(p + ".ln_1.bias", [h])], axis=-1)
            qkv = linear(g, y, p + ".attn.qkv", h, 3 * h, True)
            split = g.const(g.name("split"), np.array([h, h, h], dtype=np.int64))
            q, k, v = (g.name(t) for t in "qkv")
            g.nodes.append(helper.make_node("Split", [qkv, split], [q, k, v], axis=-1,
                                            name=g.name("split")))
            q = heads(g, q, b, s, n, d, [0, 2, 1, 3])
            k = heads(g, k, b, s, n, d, [0, 2, 3, 1])
            v = heads(g, v, b, s, n, d, [0, 2, 1, 3])
            o = attention(g, q, k, v, b, s, n, d)
            x = g.op("Add", [x, linear(g, o, p + ".attn.proj", h, h, True)])
            y = g.op("LayerNormalization", [x, g.weight(p + ".ln_2.weight", [h]),
                                           g.weight(p + ".ln_2.bias", [h])], axis=-1)
            y = g.op("Gelu", [linear(g, y, p + ".mlp.fc", h, ffn, True)], approximate="tanh")
            x = g.op("Add", [x, linear(g, y, p + ".mlp.proj", ffn, h, True)])
        else:
            y = rms_norm(g, x, p + ".input_norm", h)
            q = heads(g, linear(g, y, p + ".attn.q", h, n * d, False), b, s, n, d, [0, 2, 1, 3])
            k = heads(g, linear(g, y, p + ".attn.k", h, kv * d, False), b, s, kv, d, [0, 2, 3, 1])
            v = heads(g, linear(g, y, p + ".attn.v", h, kv * d, False), b, s, kv, d, [0, 2, 1, 3])
            if kv != n:  # repeat_kv: [B, kv, 1, ...] -> [B, kv, n/kv, ...] -> [B, n, ...]
                def repeat(t, shape):
                    one = g.const(g.name("axes"), np.array([2], dtype=np.int64))
                    big = g.const(g.name("shape"), np.array([1, kv, n // kv] + shape, dtype=np.int64))
                    flat = g.const(g.name("shape"), np.array([0, n] + shape, dtype=np.int64))
                    return g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [t, one]), big]), flat])
                k = repeat(k, [d, s])
                v = repeat(v, [s, d])
            o = attention(g, q, k, v, b, s, n, d)
            x = g.op("Add", [x, linear(g, o, p + ".attn.o", n * d, h, False)])
            y = rms_norm(g, x, p + ".post_norm", h)
            gate = linear(g, y, p + ".mlp.gate", h, ffn, False)
            up = linear(g, y, p + ".mlp.up", h, ffn, False)
            act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
            x = g.op("Add", [x, linear(g, act, p + ".mlp.down", ffn, h, False)])
    g.prefix = ""
    if a.style == "gpt":
        x = g.op("LayerNormalization", [x, g.weight("ln_f.weight", [h]),
                                       g.weight("ln_f.bias", [h])], axis=-1)
    else:
        x = rms_norm(g, x, "norm", h)
    logits = linear(g, x, "lm_head", h, a.vocab, False)
    g.nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        g.nodes, f"{a.style}-{a.layers}x{h}",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, [b, s])],
        [helper.make_tensor_value_info("logits", dtype, [b, s, a.vocab])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)],
                              producer_name="tessera make_graph_only.py")
    os.makedirs(a.output, exist_ok=True)
    onnx.save(model, os.path.join(a.output, "model.onnx"))
    params = sum(int(np.prod(t.dims)) for t in g.inits if t.data_location == TensorProto.EXTERNAL)
    print(f"wrote {a.output}/model.onnx: {a.style}, {a.layers} layers, hidden {h}, "
          f"{n} heads ({kv} kv), ffn {ffn}, vocab {a.vocab}, {params / 1e9:.2f}B parameters "
          f"({a.dtype}, weights absent), batch {b} x seq {s}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS))
    p.add_argument("--style", choices=["gpt", "llama"], default="gpt")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=0, help="Llama: key/value heads")
    p.add_argument("--ffn", type=int, default=0, help="MLP width (default 4 x hidden)")
    p.add_argument("--vocab", type=int, default=51200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=2048)
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    p.add_argument("-o", "--output", required=True, help="folder for model.onnx")
    a = p.parse_args()
    if a.preset:
        for k, v in PRESETS[a.preset].items():
            setattr(a, k, v)
    if a.hidden % a.heads or a.heads % (a.kv_heads or a.heads):
        p.error("heads must divide hidden, and kv heads must divide heads")
    build(a)


if __name__ == "__main__":
    main()
