#!/usr/bin/env python3
"""Distributed training against one device, over every mesh a model admits.

For each zoo export (default: every family, both exporters) and every
dp x tp x pp mesh of the given rank counts (default 2, 4 and 8), with ZeRO
off and at stages 1, 2 and 3 (where dp > 1) and with the gpipe and 1f1b
schedules (where pp > 1; m = pp micro-batches per step), this compiles the
training step (AdamW lr 1e-2, weight decay 0.01, clip 1.0, as
test/e2e/train_zoo.py), runs STEPS steps with the ranks as threads and under
mpirun (one process per rank), and compares every step's loss and every
weight and optimizer moment after the last step with the one-device run's
(rtol 1e-5, atol 2e-5, the ill-conditioned elements of train_reference.py
left out - the tolerance of train_zoo.test's meshes). Under mpirun the
checkpoint is sharded (a manifest per rank); its blocks are assembled here.

The batch is the zoo's repeated along its first dimension until every mesh
can split it (dp x m samples at most 8): the same mean loss.

A mesh the compiler refuses (tp not dividing the heads, more stages than the
model has cut points) is "not admitted" and listed with the compiler's
reason; any other difference is a failure (exit status 1).

usage: train_sweep.py BIN_DIR [--models gpt2/dynamo,...] [--ranks 2,4,8]
                      [--launch threads,mpirun] [--zero 0,1,2,3]
                      [--schedules gpipe,1f1b] [--steps 5] [--jobs 2]
                      [--work DIR]

The full sweep (8 exports x 71 configurations x 2 launchers) takes about 15
minutes on 2 cores; test/e2e/train_sweep.test runs a slice of it in CI.
"""
import argparse
import ast
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
import train_zoo as tz  # noqa: E402

tz.RTOL = 1e-5  # mesh against one device
MAX_SAMPLES = 8  # dp x m of the largest mesh here


