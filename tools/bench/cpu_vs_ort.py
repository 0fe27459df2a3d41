#!/usr/bin/env python3
"""Tessera's CPU backend against ONNX Runtime on the same ONNX files.

    .venv-models/bin/python tools/bench/cpu_vs_ort.py [--threads 2] [--rounds 5]
        [--only gpt2_b1,gpt2_b8,bert_b8,llama1b_b1] [--profile]
    .venv-models/bin/python tools/bench/cpu_vs_ort.py --model M.onnx [--batch 1] [--seq 128]

The suite: GPT-2 small (124M) at batch 1 and 8, BERT-base at batch 8 and a
Llama-3.2-1B-shaped model (1.2B) at batch 1, all sequence 128, fp32, exported
by tools/models/make_zoo.py (TorchScript exporter; exported under --models
when missing). Each benchmark compiles the model with tessera-compile, then
alternates rounds: tessera-run (--repeat RUNS, its own median) and an ONNX
Runtime session (RUNS runs, median), both with the same thread count
(OMP_NUM_THREADS / intra_op_num_threads). Prints each round, then one table
of the medians over rounds and the ratio Tessera / ONNX Runtime (lower is
better). --profile adds tessera-run's per-kernel profile of the largest model.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# name: (zoo model, batch, seq, runs per round)
SUITE = {
    "gpt2_b1": ("gpt2_small", 1, 128, 10),
    "gpt2_b8": ("gpt2_small", 8, 128, 4),
    "bert_b8": ("bert_base", 8, 128, 4),
    "llama1b_b1": ("llama_1b", 1, 128, 3),
}


def model_path(models, name):
    path = os.path.join(models, name, "torchscript", "model.onnx")
    if not os.path.exists(path):
        flag = ["--gpt2-small"] if name == "gpt2_small" else ["--full-size", name]
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/make_zoo.py"), *flag,
                        "--out", models, "--exporters", "torchscript"], check=True)
    return path


def bench(a, model, batch, seq, runs, label, profile=False):
    """Alternating rounds; returns (tessera median, onnxruntime median)."""
    package = "/tmp/tessera-bench-model.tpkg"
    subprocess.run([os.path.join(a.build, "bin/tessera-compile"), model, "--batch", str(batch),
                    "--seq", str(seq), "-o", package], check=True, stderr=subprocess.DEVNULL)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        shape = [batch, seq][:len(i.shape)]
        feeds[i.name] = np.ones(shape, np.int64)  # tessera-run's generated inputs
    session.run(None, feeds)  # warm-up

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    tessera, onnxrt = [], []
    for r in range(a.rounds):
        out = subprocess.run([os.path.join(a.build, "bin/tessera-run"), package,
                              "--repeat", str(runs)], env=env, check=True,
                             capture_output=True, text=True).stdout
        t = float(re.search(r"median ([0-9.]+) ms", out).group(1))
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(None, feeds)
            times.append((time.perf_counter() - start) * 1e3)
        o = statistics.median(times)
        tessera.append(t)
        onnxrt.append(o)
        print(f"{label} round {r + 1}: tessera {t:8.2f} ms   onnxruntime {o:8.2f} ms   "
              f"ratio {t / o:.3f}", flush=True)
    if profile:
        out = subprocess.run([os.path.join(a.build, "bin/tessera-run"), package, "--repeat",
                              str(runs), "--profile"], env=env, check=True,
                             capture_output=True, text=True).stdout
        print(f"tessera-run --profile, {label}:\n" +
              "\n".join(l for l in out.splitlines() if not l.startswith("output ")))
    del session
    os.remove(package)
    return statistics.median(tessera), statistics.median(onnxrt)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="one ONNX file instead of the suite")
    p.add_argument("--models", default="/tmp/tessera-bench",
                   help="where the suite's exports are (made when missing)")
    p.add_argument("--only", default=",".join(SUITE), help="suite entries to run")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=0, help="runs per round (0: the suite's)")
    p.add_argument("--profile", action="store_true")
    a = p.parse_args()
    if a.model:
        entries = [(os.path.basename(os.path.dirname(a.model)), a.model, a.batch, a.seq,
                    a.runs or 10)]
    else:
        entries = []
        for name in a.only.split(","):
            if name not in SUITE:
                sys.exit(f"unknown suite entry '{name}' (entries: {', '.join(SUITE)})")
            model, batch, seq, runs = SUITE[name]
            entries.append((name, model_path(a.models, model), batch, seq, a.runs or runs))
    rows = []
    for i, (label, model, batch, seq, runs) in enumerate(entries):
        t, o = bench(a, model, batch, seq, runs, label, a.profile and i == len(entries) - 1)
        rows.append((label, batch, seq, t, o))
    print(f"\nmedians of {a.rounds} alternating rounds, {a.threads} threads, fp32:")
    print(f"{'benchmark':<14}{'batch':>6}{'seq':>6}{'tessera ms':>13}{'onnxruntime ms':>16}"
          f"{'ratio':>8}")
    for label, batch, seq, t, o in rows:
        print(f"{label:<14}{batch:>6}{seq:>6}{t:>13.2f}{o:>16.2f}{t / o:>8.3f}")


if __name__ == "__main__":
    main()
