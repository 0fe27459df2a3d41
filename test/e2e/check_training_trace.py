#!/usr/bin/env python3
"""Checks a tessera-run --train --trace of a pipelined training package
against its schedule: per rank (stage), the forward ("F <mb>") and backward
("B <mb>") passes in start order must be the schedule's - 1F1B: stage s runs
pp - s - 1 forward passes, then one forward and one backward in turn, then
the remaining backward passes; GPipe: every forward pass, then every
backward pass - and the once-per-step segments (the optimizer) come after
the last backward pass. Kernels must lie inside passes. Prints one line per
rank, for FileCheck.

usage: check_training_trace.py TRACE.json STAGES MICROBATCHES SCHEDULE
"""
import json
import sys


def expected(schedule, stage, stages, micro):
    if schedule == "gpipe":
        return [("F", mb) for mb in range(micro)] + [("B", mb) for mb in range(micro)]
    out, f, b = [], 0, 0
    warmup = min(stages - stage - 1, micro)
    while f < warmup:
        out.append(("F", f))
        f += 1
    while f < micro:
        out += [("F", f), ("B", b)]
        f, b = f + 1, b + 1
    while b < micro:
        out.append(("B", b))
        b += 1
    return out


def main():
    path, stages, micro, schedule = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    events = [e for e in json.load(open(path))["traceEvents"] if e.get("ph") == "X"]
    failures = 0
    for rank in range(stages):
        mine = sorted((e for e in events if e["tid"] == rank), key=lambda e: e["ts"])
        passes = [e for e in mine if e["cat"] in ("forward", "backward")]
        got = [(e["name"].split()[0], int(e["name"].split()[1])) for e in passes]
        # A stage whose forward and backward of the phase are one pass (the
        # loss's stage may keep them together) shows only F; keep B's order.
        want = expected(schedule, rank, stages, micro)
        if not any(k == "B" for k, _ in got):
            want = [s for s in want if s[0] == "F"]
        ok = got[-len(want):] == want
        once = [e for e in mine if e["cat"] == "once"]
        last_pass = max((e["ts"] + e["dur"] for e in passes), default=0)
        after = all(e["ts"] >= last_pass - 1e-3 for e in once
                    if e["name"].startswith("once train:2"))
        inside = all(any(p["ts"] - 1e-3 <= k["ts"] and
                         k["ts"] + k["dur"] <= p["ts"] + p["dur"] + 1e-3
                         for p in passes + once)
                     for k in mine if k["cat"] in ("kernel", "collective"))
        failures += not (ok and after and inside)
        shown = " ".join(f"{k}{mb}" for k, mb in got[-len(want):][:8])
        print(f"rank {rank}: {len(got)} passes in {schedule} order: {shown} ..." if ok
              else f"rank {rank}: FAIL: got {got}, want {want}")
        if not after:
            print(f"rank {rank}: FAIL: the optimizer ran before the last backward pass")
        if not inside:
            print(f"rank {rank}: FAIL: a kernel outside every pass")
    print("trace ok" if not failures else f"{failures} rank(s) FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
