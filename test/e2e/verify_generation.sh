#!/bin/bash
# --verify of generation packages (--generate --max-seq 16) on one rank and
# tp=2: one line per (export, mesh), "ok (OUTPUT)" or FAILED with the error.
#
# usage: verify_generation.sh BIN_DIR WORK_DIR "EXTRA FLAGS" MODEL_DIR...
set -u
bin=$1 work=$2
read -r -a extra <<< "$3"
shift 3
mkdir -p "$work"
for dir in "$@"; do
  name=$(basename "$(dirname "$dir")")/$(basename "$dir")
  for spec in single tp=2; do
    mesh=()
    [ "$spec" = single ] || mesh=(--mesh "$spec")
    if "$bin/tessera-compile" "$dir/model.onnx" --generate --max-seq 16 "${extra[@]}" "${mesh[@]}" \
        --verify -o "$work/p.tpkg" 2> "$work/verify.err"; then
      echo "$name $spec: ok ($(sed -n "s/^verify: output '\(.*\)': .*: ok$/\1/p" "$work/verify.err"))"
    else
      echo "$name $spec: FAILED: $(grep -m1 -E '^(error|verify: .*DIFFERS)' "$work/verify.err")"
    fi
  done
done
