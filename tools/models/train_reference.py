#!/usr/bin/env python3
"""PyTorch references for Tessera's training tests.

For each zoo model, rebuilds the exact model make_zoo.py exported (same seeds,
same perturbation), trains it for a few steps with torch.optim.AdamW and
torch.nn.utils.clip_grad_norm_ on the zoo inputs, and writes:

    <zoo>/<model>/train/labels.npy          the labels (the inputs shifted; -100 at the end)
    <zoo>/<model>/train/losses.npy          the loss of every step (float64)
    <zoo>/<model>/train/final/<param>.npy   every parameter after the last step
    <zoo>/<model>/train/logits_after.npy    the model's output after the last step
    <zoo>/<model>/train/ill_conditioned.json  per parameter, the elements whose
        float64 gradient is zero up to rounding at every step (a key bias
        under softmax: Adam turns the rounding noise into full-size steps of
        random sign) or where PyTorch's own float32 result differs from its
        float64 one by more than rtol 1e-5: no float32 implementation can be
        held to rtol 1e-4 there, so the tests skip (and count) them
    <zoo>/<model>/<exporter>/train.json     how the export names the parameters:
        {"params": {initializer: parameter}, "tied": {initializer: [parameter, "T"]},
         "frozen": [initializers that are buffers, not parameters]}

Dropout is off (model.eval()); the tests compile with --dropout-seed off (the
dynamo exports' Dropout nodes say training_mode true, which Tessera trains).

    python tools/models/train_reference.py [--zoo test/models] [--steps 5]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_zoo  # noqa: E402

HYPER = {"lr": 1e-2, "weight_decay": 0.01, "clip": 1.0}


def rebuild(name):
    """The model and inputs exactly as make_zoo.export builds them."""
    torch.manual_seed(0)
    model, cfg, inputs, output = make_zoo.ZOO[name]()
    model.eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    wrapper = make_zoo.LogitsOnly(model, output).eval()
    wrapper.names = list(inputs)
    return wrapper, inputs


def shifted_labels(ids, vocab):
    labels = torch.full_like(ids, -100)
    labels[:, :-1] = ids[:, 1:] % vocab
    return labels


def name_map(wrapper, export_dir):
    """ONNX initializers -> the wrapper's parameters, by value. Exporters store
    nn.Linear weights transposed (the only copy: training it is training the
    parameter); a parameter written twice (GPT-2's embedding and its
    transposed LM-head copy) is a tie that Tessera needs told (--tie); float
    initializers that are no parameter are buffers (--frozen)."""
    params = {n: p.detach().numpy() for n, p in wrapper.named_parameters()}
    proto = onnx.load(os.path.join(export_dir, "model.onnx"))
    out = {"params": {}, "transposed": {}, "ties": {}, "frozen": []}
    first = {}
    for init in proto.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        if value.dtype != np.float32 or value.size <= 1:
            continue
        found = None
        for n, p in params.items():
            if p.shape == value.shape and np.array_equal(p, value):
                found = (n, False)
                if init.name == n:
                    break
        if found is None:
            for n, p in params.items():
                if p.ndim == 2 and p.T.shape == value.shape and np.array_equal(p.T, value):
                    found = (n, True)
                    break
        if found is None:
            out["frozen"].append(init.name)
            continue
        param, transposed = found
        if param in first:
            other, other_t = first[param]
            out["ties"][init.name] = other + (".T" if transposed != other_t else "")
            continue
        first[param] = (init.name, transposed)
        (out["transposed"] if transposed else out["params"])[init.name] = param
    return out


def train(wrapper, inputs, labels, vocab, steps):
    """AdamW with clipping, as the tests compile it; the loss per step."""
    params = [p for p in wrapper.parameters()]
    opt = torch.optim.AdamW(params, lr=HYPER["lr"], weight_decay=HYPER["weight_decay"])
    losses = []
    wrapper.max_grad = {n: torch.zeros_like(p) for n, p in wrapper.named_parameters()}
    for _ in range(steps):
        opt.zero_grad()
        logits = wrapper(*inputs.values())
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)
        loss.backward()
        for n, p in wrapper.named_parameters():
            wrapper.max_grad[n] = torch.maximum(wrapper.max_grad[n], p.grad.abs())
        torch.nn.utils.clip_grad_norm_(params, HYPER["clip"])
        opt.step()
        losses.append(loss.item())
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", default="test/models")
    parser.add_argument("--only", default=",".join(make_zoo.ZOO))
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.only.split(","):
        wrapper, inputs = rebuild(name)
        logits = wrapper(*inputs.values())
        vocab = logits.shape[-1]
        labels = shifted_labels(inputs["input_ids"], vocab)
        root = os.path.join(args.zoo, name)
        os.makedirs(os.path.join(root, "train", "final"), exist_ok=True)
        np.save(os.path.join(root, "train", "labels.npy"), labels.numpy())
        for exporter in ("torchscript", "dynamo"):
            export_dir = os.path.join(root, exporter)
            if os.path.exists(os.path.join(export_dir, "model.onnx")):
                with open(os.path.join(export_dir, "train.json"), "w") as f:
                    json.dump(name_map(wrapper, export_dir), f, indent=1, sort_keys=True)
        exact, _ = rebuild(name)
        exact.double()
        losses = train(wrapper, inputs, labels, vocab, args.steps)
        train(exact, inputs, labels, vocab, args.steps)
        np.save(os.path.join(root, "train", "losses.npy"), np.array(losses, dtype=np.float64))
        ill = {}
        exact_params = dict(exact.named_parameters())
        biggest = max(float(g.max()) for g in exact.max_grad.values())
        with torch.no_grad():
            np.save(os.path.join(root, "train", "logits_after.npy"),
                    wrapper(*inputs.values()).numpy())
        for n, p in wrapper.named_parameters():
            np.save(os.path.join(root, "train", "final", n + ".npy"), p.detach().numpy())
            a = p.detach().numpy().astype(np.float64).ravel()
            b = exact_params[n].detach().numpy().ravel()
            grad = exact.max_grad[n].detach().numpy().ravel()
            zero = (grad > 0) & (grad <= 1e-9 * biggest)  # zero up to rounding (not exactly)
            bad = np.nonzero((np.abs(a - b) > 1e-7 + 1e-5 * np.abs(b)) | zero)[0]
            if bad.size:
                ill[n] = bad.tolist()
        with open(os.path.join(root, "train", "ill_conditioned.json"), "w") as f:
            json.dump(ill, f, sort_keys=True)
        print(f"[train] {name}: losses {' '.join(f'{l:.6f}' for l in losses)}; "
              f"{sum(map(len, ill.values()))} ill-conditioned elements", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
