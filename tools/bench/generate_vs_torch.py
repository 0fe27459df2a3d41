#!/usr/bin/env python3
"""Tessera's text generation on the CPU against Hugging Face `generate`.

    .venv-models/bin/python tools/bench/generate_vs_torch.py [--threads 2]
        [--prompt 16] [--new 64] [--max-seq 128] [--rounds 3]

The model is GPT-2 small (124M, the random weights make_zoo.py --gpt2-small
exports with the dynamo exporter; written once under /tmp/tessera-bench).
Tessera: `tessera-compile --generate --max-seq N` (a decode step with a KV
cache), then `tessera-run --prompt-ids ... --max-new-tokens K --profile`, which
reports the prompt's time (fed one position per step) and the time per decode
step. Hugging Face: the same weights in PyTorch eager, `generate(do_sample=False)`
with its KV cache, the same thread count; its prompt time is a generate() of one
new token, its decode time the rest divided by the other new tokens. Both runs
must give the same token ids. Rounds alternate; the script prints each round,
the medians and the ratio of decode tokens/s (higher is better for Tessera).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
import make_zoo  # noqa: E402


def hf_model():
    """The weights make_zoo.export wrote (same seeds, same perturbation)."""
    torch.manual_seed(0)
    model, _, _, _ = make_zoo.gpt2_small()
    model.eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model


def tessera_round(build, package, prompt, new, env):
    out = subprocess.run([os.path.join(build, "bin/tessera-run"), package, "--prompt-ids",
                          ",".join(map(str, prompt)), "--max-new-tokens", str(new), "--profile"],
                         env=env, check=True, capture_output=True, text=True).stdout
    ids = [int(t) for t in re.search(r"^ids:(.*)$", out, re.M).group(1).split()]
    prefill = float(re.search(r"prefill: \d+ run\(s\) in ([\d.]+) ms", out).group(1)) / 1e3
    per_step = float(re.search(r"decode: \d+ step\(s\), ([\d.]+) ms per step", out).group(1)) / 1e3
    return ids, prefill, per_step


def hf_round(model, prompt, new):
    ids = torch.tensor([prompt])
    kwargs = dict(attention_mask=torch.ones_like(ids), do_sample=False, use_cache=True)
    with torch.no_grad():
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kwargs)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new, min_new_tokens=new, **kwargs)
        total = time.perf_counter() - start
    return out[0].tolist(), prefill, (total - prefill) / (new - 1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="/tmp/tessera-bench/gpt2_small/dynamo/model.onnx")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--max-seq", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    if not os.path.exists(a.model):
        out = os.path.dirname(os.path.dirname(os.path.dirname(a.model)))
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/make_zoo.py"),
                        "--gpt2-small", "--out", out, "--exporters", "dynamo"], check=True)
    work = "/tmp/tessera-bench-generate"
    os.makedirs(work, exist_ok=True)
    package = os.path.join(work, "gen.tpkg")
    subprocess.run([os.path.join(a.build, "bin/tessera-compile"), a.model, "--generate",
                    "--max-seq", str(a.max_seq), "-o", package], check=True)
    g = torch.Generator().manual_seed(7)
    prompt = torch.randint(0, 50257, (a.prompt,), generator=g).tolist()
    torch.set_num_threads(a.threads)
    model = hf_model()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    ours, theirs = [], []
    for r in range(a.rounds):
        ids_t, prefill_t, step_t = tessera_round(a.build, package, prompt, a.new, env)
        ids_h, prefill_h, step_h = hf_round(model, prompt, a.new)
        if ids_t != ids_h:
            first = next(i for i, (x, y) in enumerate(zip(ids_t, ids_h)) if x != y)
            print(f"token ids differ at position {first}: tessera {ids_t[first:first + 4]}, "
                  f"hugging face {ids_h[first:first + 4]}")
            return 1
        ours.append((prefill_t, step_t))
        theirs.append((prefill_h, step_h))
        print(f"round {r + 1}: tessera prompt {prefill_t * 1e3:.0f} ms, {step_t * 1e3:.1f} ms/token;"
              f" hugging face prompt {prefill_h * 1e3:.0f} ms, {step_h * 1e3:.1f} ms/token",
              flush=True)
    tp = statistics.median(x[0] for x in ours)
    ts = statistics.median(x[1] for x in ours)
    hp = statistics.median(x[0] for x in theirs)
    hs = statistics.median(x[1] for x in theirs)
    print(f"GPT-2 small, prompt {a.prompt}, {a.new} new tokens, {a.threads} threads "
          f"(same token ids): tessera {1 / ts:.1f} tokens/s (prompt {tp * 1e3:.0f} ms), "
          f"hugging face {1 / hs:.1f} tokens/s (prompt {hp * 1e3:.0f} ms); decode speed-up "
          f"{hs / ts:.2f}x, prompt time ratio {tp / hp:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
