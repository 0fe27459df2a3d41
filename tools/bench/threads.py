#!/usr/bin/env python3
"""A training step's time at 1, 2 and 4 threads per rank with 1, 2 and 4
data-parallel ranks, as threads in one process and under mpirun.

    python3 tools/bench/threads.py [BUILD_DIR] [--steps 8] [--rounds 3]
        [--batch 8] [--seq 64] [--model test/models/gpt2/dynamo/model.onnx]

Each configuration compiles `--train --mesh dp=R` once and times `tessera-run
--threads T --steps N` as (run of N + 1 steps - run of 1 step) / N, so
loading is not counted; medians over rounds that alternate between the
configurations. Every configuration runs twice: as tessera-run places it
(oversubscribed cores switch OpenMP to passive waiting) and with
TESSERA_KEEP_WAIT_POLICY=1 (OpenMP's default waiting kept), which shows what
the switch is worth. The table gives ms per step and the ratio to the
fastest configuration; the script ends with the worst ratio among the
oversubscribed configurations (ranks x threads > cores). Needs only Python's
standard library (the data are the bytes of this repository's docs).
"""
import argparse
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_ones_npy(path, rows, cols):
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%dq" % (rows * cols), *([1] * (rows * cols))))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    p.add_argument("--model", default=os.path.join(ROOT, "test/models/gpt2/dynamo/model.onnx"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--threads", default="1,2,4")
    a = p.parse_args()
    bindir = os.path.join(os.path.abspath(a.build), "bin")
    work = "/tmp/tessera-bench-threads"
    os.makedirs(work, exist_ok=True)
    tokens = os.path.join(work, "tokens.npy")
    docs = [os.path.join(ROOT, "docs", f) for f in sorted(os.listdir(os.path.join(ROOT, "docs")))
            if f.endswith(".md")]
    subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/byte_tokens.py"), tokens,
                    *docs], check=True, capture_output=True)
    mask = os.path.join(work, "mask.npy")
    write_ones_npy(mask, a.batch, a.seq)
    ranks_list = [int(x) for x in a.ranks.split(",")]
    threads_list = [int(x) for x in a.threads.split(",")]
    mpirun = shutil.which("mpirun")
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("OMP_NUM_THREADS", None)
    env.pop("TESSERA_NUM_THREADS", None)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cores = len(os.sched_getaffinity(0))

    packages = {}
    for r in ranks_list:
        pkg = os.path.join(work, f"dp{r}.tpkg")
        mesh = ["--mesh", f"dp={r}"] if r > 1 else []
        subprocess.run([os.path.join(bindir, "tessera-compile"), a.model, "--batch", str(a.batch),
                        "--seq", str(a.seq), "--train", "--lr", "1e-3", "--clip-grad-norm", "1.0",
                        *mesh, "-o", pkg], check=True, capture_output=True)
        packages[r] = pkg

    configs = []
    for r in ranks_list:
        for t in threads_list:
            for mode in (["threads", "mpirun"] if r > 1 and mpirun else ["threads"]):
                for keep in (False, True):
                    configs.append((r, t, mode, keep))

    def run(config, steps):
        r, t, mode, keep = config
        cmd = [os.path.join(bindir, "tessera-run"), packages[r], "--threads", str(t),
               "--input", f"attention_mask={mask}", "--data", tokens, "--steps", str(steps)]
        if mode == "mpirun":
            cmd = [mpirun, "--oversubscribe", "--bind-to", "none", "-np", str(r)] + cmd
        e = dict(env)
        if keep:
            e["TESSERA_KEEP_WAIT_POLICY"] = "1"
        start = time.perf_counter()
        subprocess.run(cmd, env=e, check=True, capture_output=True)
        return time.perf_counter() - start

    times = {c: [] for c in configs}
    for rnd in range(a.rounds):
        for c in configs:
            times[c].append((run(c, a.steps + 1) - run(c, 1)) / a.steps)
        print(f"round {rnd + 1} of {a.rounds} done", file=sys.stderr, flush=True)
    med = {c: statistics.median(v) for c, v in times.items()}
    placed = {c: m for c, m in med.items() if not c[3]}
    best = min(placed.values())
    cpu = subprocess.run([os.path.join(bindir, "tessera-run"), "--cpu-info"], capture_output=True,
                         text=True).stdout.split("\n")[0]
    print(f"{cpu}; {cores} cores; GPT-2 ({os.path.relpath(a.model, ROOT)}) training step, "
          f"batch {a.batch}, sequence {a.seq}, dp = ranks; median of {a.rounds} rounds")
    print()
    print("| ranks | threads/rank | run as | oversubscribed | ms/step (placed) | vs best "
          "| ms/step (OpenMP default waiting) | vs best |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for c in configs:
        r, t, mode, keep = c
        if keep:
            continue
        over = r * t > cores
        m, k = med[c], med[(r, t, mode, True)]
        if over:
            worst = max(worst, m / best)
        print(f"| {r} | {t} | {mode} | {'yes' if over else 'no'} | {m * 1e3:.1f} | "
              f"{m / best:.2f} | {k * 1e3:.1f} | {k / best:.2f} |")
    print()
    print(f"best {best * 1e3:.1f} ms/step; oversubscribed configurations, placed: worst "
          f"{worst:.2f}x the best")


if __name__ == "__main__":
    main()
