#!/usr/bin/env python3
"""Tessera's CPU backend against ONNX Runtime on the same ONNX files.

    .venv-models/bin/python tools/bench/cpu_vs_ort.py [--threads 2] [--rounds 5]
        [--only gpt2_b1,gpt2_b8,bert_b8,llama1b_b1] [--profile]
    .venv-models/bin/python tools/bench/cpu_vs_ort.py --model M.onnx [--batch 1] [--seq 128]

The suite: GPT-2 small (124M) at batch 1 and 8, BERT-base at batch 8 and a
Llama-3.2-1B-shaped model (1.2B) at batch 1, all sequence 128, fp32, exported
by tools/models/make_zoo.py (TorchScript exporter; exported under --models
when missing); and GPT-2 small's per-token decode (prompt 16, 64 new tokens,
greedy; Tessera's generation package with its KV cache against ONNX Runtime
on an export of the same weights with the KV cache as inputs and outputs;
the token ids must agree; ms per token, the prompt's step left out). Each benchmark compiles the model with tessera-compile, then
alternates rounds: tessera-run --bench RUNS (its own median of run() alone,
after two warm-up runs; inputs set once, outputs left in the session's
arena, where the Python API hands them out without a copy) and an ONNX
Runtime session (RUNS runs of run_with_iobinding, inputs and outputs bound to
preallocated arrays; median), both with the same thread count
(OMP_NUM_THREADS / intra_op_num_threads). Prints each round, then one table
of the medians over rounds and the ratio Tessera / ONNX Runtime (lower is
better). --profile adds tessera-run's per-kernel profile of the largest model.
It first prints the CPU and the paths Tessera's kernels take on it
(tessera-run --cpu-info); TESSERA_CPU_ISA=avx2 OPENBLAS_CORETYPE=Haswell
measures the AVX2-only paths on a CPU with AVX-512.
"""
import argparse
import math
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
    # per-token decode: prompt 16, 64 new tokens, greedy (ms per token)
    "gpt2_decode": ("gpt2_small", 1, 1, 0),
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
    # Both sides time the model alone: inputs set once, outputs written into
    # memory that stays allocated (ONNX Runtime: I/O binding to preallocated
    # arrays; Tessera: --bench, outputs left in the arena, where the Python
    # API hands them out without a copy).
    results = session.run(None, feeds)  # warm-up, and the outputs' shapes
    binding = session.io_binding()
    for name, value in feeds.items():
        binding.bind_cpu_input(name, value)
    kept = []
    for meta, value in zip(session.get_outputs(), results):
        buffer = np.empty_like(value)
        kept.append(buffer)
        binding.bind_output(meta.name, "cpu", 0, buffer.dtype, list(buffer.shape),
                            buffer.ctypes.data)
    session.run_with_iobinding(binding)

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    tessera, onnxrt = [], []
    for r in range(a.rounds):
        out = subprocess.run([os.path.join(a.build, "bin/tessera-run"), package,
                              "--bench", str(runs)], env=env, check=True,
                             capture_output=True, text=True).stdout
        t = float(re.search(r"median ([0-9.]+) ms", out).group(1))
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run_with_iobinding(binding)
            times.append((time.perf_counter() - start) * 1e3)
        o = statistics.median(times)
        tessera.append(t)
        onnxrt.append(o)
        print(f"{label} round {r + 1}: tessera {t:8.2f} ms   onnxruntime {o:8.2f} ms   "
              f"ratio {t / o:.3f}", flush=True)
    # The same numbers: the first output against ONNX Runtime's.
    name = session.get_outputs()[0].name
    check = "/tmp/tessera-bench-output.npy"
    subprocess.run([os.path.join(a.build, "bin/tessera-run"), package, "--output",
                    f"{name}={check}"], env=env, check=True, capture_output=True)
    diff = float(np.max(np.abs(np.load(check) - kept[0])))
    os.remove(check)
    print(f"{label}: output '{name}' max |tessera - onnxruntime| {diff:.2e}", flush=True)
    if profile:
        out = subprocess.run([os.path.join(a.build, "bin/tessera-run"), package, "--bench",
                              str(runs), "--profile"], env=env, check=True,
                             capture_output=True, text=True).stdout
        print(f"tessera-run --profile, {label}:\n" +
              "\n".join(l for l in out.splitlines() if not l.startswith("output ")))
    del session
    os.remove(package)
    return statistics.median(tessera), statistics.median(onnxrt)


def export_decode(path):
    """GPT-2 small's decode step as ONNX for ONNX Runtime: the weights of
    generate_vs_torch.py's model (make_zoo's, same seeds), the KV cache as
    explicit inputs and outputs (past_k/v per layer, [1, heads, past, 64])."""
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from generate_vs_torch import hf_model

    model = hf_model()
    cfg = model.config
    heads, dim = cfg.n_head, cfg.n_embd // cfg.n_head

    class Decode(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, position_ids, *past):
            t = self.m.transformer
            x = t.wte(input_ids) + t.wpe(position_ids)
            b, s = input_ids.shape
            presents = []
            for i, blk in enumerate(t.h):
                q, k, v = blk.attn.c_attn(blk.ln_1(x)).split(cfg.n_embd, dim=2)
                q, k, v = (y.view(b, s, heads, dim).transpose(1, 2) for y in (q, k, v))
                k = torch.cat([past[2 * i], k], dim=2)
                v = torch.cat([past[2 * i + 1], v], dim=2)
                presents += [k, v]
                scores = q @ k.transpose(-1, -2) / math.sqrt(dim)
                total = k.shape[2]
                visible = (torch.arange(total)[None, :] <=
                           torch.arange(s)[:, None] + (total - s))
                scores = scores.masked_fill(~visible, float("-inf"))
                y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, cfg.n_embd)
                x = x + blk.attn.c_proj(y)
                x = x + blk.mlp(blk.ln_2(x))
            return (self.m.lm_head(t.ln_f(x)), *presents)

    layers = len(model.transformer.h)
    past = [torch.zeros(1, heads, 3, dim) for _ in range(2 * layers)]
    names = [f"past_{kind}_{i}" for i in range(layers) for kind in "kv"]
    outs = [f"present_{kind}_{i}" for i in range(layers) for kind in "kv"]
    axes = {"input_ids": {1: "s"}, "position_ids": {1: "s"}}
    axes.update({n: {2: "past"} for n in names})
    axes.update({n: {2: "total"} for n in outs})
    with torch.no_grad():
        torch.onnx.export(Decode(), (torch.ones(1, 2, dtype=torch.long),
                                     torch.ones(1, 2, dtype=torch.long), *past), path,
                          dynamo=False, opset_version=17,
                          input_names=["input_ids", "position_ids", *names],
                          output_names=["logits", *outs], dynamic_axes=axes)


