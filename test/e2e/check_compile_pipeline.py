#!/usr/bin/env python3
"""Checks that tessera-compile's pass pipeline reproduces its partition.

For one model and set of options: the imported module (--emit=tsr) run
through the printed pipeline (--print-pipeline) by tessera-opt must give,
for every rank r, exactly what `tessera-compile --emit=partitioned --rank r`
prints (less its "// rank" comment line): once with the pipeline printed for
--emit=partitioned --rank r (it ends with tsr-partition-select-rank), and
for the other ranks by tsr-partition-select-rank on the whole partitioned
module. Prints the pipeline, the mesh and "ranks: N identical".

usage: check_compile_pipeline.py BIN_DIR WORK_DIR MODEL.onnx OPTIONS...
"""
import os
import re
import subprocess
import sys


def run(args, what):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {what}: exit {p.returncode}\n{' '.join(args)}\n{p.stderr[-3000:]}")
    return p.stdout


def main():
    bindir, work, model, options = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(work, exist_ok=True)
    compile_ = [os.path.join(bindir, "tessera-compile"), model] + options
    opt = os.path.join(bindir, "tessera-opt")
    tsr = os.path.join(work, "imported.mlir")
    run(compile_ + ["--emit=tsr", "-o", tsr], "--emit=tsr")
    pipeline = run(compile_ + ["--print-pipeline"], "--print-pipeline").strip()
    print("pipeline:", pipeline)
    whole = os.path.join(work, "partitioned.mlir")
    run([opt, tsr, "--pass-pipeline=" + pipeline, "-o", whole], "tessera-opt (whole pipeline)")
    text = open(whole).read()
    plan = re.search(r"#tsr\.mesh_plan<dp = (\d+), tp = (\d+), pp = (\d+)", text)
    if not plan:
        sys.exit("FAIL: no #tsr.mesh_plan in tessera-opt's output")
    dp, tp, pp = (int(x) for x in plan.groups())
    print(f"mesh: dp={dp} tp={tp} pp={pp}")
    ranks = dp * tp * pp
    failures = 0
    for r in range(ranks):
        expected = run(compile_ + ["--emit=partitioned", "--rank", str(r)],
                       f"--emit=partitioned --rank {r}")
        expected = "".join(l for l in expected.splitlines(True) if not l.startswith("// rank"))
        if r == ranks - 1:
            # The pipeline printed for this rank, select-rank included.
            selected = run(compile_ + ["--emit=partitioned", "--rank", str(r), "--print-pipeline"],
                           "--print-pipeline --emit=partitioned").strip()
            if "tsr-partition-select-rank{rank=%d}" % r not in selected:
                sys.exit(f"FAIL: rank {r}'s pipeline does not end with its select-rank: {selected}")
            got = run([opt, tsr, "--pass-pipeline=" + selected], f"tessera-opt (rank {r})")
        else:
            got = run([opt, whole, "--tsr-partition-select-rank=rank=%d" % r],
                      f"tessera-opt select-rank {r}")
        if got.strip() != expected.strip():
            failures += 1
            a, b = got.splitlines(), expected.splitlines()
            line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            print(f"FAIL: rank {r}: tessera-opt's IR differs from --emit=partitioned's at line "
                  f"{line + 1}:\n  opt:     {a[line][:300] if line < len(a) else '<end>'}\n"
                  f"  compile: {b[line][:300] if line < len(b) else '<end>'}")
    if failures:
        sys.exit(1)
    print(f"ranks: {ranks} identical")


if __name__ == "__main__":
    main()
