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

With MESH (e.g. dp=2) the same training runs partitioned too (ranks as
threads), and its losses, final weights and optimizer state must equal the
one-device run's (rtol 1e-5; atol 2e-5 as above, 0.2% of one Adam step: a
sum over the batch or a row-parallel product adds in another order, and Adam
divides each element's gradient by its own size, so elements whose gradient
cancels to almost nothing differ by more than the loss does; the
ill-conditioned elements above left out); it then resumes the one-device
checkpoint of step STEPS-2 on the mesh for the last 2 steps, which must give
the same losses. The checkpoint of a mesh holds whole tensors (every rank's
blocks assembled), so it is compared element by element.

A MESH of "dp=2/mb=2" also accumulates gradients over 2 micro-batches
within each step (--microbatches 2); "REPEAT" as the last argument doubles
the batch (every input and the labels twice over along the batch: the same
mean loss and gradients, so PyTorch's references still hold) for meshes
that need more samples than the zoo's.

usage: train_zoo.py BIN_DIR MODEL_DIR WORK_DIR [STEPS] [MESH] [REPEAT]
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


def repeat_npy(path, out, times=2):
    """Writes `path` `times` times over along its first dimension to `out`."""
    with open(path, "rb") as f:
        data = f.read()
    major = data[6]
    (hlen,), start = ((struct.unpack("<H", data[8:10]), 10) if major == 1
                      else (struct.unpack("<I", data[8:12]), 12))
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    shape = list(header["shape"])
    shape[0] *= times
    text = (f"{{'descr': '{header['descr']}', 'fortran_order': False, "
            f"'shape': ({', '.join(map(str, shape))},), }}")
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    body = data[start + hlen:]
    with open(out, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1"))
        f.write(body * times)


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


def checkpoint_files(ckpt):
    files = {}
    for line in open(os.path.join(ckpt, "checkpoint.txt")).read().splitlines()[1:]:
        name, file = line.split("\t")[:2]
        files[name] = os.path.join(ckpt, file)
    return files


def train(bin_dir, model_dir, flags, inputs, steps, work, name, extra=()):
    """Compiles with `flags`, trains `steps` steps; (losses, checkpoint files) or an error."""
    pkg = os.path.join(work, name + ".tpkg")
    compiled = subprocess.run([os.path.join(bin_dir, "tessera-compile"),
                               os.path.join(model_dir, "model.onnx"), *flags, "-o", pkg],
                              capture_output=True, text=True)
    if compiled.returncode:
        return None, "compile failed: " + " ".join(compiled.stderr.strip().splitlines()[-1:])
    log, ckpt = os.path.join(work, name + ".csv"), os.path.join(work, name + ".ckpt")
    ran = subprocess.run([os.path.join(bin_dir, "tessera-run"), pkg, *inputs, "--steps",
                          str(steps), "--loss-log", log, "--save-checkpoint", ckpt, *extra],
                         capture_output=True, text=True)
    if ran.returncode:
        return None, "run failed: " + ran.stderr.strip()
    losses = [float(line.split(",")[1]) for line in open(log).read().splitlines()[1:]]
    return (losses, checkpoint_files(ckpt)), None


def mesh_flags(mesh):
    """"dp=2,tp=2" -> --mesh; "dp=1/mb=2" adds --microbatches 2 (gradient
    accumulation over 2 micro-batches within each step, or a pipeline's
    micro-batches with pp); "/recompute=full" its activation recomputation;
    "/cluster=NAME" the cost model's cluster (a preset, or Inputs/NAME.json:
    a bandwidth-bound one makes the search keep large tensors split); a last
    "/1f1b" or "/gpipe" is tessera-run's --schedule (run_flags)."""
    parts = mesh.split("/")
    flags = ["--mesh", parts[0]]
    for p in parts[1:]:
        if p.startswith("mb="):
            flags += ["--microbatches", p[3:]]
        if p.startswith("zero="):
            flags += ["--zero", p[5:]]
        if p.startswith("recompute="):
            flags += ["--recompute", p[10:]]
        if p.startswith("cluster="):  # a preset, or a JSON file beside this script
            c = p[8:]
            here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs", c + ".json")
            flags += ["--cluster", here if os.path.exists(here) else c]
    return flags


def run_flags(mesh):
    """tessera-run's flags of a MESH: its pipeline schedule."""
    return [f for p in mesh.split("/")[1:] if p in ("1f1b", "gpipe")
            for f in ("--schedule", p)]


def compare_state(state, single, ill_of):
    """(the names of the tensors of `single` that `state` lacks or holds
    otherwise, with why; the largest |diff|): two runs' state, each name ->
    (shape, values), the ill-conditioned elements left out."""
    differ, worst = [], 0.0
    for name, (shape, values) in single.items():
        if name not in state:
            differ.append(name + " (missing)")
            continue
        mshape, mvalues = state[name]
        if mshape != shape:
            differ.append(f"{name} (shape {mshape})")
            continue
        w, b = compare(mvalues, values, ill_of(name, shape))
        worst = max(worst, w)
        if b:
            differ.append(f"{name} ({b} elements)")
    return differ, worst


def same_as_one_device(bin_dir, model_dir, flags, inputs, steps, work, mesh, single, ill_of):
    """The mesh's losses and state against the one-device run's (rtol 1e-5)."""
    global RTOL
    RTOL = 1e-5
    got, error = train(bin_dir, model_dir, flags + mesh_flags(mesh), inputs, steps, work, "mesh",
                       run_flags(mesh))
    if error:
        print(f"mesh {mesh}: {error}")
        return 1
    losses, files = got
    worst, bad = compare(losses, single[0])
    wbad, wworst = compare_state({n: read_npy(files[n]) for n in single[1] if n in files},
                                 {n: read_npy(f) for n, f in single[1].items()}, ill_of)
    # Resume: the one-device checkpoint after steps - 2, the last 2 steps on the mesh.
    head, error = train(bin_dir, model_dir, flags, inputs, steps - 2, work, "head")
    tail, error2 = (None, error) if error else train(
        bin_dir, model_dir, flags + mesh_flags(mesh), inputs, 2, work, "tail",
        ["--resume", os.path.join(work, "head.ckpt")] + run_flags(mesh))
    rworst, rbad = compare(tail[0], single[0][-2:]) if tail else (0.0, 1)
    ok = not bad and not wbad and not rbad and len(losses) == steps
    print(f"mesh {mesh}: {'ok' if ok else 'FAIL'} (losses max |diff| {worst:.3g}, "
          f"{len(single[1]) - len(wbad)} of {len(single[1])} state tensors equal to one device, "
          f"max |diff| {wworst:.3g}; resumed on the mesh at step {steps - 2}: "
          f"{'same losses' if not rbad else 'DIFFERENT ' + str(error2 or tail[0])})")
    RTOL = 1e-4
    return 0 if ok else 1


def ill_conditioned(model_dir):
    """ill_of(name, shape): the elements of state `name` (in Tessera's
    layout) that train_reference.py found ill-conditioned."""
    family = os.path.dirname(model_dir.rstrip("/"))
    names = json.load(open(os.path.join(model_dir, "train.json")))
    ill = json.load(open(os.path.join(family, "train", "ill_conditioned.json")))

    def ill_of(name, shape):
        if name in names["transposed"]:  # PyTorch's [out, in], stored [in, out]
            rows, cols = shape
            return [(i % rows) * cols + i // rows for i in ill.get(names["transposed"][name], [])]
        return ill.get(names["params"].get(name), [])
    return ill_of


def training_setup(model_dir, work, repeat=1):
    """(tessera-compile's training flags, tessera-run's --input flags) of a
    zoo export: AdamW lr 1e-2, weight decay 0.01, clip 1.0, train.json's
    frozen buffers and ties, the zoo inputs and labels - `repeat` times over
    along the batch (written to WORK_DIR) when repeat > 1."""
    family = os.path.dirname(model_dir.rstrip("/"))
    meta = json.load(open(os.path.join(model_dir, "meta.json")))
    names = json.load(open(os.path.join(model_dir, "train.json")))
    # The references train in eval mode (no dropout); the dynamo exports'
    # Dropout nodes say training_mode true: off here to compare.
    flags = ["--train", "--lr", "1e-2", "--weight-decay", "0.01", "--clip-grad-norm", "1.0",
             "--dropout-seed", "off"]
    for k, v in meta["inputs"].items():
        v = [v[0] * repeat] + v[1:]
        flags += ["--input-shape", f"{k}={'x'.join(map(str, v))}"]
    for name in names["frozen"]:
        flags += ["--frozen", name]
    for alias, target in names["ties"].items():
        flags += ["--tie", f"{alias}={target}"]
    inputs = []
    files = [(f[:-4], os.path.join(model_dir, "inputs", f))
             for f in sorted(os.listdir(os.path.join(model_dir, "inputs")))]
    files.append(("labels", os.path.join(family, "train", "labels.npy")))
    for name, path in files:
        if repeat > 1:
            repeat_npy(path, os.path.join(work, f"{name}.x{repeat}.npy"), repeat)
            path = os.path.join(work, f"{name}.x{repeat}.npy")
        inputs += ["--input", f"{name}={path}"]
    return flags, inputs


def main():
    bin_dir, model_dir, work = sys.argv[1:4]
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    mesh = sys.argv[5] if len(sys.argv) > 5 else None
    repeat = len(sys.argv) > 6 and sys.argv[6] == "REPEAT"
    os.makedirs(work, exist_ok=True)
    family = os.path.dirname(model_dir.rstrip("/"))
    names = json.load(open(os.path.join(model_dir, "train.json")))
    flags, inputs = training_setup(model_dir, work, 2 if repeat else 1)
    single, error = train(bin_dir, model_dir, flags, inputs, steps, work, "train")
    if error:
        print(error)
        return 1
    losses, files = single
    _, reference = read_npy(os.path.join(family, "train", "losses.npy"))
    worst, bad = compare(losses, reference[:steps])
    print(f"losses: {'ok' if not bad and len(losses) == steps else 'FAIL'} "
          f"({len(losses)} steps, max |diff| {worst:.3g}; "
          f"tessera {' '.join(f'{l:.5f}' for l in losses)})")
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
    status = 0 if not failed else 1
    if mesh:
        ill_of = ill_conditioned(model_dir)
        status |= same_as_one_device(bin_dir, model_dir, flags, inputs, steps, work, mesh, single,
                                     ill_of)
    return status


if __name__ == "__main__":
    sys.exit(main())
