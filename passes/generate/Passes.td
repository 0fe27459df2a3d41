//===- Passes.td - the generation passes -------------------*- tablegen -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_GENERATE_PASSES_TD
#define TESSERA_PASSES_GENERATE_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecodePass : Pass<"tsr-generate-decode", "mlir::func::FuncOp"> {
  let summary = "Rewrite a full-length forward pass into one decode step with a KV cache";
  let description = [{
    The function is the model's forward pass over `max-seq` positions (token
    ids `[B, max-seq]`, the length the KV cache will hold). The result
    computes one new position per sequence: the token ids become `[B, 1]`, a
    new argument `positions` (`[B]`, int64) gives each sequence's position,
    and every value is computed for that row only:

    - values that follow the tokens keep one row along their sequence axis
      (tracked through reshapes that merge it with other axes, transposes,
      matmuls, norms, gathers);
    - position-dependent values that do not (position tables, rotary angles,
      causal-mask rows, anything computed from constants or from a full-length
      input such as the attention mask) are read at the position with
      `tsr.take_rows` where they meet a row;
    - each `tsr.attention` whose keys and values follow the tokens writes its
      new key/value row into a cache (`tsr.weight "kv_cache.<i>.key" zeros`,
      `[B, Hkv, max-seq, D]`) with `tsr.cache_write` and attends to the whole
      cache, masked to the positions up to the current one.

    The function then returns its outputs for the current row followed by
    the updated caches, each marked `tsr.updates = "<cache>"` so that the
    runtime keeps them between steps. The module gets
    `tsr.generate = {ids, mask, position_ids, positions, logits, max_seq}`.
    An op that mixes positions (a reduction or a matmul over the sequence
    axis, a cumulative sum) is refused by name.
  }];
  let options = [
    Option<"ids", "ids", "std::string", /*default=*/"\"input_ids\"",
           "the token ids input">,
    Option<"mask", "mask", "std::string", /*default=*/"\"attention_mask\"",
           "the attention mask input (fed whole: ones up to the position)">,
    Option<"positionIds", "position-ids", "std::string", /*default=*/"\"position_ids\"",
           "the position ids input, if the model has one (fed the position)">,
    ListOption<"encoderInputs", "encoder-inputs", "std::string",
               "inputs that hold the same values at every step (an encoder-decoder's "
               "encoder output and mask): whole, never read per position">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

def PrefillPass : Pass<"tsr-generate-prefill", "mlir::func::FuncOp"> {
  let summary = "Make a forward pass over a prompt fill the decode step's KV cache";
  let description = [{
    The function is the model's forward pass over a prompt of `P` positions
    (token ids `[B, P]`, right-padded). Each `tsr.attention` also writes its
    keys and values into rows `[0, P)` of the cache that `tsr-generate-decode`
    gives the same layer (`tsr.weight "kv_cache.<i>.key" zeros`, `[B, Hkv,
    max-seq, D]`: the same names, in the same order), and each output keeps
    only the row of each sequence's last prompt token, picked by a new input
    `last_positions` (`[B]`, int64). The function returns those rows, then the
    caches, marked `tsr.updates`.
  }];
  let options = [
    Option<"maxSeq", "max-seq", "int64_t", /*default=*/"0",
           "positions the cache holds (at least the prompt's)">,
    Option<"ids", "ids", "std::string", /*default=*/"\"input_ids\"",
           "the token ids input">,
  ];
  let dependentDialects = ["mlir::tsr::TsrDialect"];
}

#endif // TESSERA_PASSES_GENERATE_PASSES_TD
