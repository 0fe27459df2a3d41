//===- TsrAttrNames.h - the discardable attributes passes exchange -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Every discardable attribute one pass writes and another (or the driver)
// reads, named once. The values are what the IR prints; lit tests match them.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSRATTRNAMES_H
#define TESSERA_DIALECTS_TSR_IR_TSRATTRNAMES_H

#include "llvm/ADT/StringRef.h"

namespace mlir::tsr {

// Function arguments and results.
/// The graph input's or output's name (arguments and results).
inline constexpr llvm::StringLiteral kNameAttr("tsr.name");
/// A result that is the new value of the named weight (training, KV caches).
inline constexpr llvm::StringLiteral kUpdatesAttr("tsr.updates");
/// A result that is the gradient of the named weight.
inline constexpr llvm::StringLiteral kGradOfAttr("tsr.grad_of");
/// A result every data-parallel replica holds whole (a loss, a weight).
inline constexpr llvm::StringLiteral kReplicatedAttr("tsr.replicated");
/// A batch-sized constant held in the package, block after block.
inline constexpr llvm::StringLiteral kHeldAttr("tsr.held");

// Functions.
/// The layouts tsr-partition-search chose, per op, and the plan per function.
inline constexpr llvm::StringLiteral kShardingAttr("tsr.sharding");
inline constexpr llvm::StringLiteral kPlanAttr("tsr.plan");
/// The pipeline stage of a function, a training segment's runtime role, and
/// the stage's predicted compute and send seconds.
inline constexpr llvm::StringLiteral kStageAttr("tsr.stage");
inline constexpr llvm::StringLiteral kSegmentAttr("tsr.segment");
inline constexpr llvm::StringLiteral kStageSecondsAttr("tsr.stage_seconds");
inline constexpr llvm::StringLiteral kSendSecondsAttr("tsr.send_seconds");

// Modules.
/// The mesh and schedule the module is planned for (#tsr.mesh_plan).
inline constexpr llvm::StringLiteral kMeshPlanAttr("tsr.mesh_plan");
/// The cluster the module is planned for (its JSON form, tsr-partition-plan-mesh
/// writes it; the cost model of every later pass reads it).
inline constexpr llvm::StringLiteral kClusterAttr("tsr.cluster");
/// The number of pipeline stages a cut module holds.
inline constexpr llvm::StringLiteral kPipelineStagesAttr("tsr.pp");
/// The decode step's inputs and outputs (tsr-generate-decode).
inline constexpr llvm::StringLiteral kGenerateAttr("tsr.generate");
/// A rank module's tensor-parallel index (tsr-partition-ranks gives it,
/// tsr-partition-spmd writes that index's program) and data-parallel
/// replica (ZeRO's blocks).
inline constexpr llvm::StringLiteral kTpRankAttr("tsr.tp_rank");
inline constexpr llvm::StringLiteral kReplicaAttr("tsr.replica");

} // namespace mlir::tsr

#endif // TESSERA_DIALECTS_TSR_IR_TSRATTRNAMES_H
