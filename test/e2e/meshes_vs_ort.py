"""Compiles each export on one rank, tp=2, pp=2 (2 micro-batches) and dp=2
and checks every output against ONNX Runtime's (the folder's outputs/*.npy,
rtol/atol 1e-4), feeding inputs/*.npy. Prints one line per export and mesh:

    mixtral/torchscript tp=2: ok (logits)

or FAILED with tessera-run's message.

    python3 meshes_vs_ort.py BIN_DIR WORK_DIR EXTRA_FLAGS EXPORT_DIR...
"""
import os
import subprocess
import sys

MESHES = [[], ["--mesh", "tp=2"], ["--mesh", "pp=2", "--microbatches", "2"], ["--mesh", "dp=2"]]


def main():
    bin_dir, work, extra = sys.argv[1], sys.argv[2], sys.argv[3].split()
    os.makedirs(work, exist_ok=True)
    for folder in sys.argv[4:]:
        name = "/".join(os.path.normpath(folder).split(os.sep)[-2:])
        inputs = sorted(os.listdir(os.path.join(folder, "inputs")))
        outputs = sorted(os.listdir(os.path.join(folder, "outputs")))
        for mesh in MESHES:
            label = " ".join(mesh[1:2]) or "one rank"
            package = os.path.join(work, "p.tpkg")
            compiled = subprocess.run([os.path.join(bin_dir, "tessera-compile"),
                                       os.path.join(folder, "model.onnx"), *extra, *mesh,
                                       "-o", package], capture_output=True, text=True)
            if compiled.returncode:
                print(f"{name} {label}: FAILED to compile: {compiled.stderr.strip()[-300:]}")
                continue
            cmd = [os.path.join(bin_dir, "tessera-run"), package, "--rtol", "1e-4", "--atol", "1e-4"]
            for f in inputs:
                cmd += ["--input", f"{f[:-4]}={os.path.join(folder, 'inputs', f)}"]
            for f in outputs:
                cmd += ["--check", f"{f[:-4]}={os.path.join(folder, 'outputs', f)}"]
            ran = subprocess.run(cmd, capture_output=True, text=True)
            oks = [line for line in ran.stdout.splitlines() if line.startswith("check ")]
            if ran.returncode or len(oks) != len(outputs) or any(": ok" not in l for l in oks):
                print(f"{name} {label}: FAILED: {(ran.stdout + ran.stderr).strip()[-300:]}")
            else:
                print(f"{name} {label}: ok ({', '.join(f[:-4] for f in outputs)})")


if __name__ == "__main__":
    main()
