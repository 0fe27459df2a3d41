#!/usr/bin/env python3
"""Exports of freshly initialised models, made the way users make them, and
PyTorch's training of them: test/e2e/Inputs/fresh_train/<family>/.

    .venv-models/bin/python tools/models/make_fresh_train.py [OUT_DIR]

For each family (tiny Phi and Qwen2 from make_zoo.py, untouched: norm scales
1, biases 0, as Hugging Face initialises them):
    eval.onnx        torch.onnx.export(model.eval(), ...), the TorchScript
                     exporter's defaults (it merges initializers of equal
                     values: one all-zero bias read by a dozen nodes)
    train_mode.onnx  the same model exported with
                     training=TrainingMode.PRESERVE (parameters kept apart;
                     Dropout nodes in training mode, p = 0 in these configs)
    ids_only.onnx    the same model exported by the dynamo exporter with
                     input_ids as its only input (its defaults: static shapes;
                     the causal mask folded into a [batch, 1, seq, seq]
                     initializer)
    input_ids.npy, attention_mask.npy (all ones), labels.npy   the batch (labels: the ids shifted, -100 last)
    reference.json   PyTorch's 5 steps of AdamW (lr 1e-2, weight decay 0.01)
                     with clip_grad_norm_(1.0): the loss and the gradient norm
                     (before clipping) of every step
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_zoo  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAMILIES = ["phi", "qwen2"]
STEPS = 5


class Logits(torch.nn.Module):
    """The causal LM: input_ids and attention_mask in, logits out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                          return_dict=True).logits


class IdsOnly(torch.nn.Module):
    """The causal LM with input_ids only (the mask is the model's own)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False, return_dict=True).logits


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "test/e2e/Inputs/fresh_train")
    for family in FAMILIES:
        torch.manual_seed(0)
        model, cfg, inputs, _ = make_zoo.WIDER[family]()
        wrapper = Logits(model)
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        labels = torch.cat([ids[:, 1:], torch.full((ids.shape[0], 1), -100)], dim=1)
        out = os.path.join(out_root, family)
        os.makedirs(out, exist_ok=True)
        np.save(os.path.join(out, "input_ids.npy"), ids.numpy())
        np.save(os.path.join(out, "attention_mask.npy"), mask.numpy())
        np.save(os.path.join(out, "labels.npy"), labels.numpy())
        state = {k: v.clone() for k, v in wrapper.state_dict().items()}
        with torch.no_grad():
            torch.onnx.export(wrapper.eval(), (ids, mask), os.path.join(out, "eval.onnx"),
                              input_names=["input_ids", "attention_mask"], output_names=["logits"], dynamo=False)
        wrapper.load_state_dict(state)
        with torch.no_grad():
            torch.onnx.export(wrapper.train(), (ids, mask), os.path.join(out, "train_mode.onnx"),
                              input_names=["input_ids", "attention_mask"], output_names=["logits"], dynamo=False,
                              training=torch.onnx.TrainingMode.PRESERVE,
                              do_constant_folding=False)
        wrapper.load_state_dict(state)
        with torch.no_grad():
            torch.onnx.export(IdsOnly(model).eval(), (ids,), dynamo=True,
                              input_names=["input_ids"],
                              output_names=["logits"]).save(os.path.join(out, "ids_only.onnx"))
        wrapper.load_state_dict(state)
        wrapper.train()
        params = list(wrapper.parameters())
        opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.01)
        losses, norms = [], []
        for _ in range(STEPS):
            opt.zero_grad()
            logits = wrapper(ids, mask)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(params, 1.0)))
            opt.step()
            losses.append(loss.item())
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump({"losses": losses, "grad_norms": norms,
                       "parameters": sum(p.numel() for p in params)}, f, indent=1)
        print(f"{family}: losses {losses}, grad norms {norms}")


if __name__ == "__main__":
    main()
