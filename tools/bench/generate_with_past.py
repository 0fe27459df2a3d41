#!/usr/bin/env python3
"""Decode speed of an Optimum with-past export against the plain export of
the same model.

    .venv-optimum/bin/python tools/bench/generate_with_past.py [--threads 2]
        [--prompt 16] [--new 64] [--max-seq 128] [--rounds 5]

(.venv-optimum: `python3 -m venv .venv-optimum && .venv-optimum/bin/pip
install optimum-onnx onnxruntime`.) GPT-2 small (124M, random weights, seed 0)
saved once under /tmp/tessera-bench/gpt2_small_hf and exported twice with
`optimum-cli export onnx`: `--task text-generation-with-past` (past_key_values
inputs, present outputs) and `--task text-generation` (the plain export).
Both are compiled with `tessera-compile --generate --max-seq N` and run with
`tessera-run --prompt-ids ... --max-new-tokens K --profile`, rounds
alternating; both must give the same ids. Prints each round, the median
decode tokens/s of each and their ratio (with-past / plain: 1.0 is the same
speed).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = "/tmp/tessera-bench"


def export(hf, task, out):
    if not os.path.exists(os.path.join(out, "model.onnx")):
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "optimum-cli"), "export",
                        "onnx", "--model", hf, "--task", task, out], check=True,
                       stdout=subprocess.DEVNULL)
    return os.path.join(out, "model.onnx")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--max-seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()

    hf = os.path.join(WORK, "gpt2_small_hf")
    if not os.path.exists(os.path.join(hf, "config.json")):
        import torch
        import transformers
        torch.manual_seed(0)
        transformers.GPT2LMHeadModel(transformers.GPT2Config()).save_pretrained(hf)
    models = {"with-past": export(hf, "text-generation-with-past",
                                  os.path.join(WORK, "gpt2_small_optimum_past")),
              "plain": export(hf, "text-generation", os.path.join(WORK, "gpt2_small_optimum"))}
    env = dict(os.environ, TESSERA_NUM_THREADS=str(args.threads))
    packages = {}
    for name, model in models.items():
        packages[name] = os.path.join(WORK, f"gen_{name}.tpkg")
        subprocess.run([os.path.join(args.build, "bin/tessera-compile"), model, "--generate",
                        "--max-seq", str(args.max_seq), "-o", packages[name]], check=True,
                       env=env, capture_output=True)
    prompt = ",".join(str((7 * i + 3) % 50000) for i in range(args.prompt))
    rates = {name: [] for name in packages}
    ids = {}
    for r in range(args.rounds):
        for name, package in packages.items():
            out = subprocess.run([os.path.join(args.build, "bin/tessera-run"), package,
                                  "--prompt-ids", prompt, "--max-new-tokens", str(args.new),
                                  "--profile"], check=True, capture_output=True, text=True,
                                 env=env).stdout
            ids.setdefault(name, re.search(r"^ids:(.*)$", out, re.M).group(1))
            rate = float(re.search(r"decode: .*?([\d.]+) tokens/s", out).group(1))
            rates[name].append(rate)
            print(f"round {r}: {name:9s} {rate:8.1f} tokens/s")
    if ids["with-past"] != ids["plain"]:
        sys.exit("FAILED: the two exports generate different ids")
    past, plain = (statistics.median(rates[n]) for n in ("with-past", "plain"))
    print(f"median decode tokens/s: with-past {past:.1f}, plain {plain:.1f}; "
          f"ratio {past / plain:.3f} (GPT-2 small, {args.threads} threads, prompt {args.prompt}, "
          f"{args.new} new tokens, max-seq {args.max_seq}; same ids)")


if __name__ == "__main__":
    main()
