//===- Passes.h - the training passes ---------------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_TRAIN_PASSES_H
#define TESSERA_PASSES_TRAIN_PASSES_H

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace tessera::train {

#define GEN_PASS_DECL
#include "passes/train/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/train/Passes.h.inc"

/// Whether weight `name` is one of `patterns` (names or globs, as --frozen
/// gives them).
bool matchesAny(llvm::StringRef name, llvm::ArrayRef<std::string> patterns);

} // namespace tessera::train

#endif // TESSERA_PASSES_TRAIN_PASSES_H
