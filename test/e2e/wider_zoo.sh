#!/bin/bash
# One model of the wider zoo (tools/models/make_zoo.py --wider): compiles it
# for one device, tp=2 and pp=2, runs each (ranks as threads) on the stored
# inputs and checks the outputs against ONNX Runtime's (rtol = atol = 1e-4);
# then reports what the graph pipeline fused: attention ops, norm ops, the
# softmaxes left unfused (0 when every attention fused) and the reductions and
# square roots left (0 when every norm fused). One line each.
#
# usage: wider_zoo.sh BIN_DIR MODEL_DIR WORK_DIR
set -u
bin=$1 dir=$2 work=$3
mkdir -p "$work"
source "$(dirname "$0")/zoo_reference.sh"
shapes=$(zoo_shapes "$dir")
inputs="" checks=""
for f in "$dir"/inputs/*.npy; do inputs+=" --input $(basename "$f" .npy)=$f"; done
for f in "$dir"/outputs/*.npy; do checks+=" --check $(basename "$f" .npy)=$f"; done
for mesh in single tp=2 pp=2; do
  flags=() ranks=1
  [ "$mesh" != single ] && flags=(--mesh "$mesh" --microbatches 1) && ranks=2
  pkg="$work/${mesh//=/_}.tpkg"
  if ! "$bin/tessera-compile" "$dir/model.onnx" $shapes "${flags[@]}" -o "$pkg" 2> "$work/compile.err"; then
    echo "$mesh: compile failed: $(grep -m1 '^error' "$work/compile.err")"
    continue
  fi
  out=$(timeout 300 "$bin/tessera-run" "$pkg" --ranks $ranks $inputs $checks 2>&1)
  bad=$(grep -c "check .*: FAIL" <<< "$out")
  good=$(grep -c "check .*: ok" <<< "$out")
  if [ "$bad" = 0 ] && [ "$good" -gt 0 ]; then
    echo "$mesh: ok against onnxruntime"
  else
    echo "$mesh: FAILED: $(grep -m1 'check\|error' <<< "$out")"
  fi
done
"$bin/tessera-compile" "$dir/model.onnx" $shapes --emit=tsr-fused -o "$work/fused.mlir" 2>/dev/null
echo "fused: $(grep -c 'tsr.attention' "$work/fused.mlir") attention, $(grep -c 'tsr.layer_norm\|tsr.rms_norm' "$work/fused.mlir") norm, $(grep -c 'tsr.softmax' "$work/fused.mlir") softmax left, $(grep -c 'tsr.reduce\|tsr.rsqrt\|tsr.sqrt' "$work/fused.mlir") norm pieces left"
