#!/bin/bash
# Compiles one zoo model with --target=cuda (fp32 single device, tp=2, tp=4,
# pp=2, and bf16 and fp16 single device), runs each package on BACKEND
# (cuda: the GPU, several ranks on it as virtual devices; cuda-host: the same
# generated kernels emulated on the CPU) and checks it against the CPU
# backend's output of the CPU package: fp32 at rtol = atol = 1e-4, bf16 and
# fp16 at 2e-2. tp=2 stages its collectives through host memory
# (TESSERA_STAGE_COLLECTIVES=1, what virtual devices on one GPU do); tp=4
# runs them on the backend's memory (NCCL's path). One line per
# configuration, for FileCheck.
#
# usage: cuda_zoo.sh BIN_DIR MODEL_DIR WORK_DIR cuda|cuda-host
set -u
bin=$1 dir=$2 work=$3 backend=$4
source "$(dirname "$0")/zoo_reference.sh"
zoo_reference "$bin" "$dir" "$work" cpu
for spec in fp32 tp=2 tp=4 pp=2 bf16 fp16 bf16:tp=2; do
  args=() tol=1e-4 n=1 env=()
  case $spec in
    bf16|fp16) args=(--dtype "$spec"); tol=2e-2 ;;
    bf16:tp=2) args=(--dtype bf16 --mesh tp=2); tol=2e-2 n=2 ;;
    fp32) ;;
    *) args=(--mesh "$spec"); n=${spec#*=} ;;
  esac
  [ "$spec" = tp=2 ] && env=(TESSERA_STAGE_COLLECTIVES=1)
  pkg="$work/${spec//[=:]/_}.tpkg"
  if ! "$bin/tessera-compile" "$dir/model.onnx" $shapes --target=cuda "${args[@]}" -o "$pkg" 2> "$work/compile.err"; then
    echo "$spec: compile failed: $(grep -m1 '^error' "$work/compile.err")"
    continue
  fi
  out=$(env "${env[@]}" timeout 600 "$bin/tessera-run" "$pkg" --backend "$backend" --ranks "$n" $inputs $checks --rtol $tol --atol $tol 2>&1)
  status=$?
  bad=$(grep -c "check .*: FAIL" <<< "$out")
  good=$(grep -c "check .*: ok" <<< "$out")
  if [ $status -eq 0 ] && [ "$bad" -eq 0 ] && [ "$good" -gt 0 ]; then
    echo "$spec: ok ($n rank(s), $(grep -o 'max |diff| [^,]*' <<< "$out" | head -1))"
  else
    echo "$spec: FAILED (exit $status)"; echo "$out" | grep -v "^output" | head -5
  fi
done