def bench_decode(a, prompt_len=16, new=64, max_seq=128):
    """Per-token decode: tessera-run's generation loop (KV cache in the
    package) against ONNX Runtime on an export with explicit KV inputs;
    greedy, same prompt; both must give the same token ids."""
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from generate_vs_torch import tessera_round

    work = os.path.join(a.models, "gpt2_small_decode")
    os.makedirs(work, exist_ok=True)
    onnx_path = os.path.join(work, "decode.onnx")
    if not os.path.exists(onnx_path):
        export_decode(onnx_path)
    dyn = model_path(a.models, "gpt2_small").replace("torchscript", "dynamo")
    if not os.path.exists(dyn):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/make_zoo.py"),
                        "--gpt2-small", "--out", a.models, "--exporters", "dynamo"], check=True)
    package = os.path.join(work, "gen.tpkg")
    subprocess.run([os.path.join(a.build, "bin/tessera-compile"), dyn, "--generate",
                    "--max-seq", str(max_seq), "-o", package], check=True,
                   stderr=subprocess.DEVNULL)
    prompt = torch.randint(0, 50257, (prompt_len,),
                           generator=torch.Generator().manual_seed(7)).tolist()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
    pasts = [i.name for i in session.get_inputs()][2:]
    shape = session.get_inputs()[2].shape

    def ort_round():
        feeds = {n: np.zeros([1, shape[1], 0, shape[3]], np.float32) for n in pasts}
        ids, steps, pos = list(prompt), [], 0
        tokens = prompt
        for step in range(new):
            feeds["input_ids"] = np.array([tokens], np.int64)
            feeds["position_ids"] = np.arange(pos, pos + len(tokens), dtype=np.int64)[None]
            start = time.perf_counter()
            out = session.run(None, feeds)
            if step:
                steps.append(time.perf_counter() - start)
            pos += len(tokens)
            tokens = [int(out[0][0, -1].argmax())]
            ids += tokens
            feeds.update(zip(pasts, out[1:]))
        return ids, statistics.median(steps)

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    tessera, onnxrt = [], []
    for r in range(a.rounds):
        ids_t, _, step_t = tessera_round(a.build, package, prompt, new, env)
        ids_o, step_o = ort_round()
        if ids_t != ids_o:
            first = next(i for i, (x, y) in enumerate(zip(ids_t, ids_o)) if x != y)
            sys.exit(f"decode: token ids differ at position {first}: tessera "
                     f"{ids_t[first:first + 4]}, onnxruntime {ids_o[first:first + 4]}")
        tessera.append(step_t * 1e3)
        onnxrt.append(step_o * 1e3)
        print(f"gpt2_decode round {r + 1}: tessera {tessera[-1]:8.2f} ms/token   onnxruntime "
              f"{onnxrt[-1]:8.2f} ms/token   ratio {tessera[-1] / onnxrt[-1]:.3f}", flush=True)
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
    # The CPU and the paths Tessera's GEMMs take on it (TESSERA_CPU_ISA and
    # OPENBLAS_CORETYPE in the environment cap them: docs/cpu-backend.md).
    info = subprocess.run([os.path.join(a.build, "bin/tessera-run"), "--cpu-info"],
                          capture_output=True, text=True, check=True).stdout.splitlines()[0]
    print(f"{info}; onnxruntime {ort.__version__}", flush=True)
    rows = []
    def weight_bytes(model):  # the ONNX file and its external data beside it
        folder = os.path.dirname(model)
        return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                   if os.path.isfile(os.path.join(folder, f)))

    largest = max((e for e in entries if e[0] != "gpt2_decode"),
                  key=lambda e: (weight_bytes(e[1]), e[2]), default=None)
    for label, model, batch, seq, runs in entries:
        if label == "gpt2_decode":
            t, o = bench_decode(a)
        else:
            t, o = bench(a, model, batch, seq, runs, label, a.profile and largest[0] == label)
        rows.append((label, batch, seq, t, o))
    print(f"\n{info}")
    print(f"medians of {a.rounds} alternating rounds, {a.threads} threads, fp32:")
    print(f"{'benchmark':<14}{'batch':>6}{'seq':>6}{'tessera ms':>13}{'onnxruntime ms':>16}"
          f"{'ratio':>8}")
    for label, batch, seq, t, o in rows:
        print(f"{label:<14}{batch:>6}{seq:>6}{t:>13.2f}{o:>16.2f}{t / o:>8.3f}")


if __name__ == "__main__":
    main()
