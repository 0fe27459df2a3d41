//===- Registration.h - everything tessera tools register -------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_REGISTRATION_H
#define TESSERA_COMPILER_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace tessera {

/// Adds the tsr dialect and the upstream dialects Tessera IR uses (func,
/// arith, tensor, shard) with their sharding extensions.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers Tessera's passes and pipelines and the upstream ones tools
/// expose (canonicalize, cse, the shard passes).
void registerAllPasses();

} // namespace tessera

#endif // TESSERA_COMPILER_REGISTRATION_H
