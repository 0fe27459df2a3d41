#!/usr/bin/env python3
"""Generates Tessera's model zoo: tiny random-initialised transformers exported
to ONNX with both PyTorch exporters, with inputs and ONNX Runtime outputs.

    python tools/models/make_zoo.py [--out test/models] [--only gpt2,bert]
    python tools/models/make_zoo.py --gpt2-small --out /tmp/bench   # 124M, not committed

Layout, per model and exporter (torchscript: opset 17, dynamo: opset 18;
dynamo_static: the dynamo exporter without dynamic_shapes, so batch 4 and the
sequence are fixed in the file, as `torch.onnx.export(..., dynamo=True)` does
by default):

    <out>/<model>/<exporter>/model.onnx
    <out>/<model>/<exporter>/inputs/<input name>.npy
    <out>/<model>/<exporter>/outputs/<output name>.npy   (ONNX Runtime, CPU, fp32)
    <out>/<model>/<exporter>/meta.json                   (shapes, opset, config)

Weights use fixed seeds, so a rerun reproduces the files (up to exporter
version changes). Needs PyPI torch, transformers, onnx, onnxruntime, onnxscript
(tools/models/requirements.txt); never a dependency of the compiler or runtime.
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()

VOCAB = 512


class LogitsOnly(torch.nn.Module):
    """Wraps a HF model so the export has plain tensor inputs and one output."""

    def __init__(self, model, output):
        super().__init__()
        self.model = model
        self.output = output

    def forward(self, *args):
        kwargs = dict(zip(self.names, args))
        out = self.model(**kwargs, use_cache=False, return_dict=True)
        return out[self.output]


def with_mask(ids):
    """Decoder inputs as serving exports have them: ids and an all-ones mask
    (transformers' mask builder needs the mask to export with TorchScript)."""
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def tiny_gpt2():
    cfg = transformers.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=64,
                                  n_layer=2, n_head=4)
    model = transformers.GPT2LMHeadModel(cfg)
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(1))
    return model, cfg, with_mask(ids), "logits"


def tiny_bert():
    cfg = transformers.BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=128,
                                  max_position_embeddings=64)
    model = transformers.BertModel(cfg, add_pooling_layer=False)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, VOCAB, (2, 16), generator=g)
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 11:] = 0  # the second sequence is padded
    types = torch.zeros(2, 16, dtype=torch.int64)
    types[:, 8:] = 1
    return model, cfg, {"input_ids": ids, "attention_mask": mask,
                        "token_type_ids": types}, "last_hidden_state"


def tiny_llama():
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=64)
    model = transformers.LlamaForCausalLM(cfg)
    ids = torch.randint(0, VOCAB, (1, 16), generator=torch.Generator().manual_seed(3))
    return model, cfg, with_mask(ids), "logits"


def tiny_gpt_neox():
    # Partial rotary (rotary_pct) and parallel attention + MLP residuals.
    cfg = transformers.GPTNeoXConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                                     num_hidden_layers=2, num_attention_heads=4,
                                     rotary_pct=0.5, max_position_embeddings=64)
    model = transformers.GPTNeoXForCausalLM(cfg)
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(4))
    return model, cfg, with_mask(ids), "logits"


def gpt2_small():
    cfg = transformers.GPT2Config()  # 124M: 12 layers, hidden 768, vocab 50257
    model = transformers.GPT2LMHeadModel(cfg)
    ids = torch.randint(0, cfg.vocab_size, (1, 128),
                        generator=torch.Generator().manual_seed(5))
    return model, cfg, with_mask(ids), "logits"


ZOO = {"gpt2": tiny_gpt2, "bert": tiny_bert, "llama": tiny_llama, "gpt_neox": tiny_gpt_neox}


def bert_base():
    cfg = transformers.BertConfig()  # 110M: 12 layers, hidden 768
    model = transformers.BertModel(cfg, add_pooling_layer=False)
    g = torch.Generator().manual_seed(6)
    ids = torch.randint(0, cfg.vocab_size, (1, 128), generator=g)
    return model, cfg, {"input_ids": ids, "attention_mask": torch.ones_like(ids),
                        "token_type_ids": torch.zeros_like(ids)}, "last_hidden_state"


def llama_1b():
    # Llama 3.2 1B's shape: 16 layers, hidden 2048, 32 query / 8 kv heads.
    cfg = transformers.LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                                   num_hidden_layers=16, num_attention_heads=32,
                                   num_key_value_heads=8, max_position_embeddings=2048,
                                   tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(cfg)
    ids = torch.randint(0, cfg.vocab_size, (1, 128), generator=torch.Generator().manual_seed(7))
    return model, cfg, with_mask(ids), "logits"


