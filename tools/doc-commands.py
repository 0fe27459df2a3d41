#!/usr/bin/env python3
# ===- tools/doc-commands.py - run every shell command the docs show -------===#
#
# Part of Tessera.
#
# ===----------------------------------------------------------------------===#
"""Runs every shell command shown in README.md and docs/*.md, so the pages
stay true.

Commands are the fenced blocks whose info string is `sh` (every line; `\\`
continues a line, `#` starts a comment) or `console` (the lines after a `$ `
prompt; the others are the output shown, not checked). Plain fences (```
with no language, `text`, `mlir`, `json`, `python`) are not commands.

A block may be preceded by an HTML comment that says how to run it:

    <!-- doc-test: skip REASON -->        shown as skipped, with the reason
    <!-- doc-test: requires gpu -->      skipped (visibly) without nvidia-smi
    <!-- doc-test: requires mpi -->      skipped without mpirun
    <!-- doc-test: requires venv-models --> skipped without .venv-models
    <!-- doc-test: fails -->             the command must exit non-zero

Each page's commands run in order, each in its own `bash -eo pipefail`, in
a scratch folder of the page's own (files one command writes are there for
the next) that holds links to the checkout's `test/`, `tools/`, `python/`,
`examples/` and `docs/`, and to the build folder as `build/`; `build/bin` is
on PATH. With pipefail, a pipe into a reader that stops early (`| grep -m1`,
`| head`) fails by SIGPIPE now and then: show such output from a file.
Usage:

    tools/doc-commands.py BUILD_DIR [PAGE.md ...] [--list]

It prints one line per command (`ok`, `FAILED`, `skipped: why`) and ends
with `N passed, N failed, N skipped`; the exit status is 1 when one failed.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRECTIVE = re.compile(r"<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->")


def blocks(path):
    """(language, directive, [command lines], first line number) per fence."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, directive, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        m = DIRECTIVE.search(line)
        if m:
            directive = (m.group(1), m.group(2))
            i += 1
            continue
        fence = re.match(r"^(\s*)```(\S*)\s*$", line)
        if not fence:
            if line.strip():
                directive = None if not line.lstrip().startswith("<!--") else directive
            i += 1
            continue
        indent, lang = fence.group(1), fence.group(2)
        body, start = [], i + 1
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if lang in ("sh", "console"):
            out.append((lang, directive, commands(lang, body), start))
        directive = None
    return out


def commands(lang, body):
    """The block's commands, continuation lines joined."""
    cmds, current = [], None
    for raw in body:
        line = raw.rstrip()
        if lang == "console":
            if current is None:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            # an output line never continues a command
        else:
            if current is None and (not line.strip() or line.lstrip().startswith("#")):
                continue
        if current is not None:
            current += "\n" + line
        else:
            current = line
        if current.endswith("\\"):
            continue
        cmds.append(strip_comment(current))
        current = None
    if current is not None:
        cmds.append(strip_comment(current))
    return [c for c in cmds if c.strip()]


def strip_comment(cmd):
    # A trailing `   # note` (two spaces or more before it) is commentary.
    return re.sub(r"\s{2,}#[^\n]*$", "", cmd)


def requirement_missing(what):
    if what == "gpu":
        try:
            r = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
            return None if r.returncode == 0 and "GPU" in r.stdout else "no GPU on this machine"
        except (OSError, subprocess.SubprocessError):
            return "no GPU on this machine"
    if what == "mpi":
        return None if shutil.which("mpirun") else "no mpirun on this machine"
    if what == "venv-models":
        return None if os.path.exists(os.path.join(ROOT, ".venv-models/bin/python")) else \
            ".venv-models (torch, transformers, onnxruntime: tools/models/requirements.txt) absent"
    return f"unknown requirement '{what}'"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    listing = "--list" in sys.argv
    if not args:
        print(__doc__)
        return 2
    build = os.path.abspath(args[0])
    pages = args[1:] or ["README.md"] + sorted(
        os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))

    def make_scratch():
        scratch = tempfile.mkdtemp(prefix="tessera-doc-")
        for name in ("test", "tools", "python", "examples", "docs", "README.md", ".venv-models"):
            if os.path.exists(os.path.join(ROOT, name)):
                os.symlink(os.path.join(ROOT, name), os.path.join(scratch, name))
        os.symlink(build, os.path.join(scratch, "build"))
        return scratch
    env = dict(os.environ)
    env["PATH"] = os.path.join(build, "bin") + os.pathsep + env.get("PATH", "")
    env["TESSERA_ROOT"] = ROOT
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    passed = failed = skipped = 0
    for page in pages:
        path = os.path.join(ROOT, page)
        scratch = make_scratch()
        for lang, directive, cmds, line in blocks(path):
            why, expect_failure = None, False
            if directive:
                kind, arg = directive
                if kind == "skip":
                    why = arg or "no reason given"
                elif kind == "requires":
                    why = requirement_missing(arg)
                elif kind == "fails":
                    expect_failure = True
                else:
                    why = f"unknown directive '{kind}'"
            for cmd in cmds:
                shown = cmd.replace("\\\n", " ").replace("\n", " ")
                shown = re.sub(r"\s+", " ", shown)
                where = f"{page}:{line}"
                if listing:
                    print(f"{where}: {shown}")
                    continue
                if why:
                    skipped += 1
                    print(f"skipped: {where}: {shown[:100]} ({why})")
                    continue
                start = time.time()
                r = subprocess.run(["bash", "-c", "set -eo pipefail\n" + cmd], cwd=scratch,
                                   env=env, capture_output=True, text=True)
                ok = (r.returncode != 0) if expect_failure else (r.returncode == 0)
                if ok:
                    passed += 1
                    print(f"ok: {where}: {shown[:100]} ({time.time() - start:.1f} s)")
                else:
                    failed += 1
                    print(f"FAILED: {where}: {shown}\n  exit {r.returncode}"
                          f"{' (expected non-zero)' if expect_failure else ''}")
                    tail = (r.stdout + r.stderr).strip().split("\n")[-15:]
                    for t in tail:
                        print("  | " + t)
                sys.stdout.flush()
        shutil.rmtree(scratch, ignore_errors=True)
    if not listing:
        print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
