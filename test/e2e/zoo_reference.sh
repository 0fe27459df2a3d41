# Sourced by the zoo e2e scripts: `zoo_reference BIN_DIR MODEL_DIR WORK_DIR NAME`
# sets $shapes (the model's --input-shape flags from meta.json), $inputs
# (--input flags for its inputs/*.npy) and $checks (--check flags against
# WORK_DIR/NAME.<output>.npy), compiles the model for one CPU as
# WORK_DIR/NAME.tpkg and runs it to write those references. Prints
# "NAME: ok", or "NAME: compile failed" / "NAME: run failed" and exits 1.
# The --input-shape flags of a zoo model folder, from its meta.json.
zoo_shapes() {
  python3 -c "import json; d=json.load(open('$1/meta.json')); print(' '.join('--input-shape %s=%s' % (k, 'x'.join(map(str, v))) for k, v in d['inputs'].items()))"
}

zoo_reference() {
  local bin=$1 dir=$2 work=$3 name=$4 outputs="" f n
  mkdir -p "$work"
  shapes=$(zoo_shapes "$dir")
  inputs="" checks=""
  for f in "$dir"/inputs/*.npy; do inputs+=" --input $(basename "$f" .npy)=$f"; done
  for f in "$dir"/outputs/*.npy; do
    n=$(basename "$f" .npy)
    outputs+=" --output $n=$work/$name.$n.npy"
    checks+=" --check $n=$work/$name.$n.npy"
  done
  "$bin/tessera-compile" "$dir/model.onnx" $shapes -o "$work/$name.tpkg" 2>/dev/null || { echo "$name: compile failed"; exit 1; }
  "$bin/tessera-run" "$work/$name.tpkg" $inputs $outputs > /dev/null || { echo "$name: run failed"; exit 1; }
  echo "$name: ok"
}
