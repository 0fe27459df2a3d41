#!/usr/bin/env python3
"""Writes test/frontends/onnx/Inputs/training_mode/model.onnx: see below.

    .venv-models/bin/python tools/models/make_training_mode_export.py OUT.onnx
"""
# A tiny MLP block with dropout and layer norm, exported in training mode
# (torch.onnx.TrainingMode.PRESERVE, TorchScript exporter): Dropout nodes
# with training_mode true and mask outputs nothing reads.
import sys, torch
torch.manual_seed(0)
class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 512)
        self.drop = torch.nn.Dropout(0.1)
        self.norm = torch.nn.LayerNorm(512)
    def forward(self, x):
        return self.norm(self.drop(torch.nn.functional.gelu(self.fc(x))))
m = Block().train()
torch.onnx.export(m, (torch.randn(160, 16),), sys.argv[1], dynamo=False, opset_version=17,
                  training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                  input_names=["x"], output_names=["y"])
