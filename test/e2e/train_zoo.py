#!/usr/bin/env python3
"""Trains one zoo export with Tessera and compares it with PyTorch.

Compiles MODEL_DIR/model.onnx with --train (AdamW, lr 1e-2, weight decay
0.01, clip 1.0, the buffers of train.json frozen and its ties tied), runs
STEPS steps on the zoo inputs and the reference labels, saves a checkpoint,
and compares every step's loss and every trained weight with the PyTorch
references of tools/models/train_reference.py (rtol 1e-4; weights also atol
2e-5, 0.2% of one step; the elements train_reference.py finds ill-conditioned
- zero gradients, or PyTorch's own float32 run off its float64 run - are left
out and counted). Prints one line
per comparison, for FileCheck; no numpy needed.

usage: train_zoo.py BIN_DIR MODEL_DIR WORK_DIR [STEPS]
"""
import ast
import json
import os
import struct
import subprocess
import sys

# atol: 0.2% of one Adam step at lr 1e-2.
RTOL, ATOL = 1e-4, 2e-5


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not .npy")
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    body = data[start + hlen:]
    fmt = {"<f4": "f", "<f8": "d", "<i8": "q"}[header["descr"]]
    count = 1
    for d in header["shape"]:
        count *= d
    values = struct.unpack(f"<{count}{fmt}", body[:count * struct.calcsize(fmt)])
    if header.get("fortran_order"):
        raise ValueError(f"{path}: Fortran order")
    return list(header["shape"]), list(values)


def transpose(shape, values):
    rows, cols = shape
    return [cols, rows], [values[r * cols + c] for c in range(cols) for r in range(rows)]


def compare(a, b, skip=()):
    """(max |diff|, count outside rtol/atol), elements `skip` left out."""
    worst, bad = 0.0, 0
    skip = set(skip)
    for i, (x, y) in enumerate(zip(a, b)):
        if i in skip:
            continue
        d = abs(x - y)
        worst = max(worst, d)
        if d > ATOL + RTOL * abs(y):
            bad += 1
    return worst, bad


def main():
    bin_dir, model_dir, work = sys.argv[1:4]
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    os.makedirs(work, exist_ok=True)
    family = os.path.dirname(model_dir.rstrip("/"))
    meta = json.load(open(os.path.join(model_dir, "meta.json")))
    names = json.load(open(os.path.join(model_dir, "train.json")))
    flags = ["--train", "--lr", "1e-2", "--weight-decay", "0.01", "--clip-grad-norm", "1.0"]
    for k, v in meta["inputs"].items():
        flags += ["--input-shape", f"{k}={'x'.join(map(str, v))}"]
    for name in names["frozen"]:
        flags += ["--frozen", name]
    for alias, target in names["ties"].items():
        flags += ["--tie", f"{alias}={target}"]
    pkg = os.path.join(work, "train.tpkg")
    compiled = subprocess.run([os.path.join(bin_dir, "tessera-compile"),
                               os.path.join(model_dir, "model.onnx"), *flags, "-o", pkg],
                              capture_output=True, text=True)
    if compiled.returncode:
        print("compile failed:", compiled.stderr.strip().splitlines()[-1:])
        return 1
    inputs = []
    for f in sorted(os.listdir(os.path.join(model_dir, "inputs"))):
        inputs += ["--input", f"{f[:-4]}={os.path.join(model_dir, 'inputs', f)}"]
    inputs += ["--input", f"labels={os.path.join(family, 'train', 'labels.npy')}"]
    log, ckpt = os.path.join(work, "loss.csv"), os.path.join(work, "checkpoint")
    ran = subprocess.run([os.path.join(bin_dir, "tessera-run"), pkg, *inputs, "--steps",
                          str(steps), "--loss-log", log, "--save-checkpoint", ckpt],
                         capture_output=True, text=True)
    if ran.returncode:
        print("run failed:", ran.stderr.strip())
        return 1
    losses = [float(line.split(",")[1]) for line in open(log).read().splitlines()[1:]]
    _, reference = read_npy(os.path.join(family, "train", "losses.npy"))
    worst, bad = compare(losses, reference[:steps])
    print(f"losses: {'ok' if not bad and len(losses) == steps else 'FAIL'} "
          f"({len(losses)} steps, max |diff| {worst:.3g}; "
          f"tessera {' '.join(f'{l:.5f}' for l in losses)})")
    files = {}
    for line in open(os.path.join(ckpt, "checkpoint.txt")).read().splitlines()[1:]:
        name, file = line.split("\t")[:2]
        files[name] = os.path.join(ckpt, file)
    checked, failed, worst_all, skipped = 0, [], 0.0, 0
    ill = json.load(open(os.path.join(family, "train", "ill_conditioned.json")))
    for init, transposed in [(k, False) for k in names["params"]] + \
                            [(k, True) for k in names["transposed"]]:
        param = (names["transposed"] if transposed else names["params"])[init]
        if init not in files:
            failed.append(f"{init} (not trained)")
            continue
        shape, mine = read_npy(files[init])
        ref_shape, ref = read_npy(os.path.join(family, "train", "final", param + ".npy"))
        if transposed:  # compare in PyTorch's layout
            shape, mine = transpose(shape, mine)
        if shape != ref_shape:
            failed.append(f"{init} (shape {shape} vs {ref_shape})")
            continue
        skipped += len(ill.get(param, []))
        worst, bad = compare(mine, ref, ill.get(param, []))
        worst_all = max(worst_all, worst)
        checked += 1
        if bad:
            failed.append(f"{init} ({bad} of {len(ref)} elements, max |diff| {worst:.3g})")
    print(f"weights: {'ok' if not failed else 'FAIL'} ({checked} parameters, "
          f"max |diff| {worst_all:.3g}, {skipped} ill-conditioned elements skipped)")
    for f in failed[:5]:
        print("  mismatch:", f)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
