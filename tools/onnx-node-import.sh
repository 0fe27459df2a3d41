#!/usr/bin/env bash
#===- tools/onnx-node-import.sh - import every ONNX backend node test ----===#
#
# Runs `tessera-compile --emit=tsr` on each model of ONNX's backend node tests
# (Debian libonnx-testdata) and sorts the outcomes:
#   imported     the model imports and its tsr IR verifies;
#   unsupported  an op, domain or element type Tessera does not handle, an
#                attribute value or form the importer refuses by name (e.g.
#                Einsum's ellipsis, negative Slice steps), or a shape that
#                depends on run-time data (Tessera compiles static shapes) --
#                each counted by reason;
#   failed       anything else: a bug. Listed, and the exit status is 1.
#
#   tools/onnx-node-import.sh [build/bin/tessera-compile] [node-test folder]
#
#===----------------------------------------------------------------------===#
set -uo pipefail
compile=${1:-build/bin/tessera-compile}
root=${2:-/usr/include/onnx/backend/test/data/node}
if [[ ! -d "$root" ]]; then
  echo "no ONNX node tests at $root (apt-get install libonnx-testdata)" >&2
  exit 2
fi
imported=0 failed=0 unsupported=0
declare -A reasons
failures=()
for dir in "$root"/*/; do
  name=$(basename "$dir")
  out=$("$compile" "$dir/model.onnx" --emit=tsr -o /dev/null 2>&1)
  status=$?
  if ((status == 0)); then
    imported=$((imported + 1))
    continue
  fi
  reason=""
  case "$out" in
  *"unsupported op"*) reason="op not supported" ;;
  *"outside the default ONNX domain"* | *"no default-domain opset"*) reason="non-default domain" ;;
  *"unsupported type"* | *"cast to "*" is not supported"* | *"is not a tensor"*) reason="element type not supported" ;;
  *"integer Pow"*) reason="element type not supported" ;;
  *" is not supported"* | *" are not supported"*) reason="attribute or form not supported" ;;
  *"is not a constant once input shapes are fixed"*) reason="condition depends on run-time data" ;;
  *"must be an integer constant once input shapes are fixed"* | \
  *"must be constants once input shapes are fixed"* | *"on constant inputs only"*)
    reason="shape depends on run-time data" ;;
  esac
  if ((status != 1)) || [[ -z "$reason" ]]; then
    failed=$((failed + 1))
    failures+=("$name (exit $status): $(head -1 <<<"$out")")
  else
    unsupported=$((unsupported + 1))
    reasons[$reason]=$(( ${reasons[$reason]:-0} + 1 ))
  fi
done
total=$((imported + unsupported + failed))
echo "ONNX node tests in $root: $total"
echo "  imported and verified: $imported"
echo "  unsupported: $unsupported"
for reason in "${!reasons[@]}"; do
  printf '    %-34s %d\n' "$reason" "${reasons[$reason]}"
done
echo "  failed: $failed"
for f in "${failures[@]}"; do
  echo "    FAIL $f"
done
echo "$imported passed, $failed failed, $unsupported skipped"
((failed == 0))