# Full-size configurations with random weights (not committed): import and
# speed checks at real sizes.
FULL = {"gpt2_small": gpt2_small, "bert_base": bert_base, "llama_1b": llama_1b}


def tiny_decoder(config_class, model_class, seed, **config):
    """A tiny causal LM of another Hugging Face family (vocab 512, 2 layers,
    hidden 64, 4 heads), ids and an all-ones mask [2, 16]."""
    def build():
        cfg = config_class(vocab_size=VOCAB, **config)
        model = model_class(cfg)
        ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(seed))
        return model, cfg, with_mask(ids), "logits"
    return build


class NanoGPT(torch.nn.Module):
    """A GPT block as nanoGPT writes it: a registered tril buffer,
    masked_fill(mask == 0, -inf), softmax; learned positions; tied head."""

    class Block(torch.nn.Module):
        def __init__(self, d, heads, block):
            super().__init__()
            self.ln_1, self.ln_2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
            self.c_attn, self.c_proj = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
            self.fc, self.proj = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)
            self.heads = heads
            self.register_buffer("bias", torch.tril(torch.ones(block, block))
                                 .view(1, 1, block, block))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / (k.size(-1) ** 0.5))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = torch.nn.functional.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            x = x + self.c_proj(y)
            return x + self.proj(torch.nn.functional.gelu(self.fc(self.ln_2(x))))

    def __init__(self, vocab=VOCAB, d=64, heads=4, layers=2, block=64):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(vocab, d), torch.nn.Embedding(block, d)
        self.h = torch.nn.ModuleList(self.Block(d, heads, block) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(d)
        self.lm_head = torch.nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, input_ids, use_cache=False, return_dict=True):
        T = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe(torch.arange(T, device=input_ids.device))
        for block in self.h:
            x = block(x)
        return {"logits": self.lm_head(self.ln_f(x))}


def tiny_nanogpt():
    cfg = transformers.PretrainedConfig(n_positions=64)
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(20))
    return NanoGPT(), cfg, {"input_ids": ids}, "logits"


def tiny_distilbert():
    cfg = transformers.DistilBertConfig(vocab_size=VOCAB, dim=64, n_layers=2, n_heads=4,
                                        hidden_dim=128, max_position_embeddings=64)
    model = transformers.DistilBertModel(cfg)
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(21))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 12:] = 0
    return model, cfg, {"input_ids": ids, "attention_mask": mask}, "last_hidden_state"


# More families (issue: real exports from more model families); not part of
# the default zoo run.
WIDER = {
    "qwen2": tiny_decoder(transformers.Qwen2Config, transformers.Qwen2ForCausalLM, 11,
                          hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=64),
    "phi": tiny_decoder(transformers.PhiConfig, transformers.PhiForCausalLM, 12,
                        hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, partial_rotary_factor=0.5,
                        max_position_embeddings=64),
    "gptj": tiny_decoder(transformers.GPTJConfig, transformers.GPTJForCausalLM, 13,
                         n_embd=64, n_layer=2, n_head=4, rotary_dim=8, n_positions=64),
    "falcon": tiny_decoder(transformers.FalconConfig, transformers.FalconForCausalLM, 14,
                           hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           max_position_embeddings=64),
    "bloom": tiny_decoder(transformers.BloomConfig, transformers.BloomForCausalLM, 15,
                          hidden_size=64, n_layer=2, n_head=4),
    "opt": tiny_decoder(transformers.OPTConfig, transformers.OPTForCausalLM, 16,
                        hidden_size=64, num_hidden_layers=2, ffn_dim=128, num_attention_heads=4,
                        max_position_embeddings=64, word_embed_proj_dim=64),
    "nanogpt": tiny_nanogpt,
    "distilbert": tiny_distilbert,
}


STATIC_BATCH = 4


