#!/usr/bin/env python3
"""Real tokenizer.json files, and Hugging Face `tokenizers` references.

Trains two small BPE tokenizers with the `tokenizers` library on this
repository's documentation and saves them in Hugging Face's tokenizer.json
format:

    byte_level/tokenizer.json   GPT-2's format: ByteLevel pre-tokenizer (GPT-2's
                                split pattern) and decoder, <|endoftext|> added
    metaspace/tokenizer.json    Llama 2's format: normalizer Prepend("▁") +
                                Replace(" ", "▁"), no pre-tokenizer, BPE with
                                byte fallback (<0x00>..<0xFF>), decoder Replace +
                                ByteFallback + Fuse + Strip

then encodes every line of corpus.txt with each (add_special_tokens=False)
and writes <name>/expected.json: {"ids": [[...] per line], "decoded": [...]}.

    .venv-models/bin/python tools/models/make_tokenizers.py [--out test/models/tokenizers]
"""
import argparse
import glob
import json
import os

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CORPUS = """The compiler partitions a model across devices.
  Two spaces, then tabs:\tone\ttwo; and a newline inside? No.
Numbers: 3.14159, 42, 1e-5 and 2026-12-01 (a date); 100% sure!
Punctuation -- (parentheses), [brackets], {braces}, <angle> & "quotes" 'single'.
Contractions: it's, we're, they've, I'm, you'll, she'd, don't.
Accents: café, naïve, résumé, Ångström, Straße, Œuvre.
Greek and Cyrillic: αβγ δέλτα, Привет мир.
CJK: 汉字テスト한국어 and emoji 🙂🚀 (four-byte UTF-8).
Code: def f(x): return x**2  # comment
   trailing spaces   
<|endoftext|>special tokens split the text<|endoftext|>
"""


def train(kind, files):
    if kind == "byte_level":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=["<|endoftext|>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        tok.train(files, trainer)
        return tok
    # Llama 2: trained per word (Metaspace), saved with its normalizer and
    # without a pre-tokenizer, as Llama 2's tokenizer.json is.
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                           normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=specials,
                                  show_progress=False)
    tok.train(files, trainer)
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "test", "models", "tokenizers"))
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    os.makedirs(args.out, exist_ok=True)
    corpus = os.path.join(args.out, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(CORPUS)
    lines = CORPUS.split("\n")[:-1]
    for kind in ("byte_level", "metaspace"):
        tok = train(kind, files)
        folder = os.path.join(args.out, kind)
        os.makedirs(folder, exist_ok=True)
        tok.save(os.path.join(folder, "tokenizer.json"))
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        ids = [tok.encode(line, add_special_tokens=False).ids for line in lines]
        decoded = [tok.decode(i, skip_special_tokens=False) for i in ids]
        with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
            json.dump({"ids": ids, "decoded": decoded}, f, ensure_ascii=False, indent=0)
            f.write("\n")
        print(f"{folder}: vocabulary {tok.get_vocab_size()}, {sum(map(len, ids))} tokens "
              f"for {len(lines)} lines")


if __name__ == "__main__":
    main()
