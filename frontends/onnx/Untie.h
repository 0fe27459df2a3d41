//===- Untie.h - parameters an exporter merged because they were equal -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Exporters deduplicate initializers by value: a freshly initialised model's
// all-zero biases and all-one norm scales become one initializer that many
// nodes read (TorchScript's eval-mode export of a Phi model feeds one bias to
// 13 nodes). Inference does not care; training would train them as one
// shared parameter. untieEqualValued gives each reader its own copy (the same
// stored bytes under a new name) where the sharing can only come from equal
// values: a float initializer whose elements are all one value, read by
// several nodes. Real sharing (a tied embedding: random values, read by a
// Gather and a MatMul) stays.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_UNTIE_H
#define TESSERA_FRONTENDS_ONNX_UNTIE_H

#include "frontends/onnx/ModelFile.h"

#include <set>
#include <string>
#include <vector>

namespace tessera::onnx {

struct UntieOptions {
  /// Initializers that stay shared whatever their values (`--tie NAME`).
  std::set<std::string> keep;
  /// Initializers split per reader whatever their values (`--untie NAME`).
  std::set<std::string> force;
};

struct Untied {
  std::string initializer;          ///< the shared initializer (its first reader keeps it)
  std::vector<std::string> copies;  ///< the new names, one per further reader
};

/// Rewrites `model` (its graph's nodes and its weight records): every float
/// initializer of more than one element read by several nodes of the main
/// graph, constant-valued (or in `force`) and not in `keep`, gets one copy per
/// reader after the first. A reader that is an Identity (TorchScript writes
/// one per merged parameter, its output named as the parameter) is replaced
/// by a copy under its output's name. Another reader's copy is named after it
/// where its name is a module path ("/model/layers.1/attn/k_proj/Add" reading
/// "...q_proj.bias" gives "model.layers.1.attn.k_proj.bias"), else
/// "INITIALIZER@NODE". Initializers read inside subgraphs are left alone.
/// Returns what it split; an error names an initializer it could not read.
llvm::Expected<std::vector<Untied>> untieEqualValued(ModelFile &model,
                                                     const UntieOptions &options);

/// The float initializers that hold rotary-embedding tables: pairs of the
/// same shape with cos² + sin² = 1 in every element (an exporter that folds
/// the positions of a static-shape export writes the cos and sin tables
/// computed from the model's inv_freq buffer), or one whose last dimension's
/// two halves are such a pair. They are buffers, not parameters: PyTorch does
/// not train them.
llvm::Expected<std::vector<std::string>> rotaryTables(const ModelFile &model);

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_UNTIE_H
