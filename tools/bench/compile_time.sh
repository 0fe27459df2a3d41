#!/usr/bin/env bash
#===- tools/bench/compile_time.sh - compile time of two builds -----------===#
#
# Compares the compile time and peak memory of two tessera-compile binaries
# (a baseline build and this one), alternating them round by round:
#   - GPT-2 small (TorchScript export, real weights) over 8 devices, the whole
#     compile to a package written to /dev/null (writing 650 MB to a file
#     would measure the disk);
#   - GPT-3 175B graph-only (no weights), --plan-only over 512 H100s.
# Prints the medians of wall and CPU (user + system) seconds and of peak RSS.
# The models are made on demand (tools/bench/import_gpt2_small.sh,
# tools/models/make_graph_only.py --preset gpt3-175b) and never committed.
#
#   tools/bench/compile_time.sh BASELINE_BIN_DIR [ROUNDS] [MODEL_DIR]
#   e.g.  git worktree add /tmp/base HEAD~3 && (cd /tmp/base && cmake -G Ninja -S . -B build \
#           -DCMAKE_BUILD_TYPE=Release && cmake --build build --target tessera-compile)
#         tools/bench/compile_time.sh /tmp/base/build/bin 11
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
base=${1:?usage: compile_time.sh BASELINE_BIN_DIR [ROUNDS] [MODEL_DIR]}
rounds=${2:-11}
out=${3:-/tmp/tessera-bench}
gpt2="$out/gpt2_small/torchscript/model.onnx"
[[ -f $gpt2 ]] || tools/bench/import_gpt2_small.sh "$out" >/dev/null
g175="$out/gpt3-175b/model.onnx"
[[ -f $g175 ]] || .venv-models/bin/python tools/models/make_graph_only.py --preset gpt3-175b -o "$out/gpt3-175b"
log=$(mktemp)
for _ in $(seq "$rounds"); do
  for which in baseline this; do
    bin=$([[ $which == baseline ]] && echo "$base" || echo build/bin)
    /usr/bin/time -f "gpt2 $which %e %U %S %M" -a -o "$log" "$bin/tessera-compile" "$gpt2" \
      --batch 8 --seq 128 --devices 8 -o /dev/null 2>/dev/null
    /usr/bin/time -f "g175 $which %e %U %S %M" -a -o "$log" "$bin/tessera-compile" "$g175" \
      --plan-only --devices 512 --cluster h100-ib-512 -o /dev/null 2>/dev/null
  done
done
python3 - "$log" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    case, which, wall, user, system, rss = line.split()
    runs[case, which].append((float(wall), float(user) + float(system), int(rss)))
names = {"gpt2": "GPT-2 small, --devices 8, whole compile", "g175": "GPT-3 175B graph-only, --plan-only --devices 512"}
for case in ("gpt2", "g175"):
    for which in ("baseline", "this"):
        r = runs[case, which]
        print(f"{names[case]:50s} {which:8s}: wall {statistics.median(x[0] for x in r):.3f} s, "
              f"cpu {statistics.median(x[1] for x in r):.3f} s, peak RSS "
              f"{statistics.median(x[2] for x in r) // 1024} MB ({len(r)} runs)")
PY
rm -f "$log"
