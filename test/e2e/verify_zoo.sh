#!/bin/bash
# The fusion verifier over the zoo: every export compiled with --verify on
# one rank, tp=2, pp=2 (2 micro-batches) and dp=2, at batch 2 x sequence 16:
# each compiled package against the model as imported (no fusion, one rank)
# on the same random inputs, within 1e-4. One line per (export, mesh) for
# FileCheck: "ok", or the verifier's first error line.
#
# usage: verify_zoo.sh BIN_DIR WORK_DIR MODEL_DIR|MODEL.onnx...
# VERIFY_DIMS replaces "--batch 2 --seq 16" (empty: the shapes in the file).
set -u
bin=$1 work=$2
shift 2
mkdir -p "$work"
read -r -a dims <<< "${VERIFY_DIMS---batch 2 --seq 16}"
for dir in "$@"; do
  model=$dir/model.onnx
  if [[ $dir == *.onnx ]]; then
    model=$dir
    dir=${dir%.onnx}
  fi
  name=$(basename "$(dirname "$dir")")/$(basename "$dir")
  for spec in single tp=2 pp=2:2 dp=2; do
    mesh=()
    case $spec in
      single) ;;
      *:*) mesh=(--mesh "${spec%%:*}" --microbatches "${spec##*:}") ;;
      *) mesh=(--mesh "$spec") ;;
    esac
    pkg="$work/${name//\//_}_${spec//[=:]/_}.tpkg"
    if "$bin/tessera-compile" "$model" "${dims[@]}" "${mesh[@]}" --verify \
        -o "$pkg" 2> "$work/verify.err"; then
      echo "$name $spec: ok ($(grep -c '^verify: output .*: ok$' "$work/verify.err") outputs)"
    else
      echo "$name $spec: FAILED: $(grep -m1 -E '^(error|verify: .*DIFFERS)' "$work/verify.err")"
    fi
  done
done
