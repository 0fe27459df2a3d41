#!/usr/bin/env bash
#===- tools/demo.sh - the README's main command --------------------------===#
#
# Installs what is missing, builds tessera-opt, and runs it on the bundled
# example: one GPT-2 block in the tsr dialect, verified and canonicalized.
# (When the compiler and runtime exist, this compiles and runs the bundled
# tiny GPT-2 instead.)
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TESSERA_BUILD_DIR:-build}

bash tools/setup-deps.sh
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target tessera-opt -j "$(nproc)"

example=examples/gpt2_block.mlir
echo
echo "== $example: $(grep -c '= tsr\.' "$example") tsr ops before canonicalization"
out=$("$build/bin/tessera-opt" "$example" --canonicalize)
echo "$out"
echo "== after --canonicalize: $(grep -c '= tsr\.' <<<"$out") tsr ops (verified by tessera-opt)"