def meshes(ranks, zeros, schedules):
    """Every (dp, tp, pp, m, zero, schedule) of `ranks` ranks."""
    for n in ranks:
        for dp in range(1, n + 1):
            for tp in range(1, n // dp + 1):
                if n % (dp * tp):
                    continue
                pp = n // (dp * tp)
                m = pp if pp > 1 else 1
                for zero in (zeros if dp > 1 else [0]):
                    for schedule in (schedules if pp > 1 else [None]):
                        yield dp, tp, pp, m, zero, schedule


def label(dp, tp, pp, m, zero, schedule):
    text = f"dp={dp},tp={tp},pp={pp}"
    if m > 1:
        text += f" m={m}"
    if zero:
        text += f" zero={zero}"
    if schedule:
        text += f" {schedule}"
    return text


def assemble(ckpt):
    """The tensors of a sharded checkpoint (checkpoint.rankN.txt manifests
    naming blocks `name@[offsets]`), assembled whole: name -> (shape, values).
    Blocks several ranks hold (replicas) must agree."""
    blocks = {}
    for entry in sorted(os.listdir(ckpt)):
        if not (entry.startswith("checkpoint.") and entry.endswith(".txt")):
            continue
        for line in open(os.path.join(ckpt, entry)).read().splitlines()[1:]:
            key, file = line.split("\t")[:2]
            name, _, at = key.partition("@")
            offsets = ast.literal_eval(at) if at else None
            blocks.setdefault(name, []).append((offsets, os.path.join(ckpt, file)))
    whole = {}
    for name, parts in blocks.items():
        read = [(o, *tz.read_npy(f)) for o, f in parts]
        rank = len(read[0][1])
        shape = [max((o[d] if o else 0) + s[d] for o, s, _ in read) for d in range(rank)]
        size = math.prod(shape)
        values = [None] * size
        strides = [math.prod(shape[d + 1:]) for d in range(rank)]
        for offsets, bshape, bvalues in read:
            offsets = offsets or [0] * rank
            bstrides = [math.prod(bshape[d + 1:]) for d in range(rank)]
            for i, v in enumerate(bvalues):
                flat = sum(((i // bstrides[d]) % bshape[d] + offsets[d]) * strides[d]
                           for d in range(rank))
                if values[flat] is not None and values[flat] != v:
                    raise ValueError(f"{ckpt}: blocks of '{name}' disagree at element {flat}")
                values[flat] = v
        if any(v is None for v in values):
            raise ValueError(f"{ckpt}: the blocks of '{name}' do not cover {shape}")
        whole[name] = (shape, values)
    return whole


# One OpenMP thread per process: the sweep checks numbers, not speed, and up
# to 2 x 8 ranks share the machine (spinning OpenMP teams on oversubscribed
# cores slow everything down). The one-device reference runs the same way.
os.environ.update(OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")


def run(cmd, timeout=600):
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s"
    lines = done.stderr.strip().splitlines() or [""]
    errors = [l for l in lines if l.startswith("error")]  # mpirun adds its own after
    return done.returncode, (errors or lines)[0 if errors else -1]


def compare_run(losses_csv, state, single, ill_of, steps):
    """'ok (...)' or 'FAIL (...)' of a run's losses and state (name ->
    (shape, values)) against the one-device run's."""
    losses = [float(line.split(",")[1]) for line in open(losses_csv).read().splitlines()[1:]]
    worst, bad = tz.compare(losses, single["losses"])
    differ, wworst = tz.compare_state(state, single["state"], ill_of)
    ok = not bad and not differ and len(losses) == steps
    text = (f"losses max |diff| {worst:.2g}, {len(single['state']) - len(differ)}/"
            f"{len(single['state'])} state tensors, max |diff| {wworst:.2g}")
    if differ:
        text += "; differ: " + ", ".join(differ[:3])
    return ok, text


def one_config(args, setup, single, ill_of, config):
    dp, tp, pp, m, zero, schedule = config
    ranks = dp * tp * pp
    work = tempfile.mkdtemp(dir=setup["work"])
    try:
        flags, inputs = setup["flags"], setup["inputs"]
        pkg = os.path.join(work, "mesh.tpkg")
        mesh = ["--mesh", f"dp={dp},tp={tp},pp={pp}"]
        if m > 1:
            mesh += ["--microbatches", str(m)]
        if zero:
            mesh += ["--zero", str(zero)]
        rc, err = run([os.path.join(args.bin, "tessera-compile"),
                       os.path.join(setup["dir"], "model.onnx"), *flags, *mesh, "-o", pkg])
        if rc:
            return "refused", err
        sched = ["--schedule", schedule] if schedule else []
        results = []
        for launch in args.launch:
            log, ckpt = os.path.join(work, launch + ".csv"), os.path.join(work, launch + ".ckpt")
            cmd = [os.path.join(args.bin, "tessera-run"), pkg, *inputs, *sched, "--steps",
                   str(args.steps), "--loss-log", log, "--save-checkpoint", ckpt]
            if launch == "mpirun":
                cmd = [os.path.join(ROOT, "test", "e2e", "mpirun.sh"), "--oversubscribe",
                       "-np", str(ranks), *cmd]
            rc, err = run(cmd)
            if rc:
                results.append((False, f"{launch} FAIL (exit {rc}: {err})"))
                continue
            try:
                if os.path.exists(os.path.join(ckpt, "checkpoint.txt")):
                    state = {n: tz.read_npy(f) for n, f in tz.checkpoint_files(ckpt).items()}
                else:
                    state = assemble(ckpt)
                ok, text = compare_run(log, state, single, ill_of, args.steps)
            except (OSError, ValueError) as e:
                ok, text = False, str(e)
            results.append((ok, f"{launch} {'ok' if ok else 'FAIL'} ({text})"))
        return ("ok" if all(ok for ok, _ in results) else "fail"), "; ".join(t for _, t in results)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bin")
    ap.add_argument("--models", default="gpt2/torchscript,gpt2/dynamo,bert/torchscript,"
                    "bert/dynamo,llama/torchscript,llama/dynamo,gpt_neox/torchscript,"
                    "gpt_neox/dynamo")
    ap.add_argument("--ranks", default="2,4,8")
    ap.add_argument("--launch", default="threads,mpirun")
    ap.add_argument("--zero", default="0,1,2,3")
    ap.add_argument("--schedules", default="gpipe,1f1b")
    ap.add_argument("--only", default="", help="run only the configurations whose label "
                    "contains this text (e.g. 'pp=2 m=2 zero=3')")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default=None)
    ap.add_argument("--keep", action="store_true", help="keep each configuration's files")
    args = ap.parse_args()
    args.launch = args.launch.split(",")
    configs = [c for c in meshes([int(r) for r in args.ranks.split(",")],
                                 [int(z) for z in args.zero.split(",")],
                                 args.schedules.split(","))
               if args.only in label(*c)]
    work = args.work or tempfile.mkdtemp(prefix="tessera-train-sweep.")
    os.makedirs(work, exist_ok=True)
    counts = {"ok": 0, "fail": 0, "refused": 0}
    refusals = {}
    start = time.time()
    for model in args.models.split(","):
        model_dir = os.path.join(ROOT, "test", "models", model)
        mwork = os.path.join(work, model.replace("/", "."))
        os.makedirs(mwork, exist_ok=True)
        batch = next(iter(json.load(open(os.path.join(model_dir, "meta.json")))["inputs"]
                          .values()))[0]
        repeat = MAX_SAMPLES // math.gcd(MAX_SAMPLES, batch)
        flags, inputs = tz.training_setup(model_dir, mwork, repeat)
        got, error = tz.train(args.bin, model_dir, flags, inputs, args.steps, mwork, "one")
        if error:
            print(f"{model}: one device: {error}", flush=True)
            counts["fail"] += 1
            continue
        single = {"losses": got[0], "state": {n: tz.read_npy(f) for n, f in got[1].items()}}
        print(f"{model}: one device, batch {batch * repeat}: losses "
              f"{' '.join(f'{l:.5f}' for l in single['losses'])}", flush=True)
        setup = {"dir": model_dir, "work": mwork, "flags": flags, "inputs": inputs}
        ill_of = tz.ill_conditioned(model_dir)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = [(c, pool.submit(one_config, args, setup, single, ill_of, c))
                       for c in configs]
            for c, f in futures:
                status, text = f.result()
                counts[status] += 1
                if status == "refused":
                    refusals.setdefault(text, []).append(f"{model} {label(*c)}")
                    text = "not admitted: " + text
                print(f"{model} {label(*c)}: {text}", flush=True)
    print(f"\n{sum(counts.values())} configurations in {time.time() - start:.0f} s: "
          f"{counts['ok']} equal to one device ({' and '.join(args.launch)}), "
          f"{counts['fail']} failed, {counts['refused']} not admitted")
    for reason, which in sorted(refusals.items(), key=lambda kv: -len(kv[1])):
        print(f"  not admitted ({len(which)}): {reason}")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
