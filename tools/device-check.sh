#!/bin/bash
# The GPU check of the CUDA backend, in two halves, because the GPU host has
# CUDA, cmake, ninja, PyTorch and transformers but no MLIR (and no OpenBLAS,
# flatbuffers or MPI):
#
#   tools/device-check.sh prepare [DIR]   on a build host (this project's build in build/):
#       compiles into DIR (default device-check/, git-ignored) every zoo model
#       (both exports) for --target=cuda (sm_90 cubins): fp32 single device,
#       tp=2, tp=4, pp=2, bf16, fp16 and bf16 tp=2; the CPU backend's outputs as
#       references; two packages for the JIT paths (PTX only, source only); the
#       GPT-2 medium bench package (plan-only bf16, batch 8, seq 512: the runtime
#       fills its weights); flatc and the flatbuffers headers to build with.
#   tools/device-check.sh run [DIR]       on the GPU host, from the repository root:
#       builds the runtime alone, runs every package with --backend cuda (ranks
#       share the GPU as virtual devices) against the references (fp32: rtol =
#       atol = 1e-4; bf16/fp16: 2e-2), the JIT paths, a world-of-one nccl run,
#       and tools/bench/gpu_vs_torch.py; writes its log and results to $OUT (or
#       DIR/results). Meant to finish in a few minutes. BACKEND=cuda-host runs
#       the same on a machine without a GPU (the host emulation; no JIT, nccl
#       or bench): a dry run of the script and the carried build.
set -u
mode=${1:-} dir=${2:-device-check}
root=$(cd "$(dirname "$0")/.." && pwd)
configs="fp32 tp=2 tp=4 pp=2 bf16 fp16 bf16:tp=2"

source "$root/test/e2e/zoo_reference.sh" # zoo_shapes, zoo_reference

