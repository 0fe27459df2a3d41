#!/usr/bin/env python3
"""Checks tessera-run's validation (--eval-data) and scheduled checkpoints on
the zoo's GPT-2, against PyTorch and against runs without them. Pure Python.

- The validation loss after the 5 training steps of the zoo's PyTorch
  reference equals the cross-entropy of PyTorch's own logits after those
  steps (tools/models/train_reference.py's logits_after.npy) on the same
  windows (rtol 1e-5).
- Validation changes no state: with a validation after every step the
  training losses and the final checkpoint are bit for bit those of a run
  without validation.
- A dp=2 x tp=2 package (the validation program partitioned as the step)
  gives the one-device validation losses (rtol 1e-5).
- --save-every 2 --keep 1: only the newest periodic checkpoint is left, and
  resuming from it continues bit for bit; --save-best keeps the checkpoint
  of the best validation loss with best.txt saying which.

usage: check_validation.py BIN_DIR WORK_DIR ZOO_MODEL_DIR PACKAGE MESH_PACKAGE
"""
import math
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_train_data import npy  # noqa: E402


def read_npy(path):
    data = open(path, "rb").read()
    (hlen,) = struct.unpack("<H", data[8:10])
    header = eval(data[10:10 + hlen].decode())  # the .npy header is a dict literal
    code = {"<f4": "f", "<i8": "q", "<f8": "d"}[header["descr"]]
    count = 1
    for d in header["shape"]:
        count *= d
    return header["shape"], list(struct.unpack("<%d%s" % (count, code), data[10 + hlen:]))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def log(path):
    """[(step, loss, val_loss or None)] of a --loss-log CSV."""
    rows = []
    lines = open(path).read().splitlines()
    assert lines[0] == "step,loss,grad_norm,lr,val_loss,val_ppl", lines[0]
    for line in lines[1:]:
        step, loss, _, _, val, ppl = line.split(",")
        if val:
            assert math.isclose(float(ppl), math.exp(float(val)), rel_tol=1e-6), line
        rows.append((int(step), loss, float(val) if val else None))
    return rows


def folder_bytes(path):
    return {f: open(os.path.join(path, f), "rb").read() for f in sorted(os.listdir(path))}


def main():
    bin_dir, work, zoo, package, mesh_package = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    (batch, seq), ids = read_npy(os.path.join(zoo, "dynamo/inputs/input_ids.npy"))
    _, logits = read_npy(os.path.join(zoo, "train/logits_after.npy"))
    vocab = len(logits) // (batch * seq)
    # The validation stream: the zoo's rows one after the other, then a token;
    # window w is row w and the next token (its labels: the row shifted).
    stream = ids + [7]
    npy(os.path.join(work, "val.npy"), stream, "q")
    fixed = ["--input", "input_ids=" + os.path.join(zoo, "dynamo/inputs/input_ids.npy"),
             "--input", "attention_mask=" + os.path.join(zoo, "dynamo/inputs/attention_mask.npy"),
             "--input", "labels=" + os.path.join(zoo, "train/labels.npy")]
    tr = os.path.join(bin_dir, "tessera-run")

    # PyTorch's loss on the validation windows, from its logits after 5 steps.
    total = 0.0
    for b in range(batch):
        for s in range(seq):
            label = stream[b * seq + s + 1]
            row = logits[(b * seq + s) * vocab:(b * seq + s + 1) * vocab]
            top = max(row)
            total += top + math.log(sum(math.exp(v - top) for v in row)) - row[label]
    reference = total / (batch * seq)
    with_val = os.path.join(work, "val.csv")
    run([tr, package, *fixed, "--steps", "5", "--eval-data", os.path.join(work, "val.npy"),
         "--eval-every", "1", "--loss-log", with_val, "--save-checkpoint",
         os.path.join(work, "val.ckpt")])
    rows = log(with_val)
    assert all(r[2] is not None for r in rows), rows
    got = rows[-1][2]
    assert math.isclose(got, reference, rel_tol=1e-5), (got, reference)
    print(f"pytorch: ok (validation loss after 5 steps {got:.6f}, PyTorch's {reference:.6f})")

    plain = os.path.join(work, "plain.csv")
    run([tr, package, *fixed, "--steps", "5", "--loss-log", plain, "--save-checkpoint",
         os.path.join(work, "plain.ckpt")])
    assert [r[:2] for r in log(plain)] == [r[:2] for r in rows], "validation changed the losses"
    assert folder_bytes(os.path.join(work, "plain.ckpt")) == folder_bytes(
        os.path.join(work, "val.ckpt")), "validation changed the state"
    print("no state change: ok (5 losses and the checkpoint bit for bit)")

    meshed = os.path.join(work, "mesh.csv")
    run([tr, mesh_package, *fixed, "--steps", "5", "--eval-data", os.path.join(work, "val.npy"),
         "--eval-every", "1", "--loss-log", meshed])
    for a, b in zip(rows, log(meshed)):
        assert math.isclose(a[2], b[2], rel_tol=1e-5), (a, b)
    print("mesh: ok (5 validation losses equal the one-device ones)")

    ckpts, best = os.path.join(work, "ckpts"), os.path.join(work, "best")
    # (--save-best's folder given with a trailing slash, as users type it.)
    sched = os.path.join(work, "sched.csv")
    out = run([tr, package, *fixed, "--steps", "5", "--eval-data", os.path.join(work, "val.npy"),
               "--eval-every", "1", "--save-every", "2", "--keep", "1", "--checkpoint-dir", ckpts,
               "--save-best", best + "/", "--loss-log", sched])
    assert sorted(os.listdir(ckpts)) == ["step-4"], os.listdir(ckpts)
    vals = [r[2] for r in log(sched)]
    best_step = vals.index(min(vals)) + 1
    text = open(os.path.join(best, "best.txt")).read().split()
    assert text[:2] == ["step", str(best_step)], text
    assert math.isclose(float(text[3]), min(vals), rel_tol=1e-7), text
    resumed = os.path.join(work, "resumed.csv")
    run([tr, package, *fixed, "--steps", "1", "--resume", os.path.join(ckpts, "step-4"),
         "--loss-log", resumed])
    assert log(resumed)[0][:2] == rows[4][:2], (log(resumed), rows[4])
    run([tr, package, *fixed, "--steps", "1", "--resume", best])
    print(f"checkpoints: ok (kept step-4 of 2 and 4, resumed bit for bit; best at step "
          f"{best_step} of {len(vals)})")
    print("saved lines:", sum(line.startswith("saved") for line in out.splitlines()))


if __name__ == "__main__":
    main()
