//===- Passes.h - the generation passes -------------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_GENERATE_PASSES_H
#define TESSERA_PASSES_GENERATE_PASSES_H

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace tessera::generate {

#define GEN_PASS_DECL
#include "passes/generate/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/generate/Passes.h.inc"

/// An export with past keys and values imported with an empty past
/// (Optimum's with-past decoders): drops the empty inputs and the outputs
/// that are an attention's keys or values (the present), which the decode
/// and prefill passes' own caches replace. Nothing to do on a plain export.
mlir::LogicalResult dropPastAndPresent(mlir::func::FuncOp func);

} // namespace tessera::generate

#endif // TESSERA_PASSES_GENERATE_PASSES_H
