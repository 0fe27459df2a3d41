#!/usr/bin/env python3
"""A decode step with past keys and values, from both torch exporters, for
each cache layout: test/e2e/Inputs/past_decode/<layout>/<exporter>/.

    .venv-models/bin/python tools/models/make_past_decode.py [OUT_DIR]

A tiny Llama (vocab 128, 4 query heads; key/value heads: 2 for gqa, 4 for
mha, 1 for mqa; parameters perturbed off their initial values), one new
token per sequence (batch 2) after 15 cached positions, exported with the cache as inputs past_key_values.i.{key,value}
and outputs present.i.{key,value} (the layout Optimum's with-past exports
use). The TorchScript exporter moves the heads of a group onto the row axis
of the scores (the case that once made a one-row mask look causal).
Writes model.onnx, inputs/*.npy and ONNX Runtime's outputs/*.npy.
"""
import os
import sys

import torch
import transformers
from transformers import DynamicCache

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exporting import export_both  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS, HEAD_DIM, BATCH, PAST, VOCAB = 2, 16, 2, 15, 128
LAYOUTS = {"gqa": 2, "mha": 4, "mqa": 1}


class Step(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, *past):
        cache = DynamicCache()
        for layer in range(LAYERS):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         past_key_values=cache, use_cache=True)
        kv = out.past_key_values
        return (out.logits,) + tuple(t for layer in range(LAYERS)
                                     for t in (kv.layers[layer].keys, kv.layers[layer].values))


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "test/e2e/Inputs/past_decode")
    for layout, kv_heads in LAYOUTS.items():
        write(os.path.join(out_root, layout), kv_heads)


def write(out_root, kv_heads):
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=LAYERS, num_attention_heads=4,
                                   num_key_value_heads=kv_heads, max_position_embeddings=64)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ids = torch.randint(0, VOCAB, (BATCH, 1))
    mask = torch.ones(BATCH, PAST + 1, dtype=torch.int64)
    past = [torch.randn(BATCH, kv_heads, PAST, HEAD_DIM) for _ in range(2 * LAYERS)]
    names = ["input_ids", "attention_mask"] + [f"past_key_values.{layer}.{t}"
                                               for layer in range(LAYERS)
                                               for t in ("key", "value")]
    outputs = ["logits"] + [f"present.{layer}.{t}" for layer in range(LAYERS)
                            for t in ("key", "value")]
    feeds = {n: t.numpy() for n, t in zip(names, (ids, mask, *past))}
    export_both(Step(model).eval(), feeds, out_root, outputs, dynamic_axes={},
                torchscript_opset=17)


if __name__ == "__main__":
    main()
