#!/usr/bin/env python3
"""Tiny BART and T5 as both torch exporters write them: test/e2e/Inputs/encdec/<family>/<exporter>/.

    .venv-models/bin/python tools/models/make_encdec.py [OUT_DIR]

The whole sequence-to-sequence forward (encoder and decoder, teacher forcing):
input_ids and attention_mask [2, 12] with the second source padded from
position 9, decoder_input_ids [2, 8]; output logits. Parameters perturbed off
their initial values (vocab 256, d_model 32, 2+2 layers, 4 heads). Writes
model.onnx, inputs/*.npy and ONNX Runtime's outputs/logits.npy.
"""
import os
import sys

import numpy as np
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exporting import export_both  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, decoder_input_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          decoder_input_ids=decoder_input_ids, use_cache=False).logits


def bart():
    cfg = transformers.BartConfig(vocab_size=256, d_model=32, encoder_layers=2, decoder_layers=2,
                                  encoder_attention_heads=4, decoder_attention_heads=4,
                                  encoder_ffn_dim=64, decoder_ffn_dim=64,
                                  max_position_embeddings=64)
    return cfg, transformers.BartForConditionalGeneration(cfg)


def t5():
    cfg = transformers.T5Config(vocab_size=256, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                num_decoder_layers=2, num_heads=4,
                                relative_attention_num_buckets=8,
                                relative_attention_max_distance=16)
    return cfg, transformers.T5ForConditionalGeneration(cfg)


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test/e2e/Inputs/encdec")
    for family, make in (("bart", bart), ("t5", t5)):
        torch.manual_seed(0)
        cfg, model = make()
        model.eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        ids = torch.randint(3, cfg.vocab_size, (2, 12))
        mask = torch.ones_like(ids)
        mask[1, 9:] = 0
        ids[1, 9:] = cfg.pad_token_id
        dec = torch.randint(3, cfg.vocab_size, (2, 8))
        feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                 "decoder_input_ids": dec.numpy()}
        export_both(Logits(model).eval(), feeds, os.path.join(out_root, family), ["logits"])


if __name__ == "__main__":
    main()
