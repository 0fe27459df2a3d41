#!/bin/bash
# Compiles one zoo model for one device and for every dp x tp mesh of 2, 4
# and 8 ranks, runs each partitioned package (ranks as threads, or one
# process per rank under mpirun) and checks it against the single-device
# output with rtol = atol = 1e-5. Meshes the model does not admit must be
# refused with a clear error. One line per mesh, for FileCheck.
#
# With "pipeline" as fifth argument the meshes are pipelines instead:
# pp in {2, 4} x tp in {1, 2} x dp in {1, 2} (up to 8 ranks), each with a
# micro-batch count (MESH:MICROBATCHES).
#
# With "static" the model's batch is fixed in the file (the dynamo exporter
# without dynamic_shapes, batch 4): data parallelism and micro-batches split
# the batch inside the compiler, alone and with tp and pp.
#
# usage: partitioned_zoo.sh BIN_DIR MODEL_DIR WORK_DIR threads|mpi [pipeline|static]
set -u
bin=$1 dir=$2 work=$3 launcher=$4 kind=${5:-dp-tp}
source "$(dirname "$0")/zoo_reference.sh"
zoo_reference "$bin" "$dir" "$work" single
meshes="dp=2 tp=2 dp=4 dp=2,tp=2 tp=4 dp=8 dp=4,tp=2 dp=2,tp=4 tp=8"
[ "$kind" = static ] && meshes="dp=2 dp=4 pp=2:2 dp=2,tp=2 dp=2,pp=2:2 tp=2,pp=2:4"
[ "$kind" = pipeline ] && meshes="pp=2:1 pp=2:2 pp=4:2 dp=2,pp=2:1 tp=2,pp=2:2 tp=2,pp=4:1 dp=2,tp=2,pp=2:1 dp=2,pp=4:1"
for spec in $meshes; do
  mesh=${spec%%:*} micro=()
  [ "$spec" != "$mesh" ] && micro=(--microbatches "${spec##*:}")
  n=$(( $(sed -e 's/[a-z]*=//g' -e 's/,/*/g' <<< "$mesh") ))
  pkg="$work/${spec//[=,:]/_}.tpkg"
  if ! "$bin/tessera-compile" "$dir/model.onnx" $shapes --mesh "$mesh" "${micro[@]}" -o "$pkg" 2> "$work/compile.err"; then
    echo "$spec: refused: $(grep -m1 '^error' "$work/compile.err")"
    continue
  fi
  if [ "$launcher" = mpi ]; then
    out=$(timeout 300 "$(dirname "$0")/mpirun.sh" --oversubscribe -np "$n" "$bin/tessera-run" "$pkg" $inputs $checks --rtol 1e-5 --atol 1e-5 2>&1)
  else
    out=$(timeout 300 "$bin/tessera-run" "$pkg" --ranks "$n" $inputs $checks --rtol 1e-5 --atol 1e-5 2>&1)
  fi
  status=$?
  bad=$(grep -c "check .*: FAIL" <<< "$out")
  good=$(grep -c "check .*: ok" <<< "$out")
  if [ $status -eq 0 ] && [ "$bad" -eq 0 ] && [ "$good" -gt 0 ]; then
    echo "$spec: ok ($n ranks)"
  else
    echo "$spec: FAILED (exit $status)"; echo "$out" | head -5
  fi
done
