#!/usr/bin/env python3
"""Checks tessera-run's training data (--data) against a pure-Python reference.

Writes a token stream in each format (.npy int64, .npy int32, .bin uint16,
.bin uint32, and text with a tokenizer.json), trains a package of batch B and
sequence S for a few steps with --windows-log, and checks that:
- consecutive windows over several files are one stream: window w of step t
  starts at token (t * B + w) * S (wrapping), inputs its S tokens and the
  last label the next one;
- each format's tokens are the ones written (text: tessera-tokenize's ids of
  the file, tokenized once: the second run reads the cache);
- --shuffle --seed S: windows lie inside the stream, a run of 5 steps reads
  the same windows as 3 steps, a checkpoint and 2 resumed steps; another seed
  reads other windows;
- the last line says how many epochs were seen.
Prints one line per check.

usage: check_train_data.py BIN_DIR WORK_DIR PACKAGE TOKENIZER.json [RUN_ARGS...]
"""
import os
import struct
import subprocess
import sys


def npy(path, values, code):
    descr = {"q": "<i8", "i": "<i4"}[code]
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (descr, len(values))
    h += " " * (63 - (len(h) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
        f.write(struct.pack("<%d%s" % (len(values), code), *values))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def windows(path):
    rows = []
    for line in open(path).read().splitlines()[1:]:
        step, row, start, tokens = line.split(",")
        rows.append((int(step), int(row), int(start), [int(t) for t in tokens.split()]))
    return rows


def main():
    bin_dir, work, package, tokenizer = sys.argv[1:5]
    extra = sys.argv[5:]
    os.makedirs(work, exist_ok=True)
    tr = [os.path.join(bin_dir, "tessera-run"), package] + extra
    a = [(7 * i + 3) % 512 for i in range(50)]
    b = [(11 * i + 5) % 512 for i in range(40)]
    c = [(13 * i + 1) % 512 for i in range(30)]
    npy(os.path.join(work, "a.npy"), a, "q")
    npy(os.path.join(work, "c.npy"), c, "i")
    with open(os.path.join(work, "b.bin"), "wb") as f:
        f.write(struct.pack("<%dH" % len(b), *b))
    with open(os.path.join(work, "b32.bin"), "wb") as f:
        f.write(struct.pack("<%dI" % len(b), *b))
    files = [os.path.join(work, f) for f in ("a.npy", "b.bin", "c.npy")]
    stream = a + b + c

    log = os.path.join(work, "seq.csv")
    out = run(tr + sum([["--data", f] for f in files], []) + ["--steps", "4", "--windows-log", log])
    rows = windows(log)
    batch = max(r[1] for r in rows) + 1
    seq = len(rows[0][3]) - 1
    for step, row, start, tokens in rows:
        want = ((step - 1) * batch + row) * seq % len(stream)
        ref = [stream[(want + i) % len(stream)] for i in range(seq + 1)]
        if start != want or tokens != ref:
            sys.exit(f"FAILED: step {step} row {row}: start {start} tokens {tokens[:4]}..., "
                     f"reference {want} {ref[:4]}...")
    print(f"consecutive: ok ({len(rows)} windows of {seq} + 1 tokens over npy int64, bin uint16 "
          f"and npy int32 as one stream of {len(stream)})")
    epochs = [l for l in out.splitlines() if l.startswith("data:") and "epochs" in l]
    print(epochs[-1] if epochs else "FAILED: no epochs line")

    log32 = os.path.join(work, "b32.csv")
    run(tr + ["--data", os.path.join(work, "b32.bin"), "--data-dtype", "uint32", "--steps", "1",
              "--windows-log", log32])
    got = windows(log32)[0][3]
    if got != b[:seq + 1]:
        sys.exit(f"FAILED: uint32 .bin: {got[:4]} vs {b[:4]}")
    print("bin uint32: ok")

    text = os.path.join(work, "corpus.txt")
    with open(text, "w") as f:
        # (words whose ids the tiny GPT-2's vocabulary of 512 holds)
        f.write("the model a b c. " * 12)
    ids = run([os.path.join(bin_dir, "tessera-tokenize"), tokenizer, "--text",
               open(text).read()])
    ref = [int(t) for t in ids.split()[1:]]
    logt = os.path.join(work, "text.csv")
    first = run(tr + ["--data", text, "--tokenizer", tokenizer, "--steps", "1",
                      "--windows-log", logt])
    got = windows(logt)[0][3]
    if got != ref[:seq + 1]:
        sys.exit(f"FAILED: text: {got[:6]} vs tessera-tokenize's {ref[:6]}")
    second = run(tr + ["--data", text, "--tokenizer", tokenizer, "--steps", "1"])
    if "tokenized (cached" not in first or "tokens cached in" not in second:
        sys.exit(f"FAILED: the text was not cached then read from the cache:\n{first}\n{second}")
    print("text: ok (tokenized once, then read from the cache)")

    data = sum([["--data", f] for f in files], [])
    whole = os.path.join(work, "whole.csv")
    run(tr + data + ["--shuffle", "--seed", "3", "--steps", "5", "--windows-log", whole])
    ckpt = os.path.join(work, "ckpt")
    part1, part2 = os.path.join(work, "part1.csv"), os.path.join(work, "part2.csv")
    run(tr + data + ["--shuffle", "--seed", "3", "--steps", "3", "--windows-log", part1,
                     "--save-checkpoint", ckpt])
    run(tr[:2] + data + ["--shuffle", "--seed", "3", "--steps", "2", "--windows-log", part2,
                         "--resume", ckpt])
    w = windows(whole)
    if w != windows(part1) + windows(part2):
        sys.exit("FAILED: shuffled windows after --resume differ from an uninterrupted run")
    for step, row, start, tokens in w:
        if not 0 <= start <= len(stream) - seq - 1 or tokens != stream[start:start + seq + 1]:
            sys.exit(f"FAILED: shuffled window at {start} is not inside the stream")
    other = os.path.join(work, "other.csv")
    run(tr + data + ["--shuffle", "--seed", "4", "--steps", "5", "--windows-log", other])
    if [r[2] for r in windows(other)] == [r[2] for r in w]:
        sys.exit("FAILED: seeds 3 and 4 read the same windows")
    print(f"shuffle: ok ({len(w)} windows inside the stream; 3 steps + checkpoint + 2 resumed "
          f"= 5 steps; another seed, other windows)")


if __name__ == "__main__":
    main()
