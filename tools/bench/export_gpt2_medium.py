#!/usr/bin/env python3
"""Exports the GPT-2 medium shape (24 layers, hidden 1024, 16 heads, vocabulary
50257) from Hugging Face transformers with seeded random weights to ONNX
(TorchScript exporter, weights in an external data file), for the GPU
benchmark (tools/bench/gpu_vs_torch.py). Inputs: input_ids and attention_mask [batch, seq].

usage: export_gpt2_medium.py OUT_DIR [--batch 8] [--seq 512]
"""
import argparse
import os

import onnx
import torch
import transformers


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--layers", type=int, default=24)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=a.layers, n_embd=1024, n_head=16,
                                     n_positions=1024, vocab_size=50257)
    config.use_cache = False
    model = transformers.GPT2LMHeadModel(config).eval()

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    ids = torch.randint(0, config.vocab_size, (a.batch, a.seq))
    path = os.path.join(a.out, "model.onnx")
    # As the test zoo exports GPT-2 (tools/models/make_zoo.py): with a mask of ones.
    torch.onnx.export(Logits(model), (ids, torch.ones_like(ids)), path,
                      input_names=["input_ids", "attention_mask"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    # Weights in model.onnx.data: the benchmark compiles the graph without
    # them (tessera-compile --plan-only once the data file is moved away).
    proto = onnx.load(path)
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=1024)
    print("wrote", path, "and model.onnx.data")


if __name__ == "__main__":
    main()
