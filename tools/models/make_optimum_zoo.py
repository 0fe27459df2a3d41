#!/usr/bin/env python3
"""Optimum exports of tiny random models, the way users make them:
test/models/optimum/<family>/.

    python3 -m venv .venv-optimum && .venv-optimum/bin/pip install optimum-onnx onnxruntime
    .venv-optimum/bin/python tools/models/make_optimum_zoo.py [FAMILY...]

(optimum-onnx pins its own transformers, hence its own virtual environment.)
For each decoder family (GPT-2; Llama, Qwen2 and Mistral with grouped-query
attention; Phi with partial rotary), a tiny random model (2 layers, hidden
32, vocabulary 512; weights drawn wider than the default initialisation so
that greedy tokens vary) is saved and exported with
`optimum-cli export onnx --task text-generation-with-past` (inputs
`past_key_values.i.{key,value}`, outputs `present.i.{key,value}`); each
encoder-decoder (T5, BART) with `--task text2text-generation-with-past`
(the folder: encoder_model.onnx, decoder_model.onnx,
decoder_with_past_model.onnx, decoder_model_merged.onnx, config.json,
generation_config.json), and:

- generate.json: Hugging Face `generate(do_sample=False)`, 12 new tokens,
  from prompts of 1, 5 and 9 tokens (test/e2e/generate_zoo.py's format; an
  encoder-decoder's ids are the decoder's sequence, from its start token,
  with no end-of-sequence stop and no forced tokens);
- (decoders) steps/decode and steps/prompt: one step of the export as ONNX Runtime runs
  it (batch 2; a decode step of 1 token after 15 cached positions, a prompt
  step of 5 tokens with an empty past): inputs/*.npy and outputs/*.npy, and
  dims.txt, the --dim bindings of that step.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "models", "optimum")
COMMON = dict(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
              max_position_embeddings=64, initializer_range=0.3)
FAMILIES = {
    "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=512, n_positions=64, n_embd=32, n_layer=2, n_head=2, initializer_range=0.3)),
    "llama": lambda: transformers.LlamaForCausalLM(transformers.LlamaConfig(
        num_attention_heads=4, num_key_value_heads=2, **COMMON)),
    "qwen2": lambda: transformers.Qwen2ForCausalLM(transformers.Qwen2Config(
        num_attention_heads=4, num_key_value_heads=2, **COMMON)),
    "mistral": lambda: transformers.MistralForCausalLM(transformers.MistralConfig(
        num_attention_heads=4, num_key_value_heads=1, **COMMON)),
    "phi": lambda: transformers.PhiForCausalLM(transformers.PhiConfig(
        num_attention_heads=4, partial_rotary_factor=0.5, **COMMON)),
}
SEQ2SEQ = {
    "t5": lambda: transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=512, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=4, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        initializer_factor=3.0)),
    "bart": lambda: transformers.BartForConditionalGeneration(transformers.BartConfig(
        vocab_size=512, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
        decoder_ffn_dim=64, max_position_embeddings=64, init_std=0.3)),
}
PROMPTS = [[8], [280, 323, 359, 343, 17], [79, 432, 394, 350, 436, 354, 53, 7, 99]]
NEW = 12


def step(model_file, out_dir, seq, past):
    """One step of the export under ONNX Runtime: batch 2, `seq` new tokens
    after `past` cached positions."""
    rng = np.random.default_rng(seq * 100 + past)
    session = ort.InferenceSession(model_file)
    feeds, dims = {}, {"past_sequence_length": past}
    for i in session.get_inputs():
        shape = []
        for d in i.shape:
            if isinstance(d, int):
                shape.append(d)
            elif d == "batch_size":
                shape.append(2)
            elif d == "sequence_length":
                shape.append(seq)
            elif d == "past_sequence_length":
                shape.append(past)
            else:  # past_sequence_length + sequence_length
                shape.append(past + seq)
        if i.name == "input_ids":
            v = rng.integers(0, 512, shape).astype(np.int64)
        elif i.name == "attention_mask":
            v = np.ones(shape, np.int64)
        elif i.name == "position_ids":
            v = np.tile(np.arange(past, past + seq, dtype=np.int64), (shape[0], 1))
        else:
            v = rng.standard_normal(shape).astype(np.float32)
        feeds[i.name] = v
    outputs = session.run(None, feeds)
    for kind in ("inputs", "outputs"):
        os.makedirs(os.path.join(out_dir, kind), exist_ok=True)
    for name, v in feeds.items():
        np.save(os.path.join(out_dir, "inputs", name + ".npy"), v)
    for o, v in zip(session.get_outputs(), outputs):
        np.save(os.path.join(out_dir, "outputs", o.name + ".npy"), v)
    with open(os.path.join(out_dir, "dims.txt"), "w") as f:
        f.write(f"--batch 2 --seq {seq} --dim past_sequence_length={past}\n")


def make(family):
    torch.manual_seed(0)
    seq2seq = family in SEQ2SEQ
    model = (SEQ2SEQ if seq2seq else FAMILIES)[family]().eval()
    out = os.path.join(OUT, family)
    shutil.rmtree(out, ignore_errors=True)
    task = "text2text-generation-with-past" if seq2seq else "text-generation-with-past"
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(os.path.join(tmp, "hf"))
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "optimum-cli"), "export",
                        "onnx", "--model", os.path.join(tmp, "hf"), "--task", task,
                        os.path.join(tmp, "onnx")], check=True, stdout=subprocess.DEVNULL)
        os.makedirs(os.path.join(out, "optimum"))
        for f in sorted(os.listdir(os.path.join(tmp, "onnx"))):
            if f.endswith(".onnx") or (seq2seq and f.endswith(".json")):
                shutil.copy(os.path.join(tmp, "onnx", f), os.path.join(out, "optimum"))
    if seq2seq:  # greedy as compared: no end-of-sequence stop, no forced tokens
        for key in ("eos_token_id", "forced_eos_token_id", "forced_bos_token_id"):
            setattr(model.generation_config, key, None)
    ids = []
    for p in PROMPTS:
        with torch.no_grad():
            g = model.generate(torch.tensor([p]), max_new_tokens=NEW, do_sample=False,
                               num_beams=1, pad_token_id=0)
        ids.append(g[0].tolist())
    with open(os.path.join(out, "generate.json"), "w") as f:
        json.dump({"prompts": PROMPTS, "ids": ids, "max_new_tokens": NEW}, f)
    if not seq2seq:
        model_file = os.path.join(out, "optimum", "model.onnx")
        step(model_file, os.path.join(out, "steps", "decode"), 1, 15)
        step(model_file, os.path.join(out, "steps", "prompt"), 5, 0)
    print(family, "->", out)


if __name__ == "__main__":
    for family in sys.argv[1:] or [*FAMILIES, *SEQ2SEQ]:
        make(family)