def at_batch(inputs, batch, seed):
    """The inputs at another batch: fresh random token ids, the other inputs'
    rows (masks, token types) repeated in turn, so padded rows stay padded."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in inputs.items():
        if k == "input_ids":
            out[k] = torch.randint(0, VOCAB, (batch,) + tuple(v.shape[1:]), generator=g)
        else:
            out[k] = torch.stack([v[i % v.shape[0]] for i in range(batch)])
    return out


def export(name, build, out_root, exporters):
    torch.manual_seed(0)
    model, cfg, inputs, output = build()
    if exporters == ["dynamo_static"]:
        inputs = at_batch(inputs, STATIC_BATCH, seed=10 + sorted(ZOO).index(name))
    model.eval()
    # HF initialises norm scales to 1 and biases to 0; perturb every parameter
    # so that tests notice a swapped scale/bias or a dropped term.
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    wrapper = LogitsOnly(model, output).eval()
    wrapper.names = list(inputs)
    args = tuple(inputs.values())
    # Past protobuf's 2 GB: weights in external data files.
    big = sum(p.numel() * p.element_size() for p in model.parameters()) > 1.8e9
    # The reference comes first: exporting leaves the module altered.
    with torch.no_grad():
        reference = wrapper(*args).numpy()
    for exporter in exporters:
        out = os.path.join(out_root, name, exporter)
        os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
        os.makedirs(os.path.join(out, "outputs"), exist_ok=True)
        path = os.path.join(out, "model.onnx")
        print(f"[zoo] {name} / {exporter}: exporting", flush=True)
        with torch.no_grad():
            if exporter == "torchscript":
                torch.onnx.export(wrapper, args, path, input_names=list(inputs),
                                  output_names=[output], opset_version=17, dynamo=False,
                                  dynamic_axes={k: {0: "batch", 1: "sequence"} for k in inputs})
            elif exporter == "dynamo_static":
                prog = torch.onnx.export(wrapper, args, input_names=list(inputs),
                                         output_names=[output], opset_version=18,
                                         dynamo=True, external_data=big)
                prog.save(path, external_data=big)
            else:
                batch = torch.export.Dim("batch", min=1, max=64)
                positions = getattr(cfg, "n_positions", None) or getattr(
                    cfg, "max_position_embeddings", 64)
                seq = torch.export.Dim("sequence", min=2, max=positions)
                shapes = {"args": tuple({0: batch, 1: seq} for _ in inputs)}
                prog = torch.onnx.export(wrapper, args, input_names=list(inputs),
                                         output_names=[output], opset_version=18,
                                         dynamo=True, dynamic_shapes=shapes,
                                         external_data=big)
                prog.save(path, external_data=big)
        proto = onnx.load(path, load_external_data=False)
        onnx.checker.check_model(path if big else proto)
        feeds = {k: v.numpy() for k, v in inputs.items()}
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        results = session.run(None, feeds)
        for k, v in feeds.items():
            np.save(os.path.join(out, "inputs", f"{k}.npy"), v)
        for meta, v in zip(session.get_outputs(), results):
            np.save(os.path.join(out, "outputs", f"{meta.name}.npy"), v)
        err = float(np.max(np.abs(reference - results[0])))
        info = {
            "model": name, "exporter": exporter,
            "opset": [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")][0],
            "inputs": {k: list(v.shape) for k, v in feeds.items()},
            "outputs": {m.name: list(v.shape) for m, v in zip(session.get_outputs(), results)},
            "torch_vs_onnxruntime_max_abs_diff": err,
            "config": {k: v for k, v in cfg.to_dict().items()
                       if isinstance(v, (int, float, str, bool)) and not k.startswith("_")},
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "onnx": onnx.__version__, "onnxruntime": ort.__version__},
        }
        with open(os.path.join(out, "meta.json"), "w") as f:
            json.dump(info, f, indent=1, sort_keys=True)
        size = os.path.getsize(path)
        print(f"[zoo] {name} / {exporter}: {size / 1e6:.2f} MB, {len(proto.graph.node)} nodes, "
              f"torch vs onnxruntime max |diff| {err:.2e}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="test/models")
    parser.add_argument("--only", default=",".join(ZOO))
    parser.add_argument("--exporters", default="torchscript,dynamo,dynamo_static")
    parser.add_argument("--gpt2-small", action="store_true",
                        help="export GPT-2 small (124M) instead of the tiny zoo")
    parser.add_argument("--full-size", default="",
                        help="export full-size configurations instead (comma list of " +
                             ", ".join(FULL) + "; random weights, written under --out)")
    parser.add_argument("--wider", action="store_true",
                        help="export the wider families (" + ", ".join(WIDER) + ")")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    exporters = args.exporters.split(",")
    if args.gpt2_small:
        export("gpt2_small", gpt2_small, args.out, exporters)
        return 0
    if args.full_size:
        for name in args.full_size.split(","):
            export(name, FULL[name], args.out, exporters)
        return 0
    names = list(WIDER) if args.wider else args.only.split(",")
    for name in names:
        # The static exports are made at another batch: a run of their own.
        if "dynamo_static" in exporters:
            export(name, {**ZOO, **WIDER}[name], args.out, ["dynamo_static"])
        rest = [e for e in exporters if e != "dynamo_static"]
        if rest:
            export(name, {**ZOO, **WIDER}[name], args.out, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
