//===- TsrShardingInterface.h - upstream ShardingInterface models -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSRSHARDINGINTERFACE_H
#define TESSERA_DIALECTS_TSR_IR_TSRSHARDINGINTERFACE_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::tsr {

/// Attaches upstream `shard::ShardingInterface` models to the tsr ops that
/// are loops over their result (elementwise ops, broadcasting binary ops,
/// compare/select/cast, and matmul with its contraction as a sum-reduction
/// loop), so that `sharding-propagation` and `shard-partition` work on tsr
/// graphs annotated by hand with `shard.shard`.
void registerShardingInterfaceModels(DialectRegistry &registry);

} // namespace mlir::tsr

#endif // TESSERA_DIALECTS_TSR_IR_TSRSHARDINGINTERFACE_H
