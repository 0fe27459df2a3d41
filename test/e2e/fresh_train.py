#!/usr/bin/env python3
"""Trains exports of freshly initialised models (Inputs/fresh_train, made by
tools/models/make_fresh_train.py) and compares every step's loss and
gradient norm with PyTorch's (rtol 1e-4); with MESH, the mesh's with the
one-device run's too (losses rtol 1e-5, gradient norms 1e-4).

    fresh_train.py BIN_DIR FAMILY_DIR WORK_DIR EXPORT [MESH] [-- EXTRA COMPILE FLAGS]

MESH as train_zoo.py writes it: dp=2, pp=2/mb=2/1f1b, dp=2/zero=2, ...
Prints "EXPORT: losses ok ..." / "grad norms ok ..." (and "EXPORT MESH: ...")
or what differs, and tessera-compile's warnings."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_zoo import mesh_flags, run_flags  # noqa: E402


def train(bin_dir, family, work, export, name, steps, flags, run_extra):
    """tessera-compile --train FLAGS, tessera-run STEPS steps: {"losses": [...],
    "grad norms": [...]}, or None (the error printed)."""
    pkg = os.path.join(work, name + ".tpkg")
    compiled = subprocess.run([os.path.join(bin_dir, "tessera-compile"),
                               os.path.join(family, export + ".onnx"), "--train", "--lr", "1e-2",
                               "--weight-decay", "0.01", "--clip-grad-norm", "1.0", *flags,
                               "-o", pkg], capture_output=True, text=True)
    for line in compiled.stderr.splitlines():
        if line.startswith(("warning", "error")):
            print(line)
    if compiled.returncode:
        print(f"{name}: compile failed")
        return None
    # The export's inputs: ids only, or ids and mask.
    names = ["input_ids", "labels"] if export == "ids_only" else [
        "input_ids", "attention_mask", "labels"]
    log = os.path.join(work, name + ".csv")
    ran = subprocess.run([os.path.join(bin_dir, "tessera-run"), pkg, "--steps", str(steps),
                          "--loss-log", log, *run_extra] +
                         [a for n in names
                          for a in ("--input", f"{n}={os.path.join(family, n + '.npy')}")],
                         capture_output=True, text=True)
    if ran.returncode:
        print(f"{name}: run failed: {ran.stderr.strip()}")
        return None
    rows = [line.split(",") for line in open(log).read().splitlines()[1:]]
    return {"losses": [float(r[1]) for r in rows], "grad norms": [float(r[2]) for r in rows]}


def report(name, got, want, rtols, against):
    for what in ("losses", "grad norms"):
        rtol = rtols[what]
        worst = max(abs(a - b) / abs(b) for a, b in zip(got[what], want[what]))
        first = next((i + 1 for i, (a, b) in enumerate(zip(got[what], want[what]))
                      if abs(a - b) > rtol * abs(b)), None)
        if len(got[what]) != len(want[what]):
            first = len(got[what])
        verdict = "ok" if first is None else f"DIFFERENT from step {first}"
        print(f"{name}: {what} {verdict} ({len(want[what])} steps, max rel diff {worst:.1e}; "
              f"tessera {' '.join(f'{x:.5f}' for x in got[what])}; "
              f"{against} {' '.join(f'{x:.5f}' for x in want[what])})")


def main():
    bin_dir, family, work, export = sys.argv[1:5]
    rest = sys.argv[5:]
    mesh = rest.pop(0) if rest and rest[0] != "--" else None
    extra = rest[1:] if rest and rest[0] == "--" else []
    os.makedirs(work, exist_ok=True)
    ref = json.load(open(os.path.join(family, "reference.json")))
    steps = len(ref["losses"])
    single = train(bin_dir, family, work, export, export, steps, extra, [])
    if single is None:
        return 1
    report(export, single, {"losses": ref["losses"], "grad norms": ref["grad_norms"]},
           {"losses": 1e-4, "grad norms": 1e-4}, "torch")
    if mesh:
        got = train(bin_dir, family, work, export, f"{export}.mesh", steps,
                    extra + mesh_flags(mesh), run_flags(mesh))
        if got is None:
            return 1
        # (Gradient norms from step 3 on carry AdamW's amplification of the
        # summation order's rounding - full-size steps for elements whose
        # gradient is rounding noise: 1e-4 there.)
        report(f"{export} {mesh}", got, single, {"losses": 1e-5, "grad norms": 1e-4},
               "one device")
    return 0


if __name__ == "__main__":
    sys.exit(main())
