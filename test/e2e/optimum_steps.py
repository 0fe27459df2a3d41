#!/usr/bin/env python3
"""Fixed-step compiles of an Optimum with-past export against ONNX Runtime.

For each step under MODEL_ROOT/steps (tools/models/make_optimum_zoo.py: a
decode step of 1 token after 15 cached positions, a prompt step of 5 tokens
with an empty past), compiles MODEL_ROOT/optimum/model.onnx with that step's
bindings (steps/<step>/dims.txt: --seq and --dim past_sequence_length; the
attention mask's 'past_sequence_length + sequence_length' follows) and, with
MESH, partitioned; runs tessera-run on the step's inputs (empty ones, a past
of no positions, given no file) and checks every output (logits and each
present.*) against ONNX Runtime's within 1e-4. Prints one line per step.

usage: optimum_steps.py BIN_DIR MODEL_ROOT WORK_DIR [MESH]
"""
import ast
import os
import subprocess
import sys


def shape_of(npy):
    with open(npy, "rb") as f:
        f.read(8)
        header_len = int.from_bytes(f.read(2), "little")
        return ast.literal_eval(f.read(header_len).decode("latin1"))["shape"]


def main():
    bin_dir, root, work = sys.argv[1:4]
    mesh = sys.argv[4] if len(sys.argv) > 4 else "none"
    os.makedirs(work, exist_ok=True)
    for step in sorted(os.listdir(os.path.join(root, "steps"))):
        d = os.path.join(root, "steps", step)
        dims = open(os.path.join(d, "dims.txt")).read().split()
        pkg = os.path.join(work, step + ".tpkg")
        cmd = [os.path.join(bin_dir, "tessera-compile"), os.path.join(root, "optimum", "model.onnx"),
               "-o", pkg] + dims + ([] if mesh == "none" else ["--mesh", mesh])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"FAILED: {' '.join(cmd)}\n{p.stderr}")
        run = [os.path.join(bin_dir, "tessera-run"), pkg, "--rtol", "1e-4", "--atol", "1e-4"]
        empty = 0
        for f in sorted(os.listdir(os.path.join(d, "inputs"))):
            if 0 in shape_of(os.path.join(d, "inputs", f)):
                empty += 1  # an empty past: no file
                continue
            run += ["--input", f"{f[:-4]}={os.path.join(d, 'inputs', f)}"]
        outputs = sorted(os.listdir(os.path.join(d, "outputs")))
        for f in outputs:
            run += ["--check", f"{f[:-4]}={os.path.join(d, 'outputs', f)}"]
        p = subprocess.run(run, capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"FAILED: {' '.join(run)}\n{p.stdout}{p.stderr}")
        print(f"{step}: {len(outputs)} outputs match ONNX Runtime ({empty} empty inputs given "
              f"no file, mesh {mesh})")


if __name__ == "__main__":
    main()
