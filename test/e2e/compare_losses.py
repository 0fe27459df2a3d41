"""Compares loss logs (step,loss,...) with the first one: rtol 1e-5."""
import os
import sys

def losses(path):
    return [float(line.split(",")[1]) for line in open(path).read().splitlines()[1:]]

reference = losses(sys.argv[1])
for path in sys.argv[2:]:
    got = losses(path)
    same = len(got) == len(reference) and all(
        abs(a - b) <= 1e-5 * abs(b) for a, b in zip(got, reference))
    print(f"{os.path.basename(path)}: {len(got)} steps, "
          f"{'the losses of' if same else 'NOT the losses of'} {os.path.basename(sys.argv[1])}")
