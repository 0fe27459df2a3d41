#!/bin/bash
# 3-D plans (dp x tp x pp, micro-batches) chosen by tessera-compile against
# the best Megatron-style plan of a grid search, under the same cost model,
# for GPT-3 6.7B/13B/175B shapes (batch 8, sequence 2048, fp16) on 64, 128
# and 512 H100s (8 per node, InfiniBand between nodes), plan-only.
#
#   tools/bench/plan_3d_vs_grid.sh [BUILD_DIR] [WORK_DIR]
#
# Megatron-style: tp inside a node (1, 2, 4, 8) with Megatron's weight
# layouts fixed by hints, the same number of layers in every stage
# (--pipeline-split even), every dp and micro-batch count the batch allows.
# The auto plan is `--devices N` with nothing fixed. Prints one row per case
# with both predicted times per batch and the auto plan's planning time.
# Needs python3 with `onnx` (tools/models/requirements.txt) for the graphs.
set -eu
build=${1:-build}
work=${2:-/tmp/tessera-plan-3d}
here=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-$here/.venv-models/bin/python}
compile=$build/bin/tessera-compile
mkdir -p "$work"
source "$here/tools/bench/plan_common.sh"
printf "%-10s %7s %-14s %12s %-14s %12s %7s %8s\n" model devices "auto dpxtpxpp/m" "auto ms" \
  "grid dpxtpxpp/m" "grid ms" ratio "plan s"
for model in gpt3-6.7b gpt3-13b gpt3-175b; do
  [ -f "$work/$model/model.onnx" ] || "$python" "$here/tools/models/make_graph_only.py" --preset "$model" -o "$work/$model" > /dev/null
  for devices in 64 128 512; do
    cluster=h100-ib-$devices
    start=$(date +%s.%N)
    read -r autoMesh autoMs < <("$compile" "$work/$model/model.onnx" --plan-only --devices "$devices" \
        --cluster "$cluster" --emit=summary 2>&1 | predicted)
    planSeconds=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')
    bestMesh=- bestMs=
    for dp in 1 2 4 8; do
      for tp in 1 2 4 8; do
        [ $((devices % (dp * tp))) -eq 0 ] || continue
        pp=$((devices / (dp * tp)))
        for m in 1 2 4 8; do
          [ $((8 % (dp * m))) -eq 0 ] || continue
          [ "$pp" -gt 1 ] || [ "$m" -eq 1 ] || continue
          args=(--mesh "dp=$dp,tp=$tp,pp=$pp" --pipeline-split even)
          [ "$pp" -gt 1 ] && args+=(--microbatches "$m")
          [ "$tp" -gt 1 ] && args+=("${megatron[@]}")
          out=$("$compile" "$work/$model/model.onnx" --plan-only --cluster "$cluster" "${args[@]}" \
                --emit=summary 2>&1 | predicted) || true
          [ -n "$out" ] || continue
          read -r mesh ms <<< "$out"
          if [ -z "$bestMs" ] || awk -v a="$ms" -v b="$bestMs" 'BEGIN { exit !(a < b) }'; then
            bestMesh=$mesh bestMs=$ms
          fi
        done
      done
    done
    ratio=$(awk -v a="$autoMs" -v b="$bestMs" 'BEGIN { printf "%.3f", a / b }')
    printf "%-10s %7d %-14s %12.3f %-14s %12.3f %7s %8.2f\n" "$model" "$devices" "$autoMesh" \
      "$autoMs" "$bestMesh" "$bestMs" "$ratio" "$planSeconds"
  done
done
