#!/usr/bin/env bash
#===- tools/demo-train.sh - train the bundled tiny GPT-2 on text ----------===#
#
# Builds Tessera (installing what is missing), turns this repository's docs
# into a byte-level token stream, compiles the bundled tiny GPT-2 (dynamo
# export, random weights) as a training step (AdamW, cosine schedule with
# warm-up, gradient clipping) and trains it for STEPS steps (default 300) on
# windows of the text: the loss falls from ~6.3 (random) towards ~2.5. Then it
# compiles the trained model for generation (a decode step with a KV cache)
# and continues a prompt, byte by byte.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TESSERA_BUILD_DIR:-build}
steps=${STEPS:-300}

bash tools/setup-deps.sh
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" --target tessera-compile tessera-run -j "$(nproc)"

work="$build/demo-train"
mkdir -p "$work"
python3 tools/models/byte_tokens.py "$work/tokens.npy" docs/*.md
echo
echo "== compile a training step of test/models/gpt2/dynamo (batch 8, sequence 64)"
"$build/bin/tessera-compile" test/models/gpt2/dynamo/model.onnx --batch 8 --seq 64 \
  --train --optimizer adamw --lr 3e-3 --weight-decay 0.01 --clip-grad-norm 1.0 \
  --lr-schedule cosine --warmup-steps 20 --total-steps "$steps" -o "$work/train.tpkg"
echo
echo "== train $steps steps on windows of the text"
python3 -c "import struct; h = \"{'descr': '<i8', 'fortran_order': False, 'shape': (8, 64), }\"; h += ' ' * (63 - (len(h) + 10) % 64) + '\n'; open('$work/mask.npy', 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<512q', *[1] * 512))"
"$build/bin/tessera-run" "$work/train.tpkg" --input attention_mask="$work/mask.npy" \
  --data "$work/tokens.npy" --steps "$steps" --loss-log "$work/loss.csv" \
  --save-checkpoint "$work/checkpoint" --export-onnx "$work/trained.onnx"
python3 - "$work/loss.csv" <<'PY'
import sys
rows = [l.split(",") for l in open(sys.argv[1]).read().splitlines()[1:]]
first = sum(float(r[1]) for r in rows[:10]) / 10
last = sum(float(r[1]) for r in rows[-10:]) / 10
print(f"loss: first 10 steps {first:.3f}, last 10 steps {last:.3f} ({len(rows)} steps)")
PY
echo
echo "== generate: compile the trained model with --generate, continue a prompt"
"$build/bin/tessera-compile" "$work/trained.onnx" --generate --max-seq 64 -o "$work/gen.tpkg"
prompt=${PROMPT:-"The compiler "}
ids=$(python3 -c 'import sys; print(",".join(str(b) for b in sys.argv[1].encode()))' "$prompt")
"$build/bin/tessera-run" "$work/gen.tpkg" --prompt-ids "$ids" --max-new-tokens 40 \
  --temperature "${TEMPERATURE:-0.7}" --top-k 40 --seed 1 > "$work/generated.txt"
python3 - "$work/generated.txt" <<'PY'
import sys
ids = [int(t) for t in open(sys.argv[1]).read().split("ids:")[1].split()]
print("text:", repr(bytes(ids).decode("utf-8", "replace")))
PY
