#!/usr/bin/env bash
#===- tools/fuzz.sh - build and run one libFuzzer target -----------------===#
#
#   tools/fuzz.sh TARGET [SECONDS]      TARGET: onnx-import | package | npy | tensorproto | tokenizer
#
# Installs clang 22 and its runtime libraries if missing, builds (once, in
# build-fuzz/) the target with -fsanitize=fuzzer,address,undefined, seeds its
# corpus (build-fuzz/corpus/TARGET) from test/fuzz/seeds/TARGET, the
# regression inputs and, for onnx-import and tensorproto, ONNX's node tests,
# and fuzzes for SECONDS (default 60). Crashes, leaks and UB reports stop the
# run; their inputs land in build-fuzz/crashes/. Keep each one as a
# regression: copy it to test/fuzz/regressions/TARGET/ (the test command
# replays them) and fix the reader. Extra libFuzzer flags: FUZZ_ARGS, e.g.
# FUZZ_ARGS="-runs=1000000" for a fixed count.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${1:-}
seconds=${2:-60}
case "$target" in
  onnx-import|package|npy|tensorproto|tokenizer) ;;
  *) echo "usage: tools/fuzz.sh onnx-import|package|npy|tensorproto|tokenizer [SECONDS]" >&2; exit 2 ;;
esac

bash tools/setup-deps.sh
missing=()
for p in clang-22 libclang-rt-22-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo
  echo "fuzz: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${TESSERA_FUZZ_DIR:-build-fuzz}
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O1 -g -DNDEBUG" \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link -fno-sanitize=vptr -fno-sanitize-recover=undefined" \
    -DTESSERA_SANITIZE="address,undefined" -DTESSERA_FUZZ=ON -DTESSERA_BUILD_TESTS=OFF \
    -DTESSERA_ENABLE_CUDA=OFF >/dev/null
fi
cmake --build "$build" --target "fuzz-$target" -j "$(nproc)"

corpus="$build/corpus/$target"
crashes="$build/crashes"
mkdir -p "$corpus" "$crashes"
if [[ -z "$(ls -A "$corpus")" ]]; then
  cp test/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  cp test/fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  nodes=/usr/include/onnx/backend/test/data/node
  if [[ -d $nodes && $target == onnx-import ]]; then
    for d in "$nodes"/*/; do cp "$d/model.onnx" "$corpus/$(basename "$d").onnx" 2>/dev/null || true; done
  fi
  if [[ -d $nodes && $target == tensorproto ]]; then
    for d in "$nodes"/*/; do
      cp "$d/test_data_set_0/input_0.pb" "$corpus/$(basename "$d").pb" 2>/dev/null || true
    done
  fi
fi
echo "fuzz: $target for $seconds s, corpus $corpus ($(ls "$corpus" | wc -l) inputs)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# shellcheck disable=SC2086
"$build/bin/fuzz-$target" "$corpus" -max_total_time="$seconds" -timeout=30 \
  -rss_limit_mb=4096 -max_len=1048576 -print_final_stats=1 \
  -artifact_prefix="$crashes/$target-" ${FUZZ_ARGS:-}
