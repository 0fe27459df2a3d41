#!/usr/bin/env python3
"""Compares tessera-tokenize with Hugging Face `tokenizers` on a corpus.

For a folder made by tools/models/make_tokenizers.py (tokenizer.json saved by
the `tokenizers` library, expected.json: its encode(line,
add_special_tokens=False).ids and decode(ids) for every line of corpus.txt),
encodes the corpus with tessera-tokenize --roundtrip and checks that every
line's ids and decoded text are exactly the library's. Prints one line, for
FileCheck; standard library only.

usage: tokenize.py BIN_DIR FOLDER CORPUS
"""
import json
import os
import subprocess
import sys


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def main():
    bin_dir, folder, corpus = sys.argv[1:4]
    want = json.load(open(os.path.join(folder, "expected.json"), encoding="utf-8"))
    proc = subprocess.run([os.path.join(bin_dir, "tessera-tokenize"),
                           os.path.join(folder, "tokenizer.json"), corpus, "--roundtrip"],
                          capture_output=True)
    if proc.returncode:
        sys.exit(f"FAILED: {proc.stderr.decode()}")
    lines = proc.stdout.decode("utf-8").splitlines()
    ids = [[int(t) for t in l.split()[1:]] for l in lines if l.startswith("ids:")]
    texts = [unescape(l[len("text: "):]) for l in lines if l.startswith("text: ")]
    bad = 0
    for n, (a, b) in enumerate(zip(want["ids"], ids)):
        if a != b:
            print(f"line {n}: tokenizers {a} tessera {b}")
            bad += 1
    for n, (a, b) in enumerate(zip(want["decoded"], texts)):
        if a != b:
            print(f"line {n}: decoded {a!r} vs {b!r}")
            bad += 1
    if bad or len(ids) != len(want["ids"]) or len(texts) != len(want["decoded"]):
        print(f"tokenize: FAILED ({bad} differences, {len(ids)} of {len(want['ids'])} lines)")
        sys.exit(1)
    tokens = sum(map(len, ids))
    print(f"tokenize: ok ({len(ids)} lines, {tokens} tokens, ids and decoded text equal)")


if __name__ == "__main__":
    main()
