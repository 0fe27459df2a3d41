#!/bin/bash
# Auto plans against the best Megatron-style plan of a dp x tp grid search,
# under the same cost model, for GPT-3-shaped graphs on H100 clusters
# (plan-only: the weights are never materialised).
#
#   tools/bench/plan_vs_grid.sh [BUILD_DIR] [WORK_DIR]
#
# For each model and device count: `tessera-compile --devices N` (the search
# chooses the mesh and every op's sharding) against, for every dp x tp that
# divides N and the batch, `--mesh dp=..,tp=..` with Megatron's weight layouts
# fixed by hints (QKV and MLP-up by columns, projections by rows, vocabulary-
# parallel embedding, column-parallel LM head). Prints one table row per case
# with both predicted times per batch and the planning time of the auto plan.
# Needs python3 with `onnx` (tools/models/requirements.txt) to write the graphs.
set -eu
build=${1:-build}
work=${2:-/tmp/tessera-plan-vs-grid}
here=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-$here/.venv-models/bin/python}
compile=$build/bin/tessera-compile
mkdir -p "$work"
source "$here/tools/bench/plan_common.sh"
printf "%-10s %7s %-14s %12s %-14s %12s %7s %9s\n" model devices "auto dpxtpxpp/m" "auto ms" \
  "grid dpxtpxpp/m" "grid ms" ratio "plan s"
for model in gpt3-1.3b gpt3-2.7b gpt3-6.7b; do
  [ -f "$work/$model/model.onnx" ] || "$python" "$here/tools/models/make_graph_only.py" --preset "$model" -o "$work/$model" > /dev/null
  for devices in 8 16 64; do
    case $devices in 8) cluster=h100-nvlink-8 ;; *) cluster=h100-ib-$devices ;; esac
    start=$(date +%s.%N)
    read -r autoMesh autoMs < <("$compile" "$work/$model/model.onnx" --plan-only --devices "$devices" \
        --cluster "$cluster" -o "$work/auto.tpkg" 2>&1 | predicted)
    planSeconds=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')
    bestMesh=- bestMs=
    for ((tp = 1; tp <= devices; tp *= 2)); do
      dp=$((devices / tp))
      hints=(); [ "$tp" -gt 1 ] && hints=("${megatron[@]}")
      out=$("$compile" "$work/$model/model.onnx" --plan-only --mesh "dp=$dp,tp=$tp" --cluster "$cluster" \
            "${hints[@]}" -o "$work/grid.tpkg" 2>&1 | predicted) || true
      [ -n "$out" ] || continue
      read -r mesh ms <<< "$out"
      if [ -z "$bestMs" ] || awk -v a="$ms" -v b="$bestMs" 'BEGIN { exit !(a < b) }'; then
        bestMesh=$mesh bestMs=$ms
      fi
    done
    ratio=$(awk -v a="$autoMs" -v b="$bestMs" 'BEGIN { print a / b }')
    printf "%-10s %7d %-14s %12.3f %-14s %12.3f %7.3f %9.2f\n" "$model" "$devices" "$autoMesh" "$autoMs" \
      "$bestMesh" "$bestMs" "$ratio" "$planSeconds"
  done
done
