#!/usr/bin/env python3
"""A tiny RoBERTa as both torch exporters write it: test/e2e/Inputs/roberta/<exporter>/.

    .venv-models/bin/python tools/models/make_roberta.py [OUT_DIR]

RobertaModel (vocab 512, hidden 64, 2 layers, 4 heads; parameters perturbed
off their initial values), input_ids and attention_mask [2, 16] with the
second sequence padded from position 12; the embeddings read their token
types through GatherElements, and their positions through CumSum of the mask.
Writes model.onnx, inputs/*.npy and ONNX Runtime's outputs/last_hidden_state.npy.
"""
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exporting import export_both  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Hidden(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test/e2e/Inputs/roberta")
    torch.manual_seed(0)
    cfg = transformers.RobertaConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=128,
                                     max_position_embeddings=80)
    model = transformers.RobertaModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ids = torch.randint(3, 512, (2, 16))
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    ids[1, 12:] = cfg.pad_token_id
    feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    export_both(Hidden(model).eval(), feeds, out_root, ["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in feeds})


if __name__ == "__main__":
    main()
