#!/usr/bin/env bash
#===- tools/test.sh - install, build and run every Tessera test ----------===#
#
# The README's test command. On a fresh machine it installs what is missing
# (tools/setup-deps.sh), configures and builds the whole project, runs the lit
# and GoogleTest suites (one lit run; it prints the pass/fail counts), installs
# the Python package in a fresh virtual environment and runs its pytest suite
# (numpy, pytest and the build tools come from PyPI), reruns
# the kernel and end-to-end tests again on the AVX2-only and portable CPU
# paths, runs every shell command shown in README.md and docs/, reruns
# the reader, zoo and partitioner tests under AddressSanitizer and the whole
# suite under UndefinedBehaviorSanitizer, then proves the runtime configures
# and builds alone, with MLIR and CUDA hidden.
#
#   TESSERA_BUILD_DIR   build folder (default: build)
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TESSERA_BUILD_DIR:-build}
jobs=$(nproc)

bash tools/setup-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "configure + build ($build)"
start=$(date +%s)
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$jobs"
echo "build: $(( $(date +%s) - start )) s"

step "lit + GoogleTest"
lit_status=0
lit_log="$build/lit.log"
/usr/lib/llvm-22/bin/lit -sv "$build/test" 2>&1 | tee "$lit_log" || lit_status=$?
lit_counts=$(grep -E '^ *(Total Discovered Tests|Passed|Failed|Skipped|Unsupported|Expectedly Failed|Unresolved|Timed Out) *:' "$lit_log" | tr -s ' ' | tr '\n' ';')

step "CPU paths: the kernel and end-to-end tests with AVX2 only, then with the portable code"
# Every dispatch path on any x86 machine: TESSERA_CPU_ISA caps the project's
# own kernels and oneDNN, OPENBLAS_CORETYPE OpenBLAS (docs/cpu-backend.md).
cpu_status=0
cpu_log="$build/lit-cpu-paths.log"
: >"$cpu_log"
# Every end-to-end and runtime unit test but the CUDA emulation's (its own
# kernels, not these paths), ONNX's node conformance sweep and the pipeline
# check (compiles only).
cpu_skip='cuda_|onnx_node_conformance|compile_pipeline|CudaTests|CompilerTests|DialectTests|FrontendTests'
for leg in "avx2 Haswell" "portable Nehalem"; do
  read -r isa core <<<"$leg"
  echo "-- TESSERA_CPU_ISA=$isa OPENBLAS_CORETYPE=$core: $(TESSERA_CPU_ISA=$isa OPENBLAS_CORETYPE=$core \
    "$build/bin/tessera-run" --cpu-info | head -1)" | tee -a "$cpu_log"
  TESSERA_CPU_ISA=$isa OPENBLAS_CORETYPE=$core /usr/lib/llvm-22/bin/lit -sv --filter-out "$cpu_skip" \
    "$build/test/e2e" "$build/test/unittests" 2>&1 | tee -a "$cpu_log" || cpu_status=$?
done

step "every shell command shown in README.md and docs/"
doc_status=0
doc_log="$build/doc-commands.log"
python3 tools/doc-commands.py "$build" 2>&1 | tee "$doc_log" || doc_status=$?
doc_counts=$(tail -1 "$doc_log")

step "the Python package: python3 -m pip install ./python in a fresh venv, then pytest"
start=$(date +%s)
venv="$build/python-venv"
rm -rf "$venv"
python3 -m venv "$venv"
py_status=0
py_log="$build/pytest.log"
( "$venv/bin/python3" -m pip install -q --disable-pip-version-check ./python pytest &&
  echo "python package build + install: $(( $(date +%s) - start )) s" &&
  TESSERA_BIN="$root/$build/bin" "$venv/bin/python3" -m pytest -v -rs python/tests ) 2>&1 |
  tee "$py_log" || py_status=$?
py_counts=$(grep -E '^=+ .*(passed|failed).* in [0-9.]+s' "$py_log" | tail -1 || true)

