//===- Verify.h - tessera-compile --verify --------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The fusion verifier's compiler half. `tessera-compile ... -o model.tpkg
// --verify` compiles the same model a second time as imported (no graph
// fusion, no GEMM epilogues or attention views, one rank, the CPU target),
// then runs both packages on the same seeded random inputs
// (tessera/runtime/Verify.h) and reports the largest difference per output,
// failing above the tolerance. Integer inputs that index a table (token
// ids) are drawn below the table's size.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_VERIFY_H
#define TESSERA_COMPILER_VERIFY_H

#include "compiler/CompileOptions.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

/// For each integer input of `module`'s @main that reaches a tsr.gather's
/// indices (through reshapes, casts and broadcasts), the smallest table size
/// it indexes.
std::map<std::string, int64_t> integerInputBounds(mlir::ModuleOp module);

/// Compiles the reference beside `compiledPath`, runs both, prints one line
/// per output to stderr; returns tessera-compile's exit code (0: every
/// output within `rtol`/`atol`, 1: a difference or an error).
/// The reference is `compiled`'s options as imported (referenceOptions);
/// the tolerances are its --verify-rtol/--verify-atol.
int verifyAgainstReference(const CompileOptions &compiled, const std::string &compiledPath,
                           const std::map<std::string, int64_t> &bounds);

/// The same for a --generate package: the reference is the forward pass
/// over `batch` x `maxSeq` tokens; random prompts of that length read step
/// by step through the decode step (rt::verifyGeneration).
int verifyGenerationAgainstReference(const CompileOptions &compiled,
                                     const std::string &compiledPath,
                                     const std::map<std::string, int64_t> &bounds,
                                     int64_t batch, int64_t maxSeq);

} // namespace tessera

#endif // TESSERA_COMPILER_VERIFY_H
