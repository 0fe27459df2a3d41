#!/usr/bin/env python3
"""Checks a tessera-run --trace of a pipelined package against the GPipe
schedule: per rank (stage), the receive/run/send events in start order must
be exactly the schedule's steps; every receive of a micro-batch must end
after the previous stage began sending it; kernels must lie inside runs.

usage: check_pipeline_trace.py TRACE.json STAGES MICROBATCHES
"""
import json
import sys


def main():
    path, stages, micro = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    events = [e for e in json.load(open(path))["traceEvents"] if e.get("ph") == "X"]
    failures = 0
    sends = {}
    for rank in range(stages):
        mine = sorted((e for e in events if e["tid"] == rank), key=lambda e: e["ts"])
        steps = [e for e in mine if e["cat"] in ("recv", "run", "send")]
        got = [(e["cat"], int(e["name"].split(" mb ")[1].split()[0])) for e in steps]
        want = []
        for mb in range(micro):
            if rank > 0:
                want.append(("recv", mb))
            want.append(("run", mb))
            if rank + 1 < stages:
                want.append(("send", mb))
        ok = got == want
        failures += not ok
        print(f"rank {rank}: {len(steps)} steps {'in schedule order' if ok else 'OUT OF ORDER'}: "
              + " ".join(f"{c}{mb}" for c, mb in got[:6]) + " ...")
        runs = [e for e in mine if e["cat"] == "run"]
        kernels = [e for e in mine if e["cat"] in ("kernel", "collective")]
        inside = all(any(r["ts"] - 1 <= k["ts"] and k["ts"] + k["dur"] <= r["ts"] + r["dur"] + 1
                         for r in runs) for k in kernels)
        failures += not inside or not kernels
        print(f"rank {rank}: {len(kernels)} kernels {'inside' if inside else 'OUTSIDE'} its runs")
        for e in steps:
            if e["cat"] == "send":
                sends[(rank, int(e["name"].split(" mb ")[1]))] = e["ts"]
    causal = True
    for rank in range(1, stages):
        for e in events:
            if e["tid"] == rank and e["cat"] == "recv":
                mb = int(e["name"].split(" mb ")[1].split()[0])
                causal &= e["ts"] + e["dur"] >= sends.get((rank - 1, mb), float("inf"))
    failures += not causal
    print("receives end after their sends begin" if causal else "a receive ended before its send")
    print("trace ok" if failures == 0 else f"trace FAILED ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
