#!/bin/sh
# encdec.test: BART and T5 from both exporters on four meshes, checked
# against ONNX Runtime, then verified (--verify) on the same meshes.
set -e
inputs=$1
out=$2
mkdir -p "$out"
# The TorchScript exports have symbolic batch and sequence dimensions.
dims_of() {
  if [ "$1" = torchscript ]; then
    echo "--dim batch=2 --dim sequence_input_ids=12 --dim sequence_attention_mask=12 --dim sequence_decoder_input_ids=8"
  fi
}
run() { # family exporter mesh...
  d=$inputs/$1/$2
  dims=$(dims_of $2)
  shift 2
  tessera-compile "$d/model.onnx" $dims "$@" -o "$out/p.tpkg" 2>/dev/null
  tessera-run "$out/p.tpkg" --input input_ids="$d/inputs/input_ids.npy" \
    --input attention_mask="$d/inputs/attention_mask.npy" \
    --input decoder_input_ids="$d/inputs/decoder_input_ids.npy" \
    --check logits="$d/outputs/logits.npy" --rtol 1e-4 --atol 1e-4
}
verify() {
  d=$inputs/$1/$2
  dims=$(dims_of $2)
  shift 2
  tessera-compile "$d/model.onnx" $dims "$@" --verify -o "$out/v.tpkg" 2>&1 | grep "verify: output"
}
for f in bart t5; do
  for e in torchscript dynamo; do
    run $f $e
    run $f $e --mesh tp=2
    run $f $e --mesh pp=2 --microbatches 2
    run $f $e --mesh dp=2
  done
done
for f in bart t5; do
  for e in torchscript dynamo; do
    verify $f $e
    verify $f $e --mesh tp=2
    verify $f $e --mesh pp=2 --microbatches 2
    verify $f $e --mesh dp=2
  done
done
echo "encdec: done"
