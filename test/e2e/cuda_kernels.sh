#!/bin/bash
# The CUDA backend's attention kernels past the zoo's 16 tokens: the
# test/models/kernels graphs (150 queries and keys: several query blocks and
# key tiles, a partial last tile; an additive mask input, a constant causal
# -inf mask, and causal grouped-query attention with a boolean mask that hides
# the first 20 keys of batch 1, so its first queries see nothing), compiled
# for the CPU (the reference) and for CUDA in fp32 (CUDA-core kernel), bf16
# and fp16 (tensor-core kernel), run on BACKEND. One line per case.
#
# usage: cuda_kernels.sh BIN_DIR SRC_DIR WORK_DIR cuda|cuda-host
set -u
bin=$1 src=$2 work=$3 backend=$4
mkdir -p "$work"
# attention_gqa's inputs as .npy files (without numpy): q, k, v sinusoids and
# the boolean mask [2,1,1,150].
python3 - "$work" <<'PY'
import math, struct, sys
def npy(path, descr, shape, data):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, str(tuple(shape)))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data)
for name, shape, phase in (("q", (2, 4, 150, 64), 0.0), ("k", (2, 2, 150, 64), 1.0), ("v", (2, 2, 150, 64), 2.0)):
    n = math.prod(shape)
    npy(sys.argv[1] + "/" + name + ".npy", "<f4", shape,
        struct.pack("<%df" % n, *(math.sin(0.37 * i + phase) * 0.5 for i in range(n))))
npy(sys.argv[1] + "/mask.npy", "|b1", (2, 1, 1, 150),
    bytes(0 if (b == 1 and j < 20) else 1 for b in range(2) for j in range(150)))
PY
for model in attention_long/model.onnx attention_causal/model.onnx attention_gqa/model.mlir; do
  name=${model%%/*} inputs=()
  [ "$name" = attention_gqa ] && inputs=(--input "input0=$work/q.npy" --input "input1=$work/k.npy"
    --input "input2=$work/v.npy" --input "input3=$work/mask.npy")
  "$bin/tessera-compile" "$src/$model" -o "$work/$name.cpu.tpkg" 2>/dev/null || { echo "$name: compile failed"; continue; }
  out=$("$bin/tessera-run" "$work/$name.cpu.tpkg" "${inputs[@]}" 2>&1)
  output=$(grep -o '^output [^:]*' <<< "$out" | head -1 | cut -d' ' -f2)
  "$bin/tessera-run" "$work/$name.cpu.tpkg" "${inputs[@]}" --output "$output=$work/$name.ref.npy" > /dev/null || { echo "$name: CPU run failed"; continue; }
  for dtype in fp32 bf16 fp16; do
    tol=2e-2
    [ $dtype = fp32 ] && tol=1e-4
    "$bin/tessera-compile" "$src/$model" --target=cuda --dtype $dtype --cuda-arch=sm_90 -o "$work/$name.$dtype.tpkg" 2>/dev/null ||
      { echo "$name $dtype: compile failed"; continue; }
    kernel=$("$bin/tessera-inspect" "$work/$name.$dtype.tpkg" --kernels | grep -o 'attention *grid [0-9x]* block [0-9]*' | tr -s ' ')
    res=$("$bin/tessera-run" "$work/$name.$dtype.tpkg" --backend "$backend" "${inputs[@]}" \
      --check "$output=$work/$name.ref.npy" --rtol $tol --atol $tol 2>&1)
    if [ $? -eq 0 ] && grep -q "check .*: ok" <<< "$res"; then
      echo "$name $dtype: ok ($kernel)"
    else
      echo "$name $dtype: FAILED ($kernel)"; grep -v '^output' <<< "$res" | head -4
    fi
  done
done
