#!/usr/bin/env bash
#===- tools/demo.sh - the README's main command --------------------------===#
#
# Installs what is missing, builds Tessera, compiles the bundled tiny GPT-2
# (ONNX, TorchScript export) to a package, runs it on the CPU runtime and
# checks the logits against ONNX Runtime's (rtol 1e-4, atol 1e-4).
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
cmake --build "$build" --target tessera-compile tessera-run -j "$(nproc)"

model=test/models/gpt2/torchscript
package="$build/gpt2-tiny.tpkg"
echo
echo "== compile $model/model.onnx (batch 2, sequence 16)"
"$build/bin/tessera-compile" "$model/model.onnx" --batch 2 --seq 16 -o "$package"
echo
echo "== run $package and check against ONNX Runtime"
"$build/bin/tessera-run" "$package" \
  --input input_ids="$model/inputs/input_ids.npy" \
  --input attention_mask="$model/inputs/attention_mask.npy" \
  --check logits="$model/outputs/logits.npy" --rtol 1e-4 --atol 1e-4 \
  --repeat 10 --profile
