#!/usr/bin/env python3
"""Checks tsr gradient rules against central finite differences.

Every case of CASES (split at "// -----") is a `main` whose float inputs feed
one op and whose result is sum(op(inputs) * r). Each case is compiled twice
with tessera-compile: as is (the forward) and with `--train --loss none
--optimizer none --grad-inputs` (the loss and the gradient of every input,
through the autodiff pass and the rules). Inputs are seeded random values of
magnitude 0.1-1; for up to K coordinates of each input the gradient must
match (L(x + h e) - L(x - h e)) / 2h within 1% (+1e-3 absolute), computed on
the CPU runtime in float32. Prints one line per case, for FileCheck.

usage: finite_differences.py BIN_DIR CASES WORK_DIR [K]
"""
import ast
import os
import random
import re
import struct
import subprocess
import sys

H = 1e-2


def write_npy(path, shape, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        "".join(f"{d}," for d in shape) if shape else "")
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack(f"<{len(values)}f", *values))


def read_npy(path):
    data = open(path, "rb").read()
    (hlen,) = struct.unpack("<H", data[8:10])
    header = ast.literal_eval(data[10:10 + hlen].decode("latin1"))
    count = 1
    for d in header["shape"]:
        count *= d
    return list(struct.unpack(f"<{count}f", data[10 + hlen:10 + hlen + 4 * count]))


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return done


def main():
    bin_dir, cases_path, work = sys.argv[1:4]
    k_samples = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    os.makedirs(work, exist_ok=True)
    compile_ = os.path.join(bin_dir, "tessera-compile")
    tessera_run = os.path.join(bin_dir, "tessera-run")
    rng = random.Random(7)
    failures = 0
    for text in open(cases_path).read().split("// -----"):
        m = re.search(r"// case (\S+)", text)
        if not m:
            continue
        name = m.group(1)
        src = os.path.join(work, name + ".mlir")
        open(src, "w").write(text)
        fwd, grad = os.path.join(work, name + ".fwd.tpkg"), os.path.join(work, name + ".grad.tpkg")
        inputs = []
        for arg in re.finditer(r'%(\w+): tensor<([0-9x]*)(?:x)?f32> \{tsr.name = "(\w+)"\}',
                               text.split("->")[0]):
            dims = [int(d) for d in arg.group(2).split("x") if d]
            inputs.append((arg.group(3), dims))
        try:
            run([compile_, src, "-o", fwd])
            run([compile_, src, "--train", "--loss", "none", "--optimizer", "none",
                 "--grad-inputs", "-o", grad])
        except RuntimeError as e:
            print(f"case {name}: compile failed: {e}")
            failures += 1
            continue
        values = {}
        for arg, dims in inputs:
            count = 1
            for d in dims:
                count *= d
            values[arg] = [rng.choice((-1, 1)) * rng.uniform(0.1, 1.0) for _ in range(count)]

        def files(vals):
            flags = []
            for arg, dims in inputs:
                path = os.path.join(work, f"{name}.{arg}.npy")
                write_npy(path, dims, vals[arg])
                flags += ["--input", f"{arg}={path}"]
            return flags

        def loss(vals):
            out = os.path.join(work, f"{name}.loss.npy")
            run([tessera_run, fwd, *files(vals), "--output", f"loss={out}"])
            return read_npy(out)[0]

        outputs = []
        for arg, _ in inputs:
            outputs += ["--output", f"grad:{arg}={os.path.join(work, f'{name}.grad.{arg}.npy')}"]
        try:
            run([tessera_run, grad, *files(values), *outputs])
            worst, checked = 0.0, 0
            for arg, dims in inputs:
                analytic = read_npy(os.path.join(work, f"{name}.grad.{arg}.npy"))
                picks = rng.sample(range(len(analytic)), min(k_samples, len(analytic)))
                for i in picks:
                    plus = {a: list(v) for a, v in values.items()}
                    minus = {a: list(v) for a, v in values.items()}
                    plus[arg][i] += H
                    minus[arg][i] -= H
                    numeric = (loss(plus) - loss(minus)) / (2 * H)
                    err = abs(numeric - analytic[i])
                    if err > 1e-2 * max(abs(numeric), abs(analytic[i])) + 1e-3:
                        raise RuntimeError(f"d/d{arg}[{i}]: rule {analytic[i]:.6g}, "
                                           f"finite differences {numeric:.6g}")
                    worst = max(worst, err)
                    checked += 1
            print(f"case {name}: ok ({checked} coordinates, max error {worst:.2g})")
        except RuntimeError as e:
            print(f"case {name}: FAIL: {e}")
            failures += 1
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