step "hostile inputs, the zoo and the partitioner under AddressSanitizer"
asan="$build-asan"
start=$(date +%s)
if [[ ! -f "$asan/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$asan" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DTESSERA_SANITIZE=address \
    -DTESSERA_BUILD_RUNTIME=OFF -DTESSERA_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$asan" --target tessera-compile tessera-opt -j "$jobs"
echo "asan build: $(( $(date +%s) - start )) s"
asan_log="$asan/lit.log"
asan_status=0
TESSERA_TOOLS_DIR="$root/$asan/bin" ASAN_OPTIONS=detect_leaks=1 \
  /usr/lib/llvm-22/bin/lit -sv --filter 'hostile_inputs|zoo_|megatron|sharding_interface|gemm-epilogue|attention-views|tsr-partition|tsr-lower-plan' \
  "$build/test/frontends/onnx" "$build/test/passes/partition" "$build/test/passes/lower" \
  "$build/test/dialects/tsr" \
  2>&1 | tee "$asan_log" || asan_status=$?

step "the whole suite under UndefinedBehaviorSanitizer"
ubsan="$build-ubsan"
start=$(date +%s)
if [[ ! -f "$ubsan/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$ubsan" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DTESSERA_SANITIZE=undefined \
    -DCMAKE_CXX_FLAGS="-fno-sanitize=vptr -fno-sanitize-recover=undefined" \
    -DCMAKE_C_FLAGS="-fno-sanitize-recover=undefined" -DTESSERA_ENABLE_CUDA=OFF >/dev/null
fi
cmake --build "$ubsan" -j "$jobs"
echo "ubsan build: $(( $(date +%s) - start )) s"
ubsan_log="$ubsan/lit.log"
ubsan_status=0
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  /usr/lib/llvm-22/bin/lit -sv "$ubsan/test" 2>&1 | tee "$ubsan_log" || ubsan_status=$?

step "runtime-only configure (no MLIR, no CUDA)"
rt="$build-runtime-only"
cmake -G Ninja -S . -B "$rt" -DCMAKE_BUILD_TYPE=Release \
  -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_ENABLE_CUDA=OFF \
  -DCMAKE_DISABLE_FIND_PACKAGE_MLIR=ON -DCMAKE_DISABLE_FIND_PACKAGE_LLVM=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON >/dev/null
cmake --build "$rt" -j "$jobs"
if grep -q -e 'llvm-22' -e '/usr/local/cuda' "$rt/compile_commands.json"; then
  echo "FAIL: the runtime-only build compiles against MLIR/LLVM or CUDA" >&2
  exit 1
fi
rt_status=0
ctest_log="$rt/ctest.log"
ctest --test-dir "$rt" --output-on-failure 2>&1 | tee "$ctest_log" || rt_status=$?
ctest_counts=$(grep -E 'tests passed' "$ctest_log" || true)

step "summary"
# lit prints "  Passed: N (..%)" etc.; add the runs up.
count() {
  local what="$1: "
  shift
  cat "$@" 2>/dev/null | awk -v w="$what" '{
    line = $0; sub(/^ +/, "", line); gsub(/ +:/, ":", line)
    if (index(line, w) == 1) { split(substr(line, length(w) + 1), a, " "); s += a[1] }
  } END { print s + 0 }'
}
logs=("$lit_log" "$cpu_log" "$asan_log" "$ubsan_log")
passed=$(count Passed "${logs[@]}")
failed=$(( $(count Failed "${logs[@]}") + $(count Unresolved "${logs[@]}") + $(count "Timed Out" "${logs[@]}") ))
skipped=$(count Unsupported "${logs[@]}")
doc_passed=$(grep -oE '^[0-9]+ passed' <<< "$doc_counts" | awk '{print $1}')
doc_skipped=$(grep -oE '[0-9]+ skipped' <<< "$doc_counts" | awk '{print $1}')
echo "lit (FileCheck + GoogleTest cases):${lit_counts}"
echo "lit on the AVX2 and portable CPU paths: $(count Passed "$cpu_log") passed"
grep '^-- TESSERA_CPU_ISA' "$cpu_log" || true
echo "commands in README.md and docs/: ${doc_counts}"
echo "lit under AddressSanitizer: $(count Passed "$asan_log") passed"
echo "lit under UndefinedBehaviorSanitizer: $(count Passed "$ubsan_log") passed"
echo "runtime-only build (ctest): ${ctest_counts}"
echo "Python package (pytest): ${py_counts}"
py_passed=$(grep -oE '[0-9]+ passed' <<< "$py_counts" | awk '{print $1}')
py_skipped=$(grep -oE '[0-9]+ skipped' <<< "$py_counts" | awk '{print $1}')
if ((lit_status == 0 && cpu_status == 0 && doc_status == 0 && asan_status == 0 && ubsan_status == 0 &&
  rt_status == 0 && py_status == 0)); then
  ctest_passed=$(grep -oE '[0-9]+ tests failed out of [0-9]+' "$ctest_log" | awk '{print $6}')
  echo "ALL TESTS PASSED"
  echo "$((passed + ${ctest_passed:-0} + ${py_passed:-0} + ${doc_passed:-0})) passed, $failed failed, $((skipped + ${py_skipped:-0} + ${doc_skipped:-0})) skipped"
else
  echo "TESTS FAILED: lit exit $lit_status, CPU-path lit exit $cpu_status, doc commands exit $doc_status, asan lit exit $asan_status, ubsan lit exit $ubsan_status, runtime-only ctest exit $rt_status, pytest exit $py_status" >&2
  echo "$passed passed, $((failed > 0 ? failed : 1)) failed, $skipped skipped"
  exit 1
fi
