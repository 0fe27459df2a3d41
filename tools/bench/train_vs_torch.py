#!/usr/bin/env python3
"""Tessera's training step on the CPU against PyTorch eager, same model.

    .venv-models/bin/python tools/bench/train_vs_torch.py [--threads 2]
        [--configs gpt2:1,gpt2:8] [--seq 128] [--rounds 3] [--steps 4]

Each config is MODEL:BATCH; MODEL is gpt2 (GPT-2 small, 124M, random
weights, exported by make_zoo.py --gpt2-small with the dynamo exporter,
written once under /tmp/tessera-bench) or llama1b (make_zoo.py's 1B
Llama-shaped model, TorchScript export, tied embedding: --tie). Tessera:
`tessera-compile --train` (AdamW, clipping at 1.0, dropout off as in
PyTorch's eval mode) then `tessera-run --steps`; a step's time is the
difference between a run of STEPS + 1 steps and one of 1 step, divided by
STEPS (loading the package is not counted). PyTorch: the same Hugging Face
model in eager mode (model.eval(): no dropout), torch.optim.AdamW,
clip_grad_norm_, cross-entropy, the same thread count; STEPS steps after one
warm-up step, in a process of its own. Rounds alternate; each process's peak
RSS is read from the kernel (wait4). Prints a Markdown table: the median
step times, their ratio Tessera / PyTorch (lower is better) and both peak
RSS.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = {
    "gpt2": ("/tmp/tessera-bench/gpt2_small/dynamo/model.onnx", "--gpt2-small", "dynamo", 50257),
    "llama1b": ("/tmp/tessera-bench/llama_1b/torchscript/model.onnx", "--llama-1b", "torchscript",
                128256),
}


def child_rss(cmd, env=None):
    """Runs `cmd`; (seconds, peak RSS MiB, stdout)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        sys.exit(f"FAILED ({status}): {' '.join(cmd)}\n{out.decode()}{err.decode()}")
    return seconds, usage.ru_maxrss / 1024.0, out.decode()


def torch_worker(a):
    import numpy as np
    import torch
    import transformers
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model == "gpt2":
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    else:
        cfg = transformers.LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                                       num_hidden_layers=16, num_attention_heads=32,
                                       num_key_value_heads=8, max_position_embeddings=2048,
                                       tie_word_embeddings=True)
        model = transformers.LlamaForCausalLM(cfg)
    model.eval()  # no dropout (Tessera compiles with --dropout-seed off)
    ids = torch.from_numpy(np.load(os.path.join(a.work, "input_ids.npy")))
    labels = torch.from_numpy(np.load(os.path.join(a.work, "labels.npy")))
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
    for _ in range(a.steps):
        step()
    print(json.dumps({"step": (time.perf_counter() - start) / a.steps}))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--configs", default="gpt2:1,gpt2:8")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_worker:
        return torch_worker(a)
    import numpy as np
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    rows = []
    for config in a.configs.split(","):
        name, batch = config.split(":")
        batch = int(batch)
        path, flag, exporter, vocab = MODELS[name]
        if not os.path.exists(path):
            out = os.path.dirname(os.path.dirname(os.path.dirname(path)))
            subprocess.run([sys.executable, os.path.join(ROOT, "tools/models/make_zoo.py"), flag,
                            "--out", out, "--exporters", exporter], check=True)
        work = f"/tmp/tessera-bench-train/{name}-b{batch}"
        os.makedirs(work, exist_ok=True)
        package = os.path.join(work, "train.tpkg")
        extra = []
        if name == "llama1b":
            extra = ["--tie", "model.lm_head.weight=model.model.embed_tokens.weight"]
        subprocess.run([os.path.join(a.build, "bin/tessera-compile"), path, "--batch", str(batch),
                        "--seq", str(a.seq), "--train", "--lr", "1e-4", "--clip-grad-norm", "1.0",
                        "--dropout-seed", "off", *extra, "-o", package], check=True,
                       capture_output=True)
        rng = np.random.default_rng(0)
        ids = rng.integers(0, vocab, (batch, a.seq), dtype=np.int64)
        labels = np.full_like(ids, -100)
        labels[:, :-1] = ids[:, 1:]
        np.save(os.path.join(work, "input_ids.npy"), ids)
        np.save(os.path.join(work, "attention_mask.npy"), np.ones_like(ids))
        np.save(os.path.join(work, "labels.npy"), labels)
        inputs = []
        for n in ("input_ids", "attention_mask", "labels"):
            inputs += ["--input", f"{n}={os.path.join(work, n + '.npy')}"]
        run = [os.path.join(a.build, "bin/tessera-run"), package, *inputs]
        ours, theirs, our_rss, their_rss = [], [], 0.0, 0.0
        for r in range(a.rounds):
            one, rss1, _ = child_rss(run + ["--steps", "1"], env)
            many, rss2, _ = child_rss(run + ["--steps", str(a.steps + 1)], env)
            ours.append((many - one) / a.steps)
            our_rss = max(our_rss, rss1, rss2)
            _, rss, out = child_rss([sys.executable, os.path.abspath(__file__), "--torch-worker",
                                     "--model", name, "--work", work, "--threads",
                                     str(a.threads), "--steps", str(a.steps)], env)
            theirs.append(json.loads(out.strip().splitlines()[-1])["step"])
            their_rss = max(their_rss, rss)
            print(f"{config} round {r + 1}: tessera {ours[-1] * 1e3:.0f} ms/step, "
                  f"pytorch {theirs[-1] * 1e3:.0f} ms/step", flush=True)
        t, o = statistics.median(ours), statistics.median(theirs)
        rows.append((name, batch, t, o, our_rss, their_rss))
    print(f"\n| model | batch x seq | threads | Tessera ms/step | PyTorch eager ms/step | ratio "
          f"| Tessera peak RSS MiB | PyTorch peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, batch, t, o, rt, ro in rows:
        print(f"| {name} | {batch} x {a.seq} | {a.threads} | {t * 1e3:.0f} | {o * 1e3:.0f} | "
              f"{t / o:.2f} | {rt:.0f} | {ro:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
