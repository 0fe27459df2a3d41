"""Compares loss logs (step,loss,...) with the first one: rtol 1e-5.
"A.csv+B.csv" is the steps of A then those of B (a run resumed from A's
checkpoint)."""
import os
import sys

def losses(path):
    return [float(line.split(",")[1]) for part in path.split("+")
            for line in open(part).read().splitlines()[1:]]

reference = losses(sys.argv[1])
for path in sys.argv[2:]:
    got = losses(path)
    same = len(got) == len(reference) and all(
        abs(a - b) <= 1e-5 * abs(b) for a, b in zip(got, reference))
    print(f"{os.path.basename(path)}: {len(got)} steps, "
          f"{'the losses of' if same else 'NOT the losses of'} {os.path.basename(sys.argv[1])}")
