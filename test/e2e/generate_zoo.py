#!/usr/bin/env python3
"""Generates text with one zoo export and compares it with Hugging Face.

Compiles MODEL_ROOT/EXPORTER/model.onnx with --generate (a KV cache of
MAX_SEQ positions, a batch of BATCH sequences), runs tessera-run on the
prompts of MODEL_ROOT/generate.json (tools/models/generate_reference.py:
Hugging Face `generate(do_sample=False)` with its KV cache) and checks that
the greedy token ids are exactly Hugging Face's. With BATCH > 1 all prompts
fill one batch (ragged: each sequence starts generating after its own
prompt); with BATCH 1, one run per prompt. Then sampling: the same seed gives
the same ids twice, another seed other ids. Prints one line per check, for
FileCheck.

PREFILL is the compiler's --prefill (default 8: the prompts of 1 and 4
tokens are read in one prefill run, the one of 9 fills it and continues step
by step; "none": every prompt step by step).

MESH (default none) partitions the decode step (--mesh, e.g. tp=2, pp=2,
tp=2,pp=2); its ranks run as threads.

MODEL_ROOT/EXPORTER is the model.onnx of a decoder or, without one, the
folder of an encoder-decoder (Optimum's: its ids are the decoder's, from the
decoder start token).

usage: generate_zoo.py BIN_DIR MODEL_ROOT EXPORTER WORK_DIR [BATCH] [PREFILL] [MESH] [MAX_SEQ]
"""
import json
import os
import subprocess
import sys


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"FAILED ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return proc.stdout


def ids_of(stdout):
    return [[int(t) for t in line.split()[1:]] for line in stdout.splitlines()
            if line.startswith("ids:")]


def main():
    bin_dir, root, exporter, work = sys.argv[1:5]
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    prefill = sys.argv[6] if len(sys.argv) > 6 else "8"
    mesh = sys.argv[7] if len(sys.argv) > 7 else "none"
    max_seq = int(sys.argv[8]) if len(sys.argv) > 8 else 32
    os.makedirs(work, exist_ok=True)
    ref = json.load(open(os.path.join(root, "generate.json")))
    new = ref["max_new_tokens"]
    pkg = os.path.join(work, "gen.tpkg")
    # A decoder's model.onnx, or an encoder-decoder's folder (Optimum's).
    model = os.path.join(root, exporter, "model.onnx")
    encdec = not os.path.exists(model)
    if encdec:
        model = os.path.join(root, exporter)
    run([os.path.join(bin_dir, "tessera-compile"), model,
         "--generate", "--max-seq", str(max_seq), "--batch", str(batch), "--prefill", prefill,
         "-o", pkg] + ([] if mesh == "none" else ["--mesh", mesh]))
    runner = [os.path.join(bin_dir, "tessera-run"), pkg, "--max-new-tokens", str(new)]
    spec = lambda prompts: ";".join(",".join(str(t) for t in p) for p in prompts)
    got = []
    if batch > 1:
        got = ids_of(run(runner + ["--prompt-ids", spec(ref["prompts"])]))
    else:
        for p in ref["prompts"]:
            got += ids_of(run(runner + ["--prompt-ids", spec([p])]))
    bad = 0
    for i, (want, have) in enumerate(zip(ref["ids"], got)):
        if want != have:
            first = next((k for k, (a, b) in enumerate(zip(want, have)) if a != b),
                         min(len(want), len(have)))
            print(f"prompt {i}: differs at position {first}: hugging face {want[first:first + 5]}"
                  f" tessera {have[first:first + 5]}")
            bad += 1
    if len(got) != len(ref["ids"]) or bad:
        print(f"greedy: FAILED ({bad} of {len(ref['ids'])} prompts differ)")
        sys.exit(1)
    print(f"greedy: ok ({len(got)} prompts, {new} new tokens each, batch {batch}, "
          f"prefill {prefill}, mesh {mesh})")
    if prefill != "none" and not encdec:
        # The prompt programs ran (on every rank of a partitioned package),
        # not the step-by-step fallback.
        profile = run(runner + ["--prompt-ids", spec(ref["prompts"][:1]), "--profile"])
        if "prefill: 1 run(s)" not in profile or "a prefill program" not in profile:
            print("prefill: FAILED (the prompt was not read by a prompt program)\n" + profile)
            sys.exit(1)

    sample = ["--prompt-ids", spec(ref["prompts"][:batch]), "--temperature", "0.9",
              "--top-k", "100", "--top-p", "0.95"]
    a = ids_of(run(runner + sample + ["--seed", "7"]))
    b = ids_of(run(runner + sample + ["--seed", "7"]))
    c = ids_of(run(runner + sample + ["--seed", "8"]))
    if a == c:
        # A model so sure of itself that both seeds draw the same tokens:
        # a flat distribution (temperature 1000) must tell the seeds apart.
        flat = ["--prompt-ids", spec(ref["prompts"][:batch]), "--temperature", "1000"]
        a, b = ids_of(run(runner + flat + ["--seed", "7"])), ids_of(run(runner + flat + ["--seed", "7"]))
        c = ids_of(run(runner + flat + ["--seed", "8"]))
    if a != b or a == c:
        print(f"sampling: FAILED (seed 7 twice equal: {a == b}; seed 8 differs: {a != c})")
        sys.exit(1)
    print("sampling: ok (a seed repeats, another seed differs)")


if __name__ == "__main__":
    main()
