#!/usr/bin/env python3
"""GPT-2 medium shape, forward, on one GPU: PyTorch eager (Hugging Face
transformers, the same config, seeded random weights, same dtype and shapes)
against Tessera (a plan-only --target=cuda package whose weights the runtime
fills with seeded random values: tessera-run --random-weights). Rounds
alternate between the two; each round takes the median of RUNS forwards;
the result is the median over rounds of Tessera / PyTorch. Also times the
largest GEMM shapes with torch.matmul (what cuBLAS reaches on them) as a
fraction of the chip's bf16 dense peak.

usage: gpu_vs_torch.py --tessera-run BIN --package PKG [--rounds 5] [--runs 20]
       [--batch 8] [--seq 512] [--dtype bf16] [--json out.json]
Runs on the GPU host (PyTorch, transformers); prints one line per round and
a summary, and writes --json.
"""
import argparse
import json
import re
import statistics
import subprocess
import time

import torch
import transformers

# Dense bf16 tensor-core peaks (TFLOP/s) and memory bandwidths (GB/s), from
# NVIDIA's datasheets.
PEAKS = {"H100 80GB HBM3": (989.4, 3350), "H100 SXM": (989.4, 3350), "H100 PCIe": (756.0, 2000),
         "H100 NVL": (835.0, 3900), "H200": (989.4, 4800), "A100": (312.0, 2039)}


def peak_for(name):
    for key, value in PEAKS.items():
        if key in name:
            return value
    return (None, None)


def tessera_profile(args):
    """Per-op milliseconds of one run synchronised after every kernel."""
    cmd = [args.tessera_run, args.package, "--backend", "cuda", "--random-weights", "1",
           "--bench", "3", "--profile"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    ops = {}
    for line in out.splitlines():
        m = re.match(r"(\w+)\s+([0-9.]+)\s+(\d+)\s+[0-9.]+%", line)
        if m:
            ops[m.group(1)] = (float(m.group(2)), int(m.group(3)))
    return ops


def torch_forward_ms(model, ids, mask, runs):
    times = []
    with torch.no_grad():
        for _ in range(runs):
            torch.cuda.synchronize()
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def tessera_ms(args):
    cmd = [args.tessera_run, args.package, "--backend", "cuda", "--random-weights", "1",
           "--bench", str(args.runs)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit("tessera-run failed:\n" + out.stdout + out.stderr)
    m = re.search(r"median ([0-9.]+) ms", out.stdout)
    return float(m.group(1)), out.stdout.strip()


def gemm_tflops(m, n, k, dtype, runs=50):
    a = torch.randn(m, k, device="cuda", dtype=dtype)
    b = torch.randn(k, n, device="cuda", dtype=dtype)
    for _ in range(5):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(runs):
        a @ b
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / runs
    return 2.0 * m * n * k / seconds / 1e12


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tessera-run", required=True)
    p.add_argument("--package", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--json")
    a = p.parse_args()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[a.dtype]
    gpu = torch.cuda.get_device_name(0)
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=a.layers, n_embd=1024, n_head=16, n_positions=1024,
                                     vocab_size=50257)
    config.use_cache = False
    model = transformers.GPT2LMHeadModel(config).to("cuda", dtype).eval()
    ids = torch.randint(0, config.vocab_size, (a.batch, a.seq), device="cuda")
    mask = torch.ones_like(ids)  # as the exported model takes it
    torch_forward_ms(model, ids, mask, 3)  # warm-up
    rounds = []
    for r in range(a.rounds):
        t = torch_forward_ms(model, ids, mask, a.runs)
        s, line = tessera_ms(a)
        rounds.append({"torch_ms": t, "tessera_ms": s, "ratio": s / t})
        print(f"round {r}: torch eager {t:.3f} ms, tessera {s:.3f} ms, ratio {s / t:.3f}",
              flush=True)
    ratio = statistics.median(x["ratio"] for x in rounds)
    tokens = a.batch * a.seq
    gemms = {"qkv": (tokens, 3072, 1024), "mlp_up": (tokens, 4096, 1024),
             "mlp_down": (tokens, 1024, 4096), "lm_head": (tokens, 50257, 1024)}
    peak, bandwidth = peak_for(gpu)
    achieved = {k: gemm_tflops(*v, dtype) for k, v in gemms.items()}
    ops = tessera_profile(a)
    print(f"GPU: {gpu}; GPT-2 medium shape (layers {a.layers}, hidden 1024), batch {a.batch}, "
          f"seq {a.seq}, {a.dtype}, forward")
    print(f"median over {a.rounds} rounds: torch eager "
          f"{statistics.median(x['torch_ms'] for x in rounds):.3f} ms, tessera "
          f"{statistics.median(x['tessera_ms'] for x in rounds):.3f} ms, "
          f"tessera / torch = {ratio:.3f}")
    for k, v in achieved.items():
        frac = f" = {v / peak:.1%} of the {peak:.0f} TFLOP/s {a.dtype} peak" if peak else ""
        print(f"torch.matmul {k} {gemms[k]}: {v:.1f} TFLOP/s{frac}")
    # Tessera's own kernels, from one profiled run (per-kernel synchronisation
    # adds a little to each): GEMMs as TFLOP/s, memory-bound ones as GB/s.
    size = 2 if a.dtype != "fp32" else 4
    hidden, layers = 1024, a.layers
    gemm_flops = 2.0 * tokens * (layers * (hidden * 3 * hidden + hidden * hidden + 8 * hidden * hidden)
                                 + hidden * config.vocab_size)
    rates = {}
    if "matmul" in ops:
        ms = ops["matmul"][0]
        rates["matmul"] = gemm_flops / (ms / 1e3) / 1e12
        frac = f" = {rates['matmul'] / peak:.1%} of peak" if peak else ""
        print(f"tessera matmul (cuBLASLt): {ms:.3f} ms, {rates['matmul']:.1f} TFLOP/s{frac}")
    moved = {"gelu": 2 * tokens * 4 * hidden * size, "layer_norm": 2 * tokens * hidden * size}
    for op, bytes_per_call in moved.items():
        if op in ops:
            ms, calls = ops[op]
            gbs = bytes_per_call * calls / (ms / 1e3) / 1e9
            rates[op] = gbs
            frac = f" = {gbs / bandwidth:.1%} of {bandwidth} GB/s" if bandwidth else ""
            print(f"tessera {op}: {ms:.3f} ms over {calls} calls, {gbs:.0f} GB/s{frac}")
    for op, (ms, calls) in sorted(ops.items(), key=lambda kv: -kv[1][0]):
        print(f"  {op:<12} {ms:9.3f} ms {calls:5d} calls")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"gpu": gpu, "rounds": rounds, "ratio": ratio, "gemm_tflops": achieved,
                       "peak_tflops": peak, "bandwidth_gbs": bandwidth, "tessera_ops_ms": ops,
                       "tessera_rates": rates}, f, indent=1)


if __name__ == "__main__":
    main()
