#!/usr/bin/env python3
"""Hugging Face references for Tessera's generation tests.

For each decoder of the zoo, rebuilds the exact model make_zoo.py exported
(same seeds, same perturbation) and runs `generate(do_sample=False)` (greedy,
with its KV cache) on a few prompts of different lengths, one at a time, and
writes <zoo>/<model>/generate.json:

    {"max_new_tokens": N, "prompts": [[ids...], ...], "ids": [[prompt + new], ...],
     "transformers": version}

End-of-sequence stopping is off (the ids are always prompt + N tokens).

    python tools/models/generate_reference.py [--zoo test/models] [--new 20]
"""
import argparse
import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_zoo  # noqa: E402

DECODERS = ["gpt2", "llama", "gpt_neox"]
# Of the wider zoo (make_zoo.py --wider): the causal LMs.
WIDER_DECODERS = ["qwen2", "phi", "gptj", "falcon", "bloom", "opt", "nanogpt"]


def rebuild(name):
    """The model exactly as make_zoo.export builds it (same seeds, same
    perturbation)."""
    torch.manual_seed(0)
    model, _, _, _ = {**make_zoo.ZOO, **make_zoo.WIDER}[name]()
    model.eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model


def greedy(model, prompt, new):
    """Hugging Face generate (greedy, KV cache), or, for a model without it
    (nanoGPT), the same greedy loop over full forward passes."""
    ids = torch.tensor([prompt])
    with torch.no_grad():
        if hasattr(model, "generate"):
            model.generation_config.eos_token_id = None
            model.generation_config.pad_token_id = 0
            return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                                  min_new_tokens=new, do_sample=False, use_cache=True)[0].tolist()
        for _ in range(new):
            logits = model(ids)["logits"]
            ids = torch.cat([ids, logits[:, -1:].argmax(-1)], dim=1)
    return ids[0].tolist()
PROMPT_LENGTHS = [1, 4, 9]


def prompts_for(name):
    g = torch.Generator().manual_seed(100 + (DECODERS + WIDER_DECODERS).index(name))
    return [torch.randint(0, make_zoo.VOCAB, (n,), generator=g).tolist()
            for n in PROMPT_LENGTHS]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zoo", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "test", "models"))
    parser.add_argument("--new", type=int, default=20)
    parser.add_argument("--models", nargs="*", default=DECODERS,
                        help="names (default the base zoo's decoders; also " +
                             ", ".join(WIDER_DECODERS) + ")")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.models:
        model = rebuild(name)
        out = [greedy(model, prompt, args.new) for prompt in prompts_for(name)]
        path = os.path.join(args.zoo, name, "generate.json")
        with open(path, "w") as f:
            json.dump({"max_new_tokens": args.new, "prompts": prompts_for(name), "ids": out,
                       "transformers": transformers.__version__}, f, indent=1)
            f.write("\n")
        print(f"{path}: {len(out)} prompt(s), {args.new} new tokens each")


if __name__ == "__main__":
    main()
