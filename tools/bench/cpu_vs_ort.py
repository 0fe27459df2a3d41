#!/usr/bin/env python3
"""Tessera's CPU backend against ONNX Runtime on the same ONNX file.

    .venv-models/bin/python tools/bench/cpu_vs_ort.py [--model M.onnx] [--threads 2]
        [--batch 1] [--seq 128] [--rounds 5] [--runs 10]

Compiles the model with tessera-compile, then alternates rounds: tessera-run
(--repeat RUNS, its own median) and an ONNX Runtime session (RUNS runs, median),
both with the same thread count (OMP_NUM_THREADS / intra_op_num_threads).
Prints each round and the median time ratio Tessera / ONNX Runtime (lower is
better). Default model: GPT-2 small from tools/models/make_zoo.py --gpt2-small.
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


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="/tmp/tessera-bench/gpt2_small/torchscript/model.onnx")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=10)
    a = p.parse_args()
    if not os.path.exists(a.model):
        out = os.path.dirname(os.path.dirname(os.path.dirname(a.model)))
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/make_zoo.py"),
                        "--gpt2-small", "--out", out, "--exporters", "torchscript"], check=True)
    package = "/tmp/tessera-bench-model.tpkg"
    subprocess.run([os.path.join(a.build, "bin/tessera-compile"), a.model,
                    "--batch", str(a.batch), "--seq", str(a.seq), "-o", package], check=True)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        shape = [a.batch, a.seq][:len(i.shape)]
        feeds[i.name] = np.ones(shape, np.int64)  # tessera-run's generated inputs
    session.run(None, feeds)  # warm-up

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    tessera, onnxrt = [], []
    for r in range(a.rounds):
        out = subprocess.run([os.path.join(a.build, "bin/tessera-run"), package,
                              "--repeat", str(a.runs)], env=env, check=True,
                             capture_output=True, text=True).stdout
        t = float(re.search(r"median ([0-9.]+) ms", out).group(1))
        times = []
        for _ in range(a.runs):
            start = time.perf_counter()
            session.run(None, feeds)
            times.append((time.perf_counter() - start) * 1e3)
        o = statistics.median(times)
        tessera.append(t)
        onnxrt.append(o)
        print(f"round {r + 1}: tessera {t:8.2f} ms   onnxruntime {o:8.2f} ms   ratio {t / o:.3f}",
              flush=True)
    ratio = statistics.median(tessera) / statistics.median(onnxrt)
    print(f"{os.path.basename(os.path.dirname(os.path.dirname(a.model)))} batch {a.batch} "
          f"seq {a.seq}, {a.threads} threads: tessera median {statistics.median(tessera):.2f} ms, "
          f"onnxruntime median {statistics.median(onnxrt):.2f} ms, ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
