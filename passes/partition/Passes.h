//===- Passes.h - the partitioning passes -----------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_PASSES_H
#define TESSERA_PASSES_PARTITION_PASSES_H

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace tessera {
struct MeshPlanReport;
} // namespace tessera

namespace tessera::partition {

#define GEN_PASS_DECL
#include "passes/partition/Passes.h.inc"

/// tsr-partition-plan-mesh that also fills `report` (the driver's summary
/// and package prediction); `report` may be null.
std::unique_ptr<mlir::Pass> createPlanMeshPass(const PlanMeshPassOptions &options,
                                               MeshPlanReport *report);

#define GEN_PASS_REGISTRATION
#include "passes/partition/Passes.h.inc"

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_PASSES_H
