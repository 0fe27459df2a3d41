#!/usr/bin/env bash
#===- tools/bench/import_gpt2_small.sh - import time and memory ----------===#
#
# Imports GPT-2 small (124M parameters, TorchScript export, ~650 MB with the
# tied embedding stored twice) and reports wall time and peak memory of
# `tessera-compile --emit=tsr` and `--emit=tsr-fused` over 5 runs each
# (medians). The model is generated on demand with tools/models/make_zoo.py
# (PyPI torch/transformers in .venv-models) and never committed.
#
#   tools/bench/import_gpt2_small.sh [model-dir]   (default /tmp/tessera-bench)
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=${1:-/tmp/tessera-bench}
model="$out/gpt2_small/torchscript/model.onnx"
if [[ ! -f "$model" ]]; then
  if [[ ! -x .venv-models/bin/python ]]; then
    python3 -m venv .venv-models
    .venv-models/bin/pip install -q -r tools/models/requirements.txt
  fi
  .venv-models/bin/python tools/models/make_zoo.py --gpt2-small --out "$out" \
    --exporters torchscript
fi
compile=build/bin/tessera-compile
[[ -x $compile ]] || cmake --build build --target tessera-compile
echo "model: $model ($(du -h "$model" | cut -f1))"
for emit in tsr tsr-fused; do
  times=() rss=()
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o /tmp/tessera-import-time "$compile" "$model" \
      --batch 1 --seq 128 --emit=$emit -o /dev/null
    read -r t m </tmp/tessera-import-time
    times+=("$t")
    rss+=("$m")
  done
  median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
  printf 'emit=%-9s median wall %s s, median peak RSS %d MB (runs: %s s)\n' \
    "$emit" "$(median "${times[@]}")" "$(( $(median "${rss[@]}") / 1024 ))" "${times[*]}"
done
