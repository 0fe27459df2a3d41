#!/usr/bin/env python3
"""Tessera's training step on the CPU against PyTorch eager, same model.

    .venv-models/bin/python tools/bench/train_vs_torch.py [--threads 2]
        [--batch 1] [--seq 128] [--rounds 3] [--steps 5]

The model is GPT-2 small (124M, random weights) exported by make_zoo.py
--gpt2-small (dynamo exporter; written once under /tmp/tessera-bench). Tessera:
`tessera-compile --train` (AdamW, clipping at 1.0) then `tessera-run --steps`;
a step's time is the difference between a run of STEPS + 1 steps and one of 1
step, divided by STEPS (so loading the package is not counted). PyTorch: the
same Hugging Face model in eager mode, torch.optim.AdamW, clip_grad_norm_,
cross-entropy, the same thread count; STEPS steps after one warm-up step.
Rounds alternate; the script prints each round and the median ratio
Tessera / PyTorch (lower is better).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tessera_step(build, package, inputs, steps, env):
    def run(n):
        start = time.perf_counter()
        subprocess.run([os.path.join(build, "bin/tessera-run"), package, *inputs,
                        "--steps", str(n)], env=env, check=True, capture_output=True)
        return time.perf_counter() - start
    return (run(steps + 1) - run(1)) / steps


def torch_step(model, ids, labels, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        opt.zero_grad()
        logits = model(input_ids=ids, use_cache=False).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 labels.reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="/tmp/tessera-bench/gpt2_small/dynamo/model.onnx")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    if not os.path.exists(a.model):
        out = os.path.dirname(os.path.dirname(os.path.dirname(a.model)))
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/make_zoo.py"),
                        "--gpt2-small", "--out", out, "--exporters", "dynamo"], check=True)
    work = "/tmp/tessera-bench-train"
    os.makedirs(work, exist_ok=True)
    package = os.path.join(work, "train.tpkg")
    subprocess.run([os.path.join(a.build, "bin/tessera-compile"), a.model, "--batch",
                    str(a.batch), "--seq", str(a.seq), "--train", "--lr", "1e-4",
                    "--clip-grad-norm", "1.0", "-o", package], check=True)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50257, (a.batch, a.seq), dtype=np.int64)
    labels = np.full_like(ids, -100)
    labels[:, :-1] = ids[:, 1:]
    np.save(os.path.join(work, "input_ids.npy"), ids)
    np.save(os.path.join(work, "attention_mask.npy"), np.ones_like(ids))
    np.save(os.path.join(work, "labels.npy"), labels)
    inputs = []
    for name in ("input_ids", "attention_mask", "labels"):
        inputs += ["--input", f"{name}={os.path.join(work, name + '.npy')}"]

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    model.eval()  # no dropout: Tessera compiles Dropout as the identity
    tids, tlabels = torch.from_numpy(ids), torch.from_numpy(labels)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    ours, theirs = [], []
    for r in range(a.rounds):
        ours.append(tessera_step(a.build, package, inputs, a.steps, env))
        theirs.append(torch_step(model, tids, tlabels, a.steps))
        print(f"round {r + 1}: tessera {ours[-1] * 1e3:.0f} ms/step, "
              f"pytorch {theirs[-1] * 1e3:.0f} ms/step", flush=True)
    t, o = statistics.median(ours), statistics.median(theirs)
    print(f"GPT-2 small b{a.batch} s{a.seq}, {a.threads} threads: tessera {t * 1e3:.0f} ms/step, "
          f"pytorch eager {o * 1e3:.0f} ms/step, ratio {t / o:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