prepare() {
  local bin=${BIN:-$root/build/bin}
  rm -rf "$dir"
  mkdir -p "$dir/zoo" "$dir/deps/bin" "$dir/deps/include" "$dir/jit" "$dir/bench"
  cp "$(command -v flatc)" "$dir/deps/bin/" && cp -r /usr/include/flatbuffers "$dir/deps/include/" ||
    { echo "prepare: flatc and /usr/include/flatbuffers are needed (tools/setup-deps.sh)"; exit 1; }
  for model in gpt2 bert gpt_neox llama; do
    for exp in torchscript dynamo; do
      local src=$root/test/models/$model/$exp w=$dir/zoo/$model-$exp
      mkdir -p "$w/inputs"
      cp "$src"/inputs/*.npy "$w/inputs/"
      # ref.<output>.npy from the CPU backend (its package is not carried).
      (zoo_reference "$bin" "$src" "$w" ref > /dev/null) || { echo "prepare: $model $exp: CPU reference failed"; exit 1; }
      rm -f "$w/ref.tpkg"
      shapes=$(zoo_shapes "$src")
      for spec in $configs; do
        local args=()
        case $spec in
          bf16|fp16) args=(--dtype "$spec") ;;
          bf16:tp=2) args=(--dtype bf16 --mesh tp=2) ;;
          fp32) ;;
          *) args=(--mesh "$spec") ;;
        esac
        "$bin/tessera-compile" "$src/model.onnx" $shapes --target=cuda --cuda-arch=sm_90 "${args[@]}" \
          -o "$w/${spec//[=:]/_}.tpkg" 2>/dev/null || { echo "prepare: $model $exp $spec: compile failed"; exit 1; }
      done
    done
  done
  # The JIT paths: PTX only (the driver compiles it), no image (NVRTC at run time).
  local src=$root/test/models/llama/dynamo
  "$bin/tessera-compile" "$src/model.onnx" $(zoo_shapes "$src") --target=cuda --cuda-arch=compute_80 -o "$dir/jit/ptx.tpkg" 2>/dev/null
  "$bin/tessera-compile" "$src/model.onnx" $(zoo_shapes "$src") --target=cuda --cuda-arch= -o "$dir/jit/source.tpkg" 2>/dev/null
  # The bench: GPT-2 medium exported by tools/bench/export_gpt2_medium.py into
  # GPT2M (default /tmp/gpt2m); compiled without its weights.
  local m=${GPT2M:-/tmp/gpt2m}
  if [ -f "$m/model.onnx" ]; then
    local data="$m/model.onnx.data" moved=""
    if [ -f "$data" ]; then mv "$data" "$data.away"; moved=1; fi
    "$bin/tessera-compile" "$m/model.onnx" --input-shape input_ids=8x512 --input-shape attention_mask=8x512 \
      --plan-only --target=cuda --dtype bf16 --cuda-arch=sm_90 -o "$dir/bench/gpt2-medium-bf16.tpkg" 2>&1 | tail -1
    [ -n "$moved" ] && mv "$data.away" "$data"
  else
    echo "prepare: no $m/model.onnx: run tools/bench/export_gpt2_medium.py $m first (the bench is skipped)"
  fi
  du -sh "$dir"
}

run() {
  local out=${OUT:-$dir/results} build=/tmp/tessera-runtime backend=${BACKEND:-cuda}
  mkdir -p "$out"
  exec > >(tee "$out/device-check.log") 2>&1
  local start=$SECONDS
  nvidia-smi -L || [ "$backend" != cuda ] || { echo "no GPU (nvidia-smi)"; exit 1; }
  # CUDA and NCCL libraries: the toolkit's, else the ones PyTorch's wheels bring.
  local pylibs nccl_inc
  pylibs=$(python3 -c "import glob, os, nvidia; print(':'.join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d + '/*/lib/*.so*')})))" 2>/dev/null)
  nccl_inc=$(python3 -c "import glob, nvidia; print(next(iter(glob.glob(nvidia.__path__[0] + '/nccl/include')), ''))" 2>/dev/null)
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/lib:${pylibs}:${LD_LIBRARY_PATH:-}
  echo "== build (runtime only)"
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTESSERA_BUILD_COMPILER=OFF \
    -DTESSERA_BUILD_TESTS=OFF -DTESSERA_FLATC="$root/$dir/deps/bin/flatc" \
    -DCMAKE_CXX_FLAGS="-I$root/$dir/deps/include" ${nccl_inc:+-DNCCL_INCLUDE_DIR=$nccl_inc} > "$out/cmake.log" 2>&1 ||
    { tail -30 "$out/cmake.log"; exit 1; }
  ninja -C "$build" tessera-run tessera-inspect > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
  echo "built in $((SECONDS - start)) s"
  local run=$build/bin/tessera-run pass=0 fail=0
  echo "== zoo: --backend $backend against the CPU backend"
  for w in "$root/$dir"/zoo/*; do
    local ins="" checks=""
    for f in "$w"/inputs/*.npy; do ins+=" --input $(basename "$f" .npy)=$f"; done
    for f in "$w"/ref.*.npy; do local n=$(basename "$f" .npy); checks+=" --check ${n#ref.}=$f"; done
    for spec in $configs; do
      local tol=1e-4 n=1
      case $spec in bf16|fp16) tol=2e-2 ;; bf16:tp=2) tol=2e-2 n=2 ;; tp=*|pp=*) n=${spec#*=} ;; esac
      local res
      # Three runs: the second is captured as a CUDA graph, the third replays it.
      res=$(timeout 120 "$run" "$w/${spec//[=:]/_}.tpkg" --backend "$backend" --ranks $n --repeat 3 $ins $checks --rtol $tol --atol $tol 2>&1)
      if [ $? -eq 0 ] && grep -q "check .*: ok" <<< "$res" && ! grep -q "FAIL" <<< "$res"; then
        pass=$((pass + 1)); echo "$(basename "$w") $spec: ok ($(grep -o 'max |diff| [^,]*' <<< "$res" | head -1))"
      else
        fail=$((fail + 1)); echo "$(basename "$w") $spec: FAILED"; grep -v "^output" <<< "$res" | head -6
      fi
    done
  done
  echo "zoo: $pass passed, $fail failed"
  if [ "$backend" != cuda ]; then
    echo "dry run ($backend): JIT paths, nccl and the bench need a GPU"
    echo "device check done in $((SECONDS - start)) s"
    return
  fi
  echo "== JIT paths and nccl (world of one)"
  local w=$root/$dir/zoo/llama-dynamo ins=""
  for f in "$w"/inputs/*.npy; do ins+=" --input $(basename "$f" .npy)=$f"; done
  for p in "$root/$dir/jit/ptx.tpkg" "$root/$dir/jit/source.tpkg"; do
    timeout 120 "$run" "$p" --backend cuda $ins --check logits="$w/ref.logits.npy" 2>&1 | grep -E "ran|check|error"
  done
  timeout 120 "$run" "$w/fp32.tpkg" --backend cuda --comm nccl $ins --check logits="$w/ref.logits.npy" 2>&1 | grep -E "ran|check|error"
  "$build/bin/tessera-inspect" "$w/bf16.tpkg" --kernels | head -4
  if [ -f "$root/$dir/bench/gpt2-medium-bf16.tpkg" ]; then
    echo "== bench: GPT-2 medium, batch 8, seq 512, bf16, forward"
    timeout 300 "$run" "$root/$dir/bench/gpt2-medium-bf16.tpkg" --backend cuda --random-weights 1 --profile --bench 5 2>&1 | tail -25
    TESSERA_CUDA_GRAPHS=0 timeout 300 "$run" "$root/$dir/bench/gpt2-medium-bf16.tpkg" --backend cuda --random-weights 1 --bench 5 2>&1 | sed 's/^/without CUDA graphs: /' 
    timeout 400 python3 "$root/tools/bench/gpu_vs_torch.py" --tessera-run "$run" \
      --package "$root/$dir/bench/gpt2-medium-bf16.tpkg" --rounds 5 --runs 20 --json "$out/bench.json"
  fi
  echo "device check done in $((SECONDS - start)) s"
}

case $mode in
  prepare) prepare ;;
  run) run ;;
  *) sed -n 2,20p "$0"; exit 2 ;;
esac
