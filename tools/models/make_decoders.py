#!/usr/bin/env python3
"""Tiny decoders of families beyond the zoo, as users export them:
test/e2e/Inputs/decoders/<family>/<exporter>/.

    .venv-models/bin/python tools/models/make_decoders.py [OUT_DIR]

Mixtral and Qwen2-MoE (vocab 512, hidden 64, 2 layers, 4 experts, 2 per
token; Qwen2-MoE with its shared expert) with transformers' "batched_mm"
experts (the form the torch exporters take: TopK routing, each token's
experts' weights gathered, batched MatMul, ReduceSum); GPT-BigCode
(multi-query attention); Llama 3 (its rope scaling, tied embeddings);
Gemma 2 (soft-capped attention scores and logits; sliding-window layers
narrower than the generation's 32 positions). Parameters perturbed off their initial values. The TorchScript export has dynamic batch and sequence
(what --generate needs), the dynamo export its defaults (static shapes).
Writes model.onnx, inputs/*.npy (ids and mask [2, 16]), ONNX Runtime's
outputs/logits.npy, and generate.json: a prompt and Hugging Face's greedy
continuation (10 new tokens).
"""
import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exporting import export_both  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMON = dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=64)
FAMILIES = {
    "mixtral": (transformers.MixtralConfig, transformers.MixtralForCausalLM,
                dict(COMMON, intermediate_size=128, num_local_experts=4, num_experts_per_tok=2)),
    "qwen2_moe": (transformers.Qwen2MoeConfig, transformers.Qwen2MoeForCausalLM,
                  dict(COMMON, intermediate_size=128, moe_intermediate_size=32,
                       shared_expert_intermediate_size=64, num_experts=4,
                       num_experts_per_tok=2)),
    "gpt_bigcode": (transformers.GPTBigCodeConfig, transformers.GPTBigCodeForCausalLM,
                    dict(vocab_size=512, n_embd=64, n_layer=2, n_head=4, n_positions=64,
                         multi_query=True)),
    "llama3": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
               dict(COMMON, intermediate_size=128, tie_word_embeddings=True,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 16})),
    "gemma2": (transformers.Gemma2Config, transformers.Gemma2ForCausalLM,
               dict(COMMON, intermediate_size=128, head_dim=16, sliding_window=8)),
}


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          use_cache=False).logits


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test/e2e/Inputs/decoders")
    for seed, (family, (config_class, model_class, extra)) in enumerate(FAMILIES.items()):
        torch.manual_seed(30 + seed)
        cfg = config_class(**extra)
        cfg._experts_implementation = "batched_mm"
        model = model_class(cfg).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        ids = torch.randint(0, 512, (2, 16), generator=torch.Generator().manual_seed(40 + seed))
        mask = torch.ones_like(ids)
        prompt = ids[:1, :5]
        with torch.no_grad():
            greedy = model.generate(prompt, attention_mask=torch.ones_like(prompt),
                                    max_new_tokens=10, do_sample=False)
        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        export_both(Logits(model).eval(), feeds, os.path.join(out_root, family), ["logits"],
                    dynamic_axes={n: {0: "batch", 1: "sequence"} for n in feeds})
        with open(os.path.join(out_root, family, "generate.json"), "w") as f:
            json.dump({"prompt": prompt[0].tolist(), "greedy": greedy[0].tolist()}, f)
        print(f"{family}: greedy {greedy[0].tolist()}")


if __name__ == "__main__":
    main()
