//===- ProgramPlan.h - a rank's program as the runtime sees it --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Lowering turns a tsr function into a ProgramPlan: a list of kernels over
// numbered tensors, where every activation has an offset in one arena
// (static memory planning over liveness), weights and constants are
// references into the package's data section, and reshapes are free views.
// The package writer serialises it; it carries nothing MLIR-specific.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_PROGRAMPLAN_H
#define TESSERA_PASSES_LOWER_PROGRAMPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera::lower {

/// Element types, numbered as the package format numbers them.
enum class ElementType : uint8_t { F32, F16, BF16, F64, I8, I32, I64, Bool };

struct PlannedTensor {
  enum class Kind { Arena, Weight, Constant };
  std::string name;
  ElementType dtype = ElementType::F32;
  std::vector<int64_t> shape;
  Kind kind = Kind::Arena;
  uint64_t offset = 0;              ///< arena offset (Arena)
  uint64_t size = 0;                ///< bytes
  std::string weight;               ///< weight-store name (Weight)
  std::vector<int64_t> blockOffsets; ///< a block of the stored weight (Weight)
  std::vector<uint8_t> bytes;       ///< the data (Constant)
  int32_t aliasOf = -1;             ///< a view of another tensor (reshape)
  int32_t splitAxis = -1;           ///< graph input/output split over ranks
  bool zeros = false;               ///< training state: starts as zeros (Weight)

  /// The number of elements (1 for a scalar).
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

struct PlannedAttr {
  std::string name;
  std::vector<int64_t> ints;
  std::vector<double> floats;
};

struct PlannedKernel {
  std::string op;
  std::vector<uint32_t> inputs, outputs;
  std::vector<PlannedAttr> attrs;
  std::string location;
  double predictedSeconds = 0; ///< the cost model's time, when one was given
};

struct ProgramPlan {
  uint32_t stage = 0; ///< pipeline stage
  /// Generation: "prefill:<length>" for the prompt programs beside the decode
  /// step, which run on rank `prefillRank`; "" for a rank's main program.
  std::string role;
  uint32_t prefillRank = 0;
  double predictedSeconds = 0; ///< the cost model's time of one run
  std::vector<PlannedTensor> tensors;
  std::vector<PlannedKernel> kernels;
  std::vector<uint32_t> inputs, outputs;
  /// Training: (state weight tensor, output tensor written into it after
  /// every run), from results with `tsr.updates`.
  std::vector<std::pair<uint32_t, uint32_t>> stateUpdates;
  /// Training: weights tied to a state tensor (--tie A=B): A's bytes in the
  /// model's files are B's trained values (transposed when set).
  struct TiedWeight {
    std::string weight;
    uint32_t state = 0;
    bool transposed = false;
  };
  std::vector<TiedWeight> tiedWeights;
  /// Inputs the package holds (batch-sized constants split over replicas and
  /// micro-batches): input `input` (an index into `inputs`) takes block k of
  /// constant tensor `data` along its first dimension for chunk k.
  struct HeldInput {
    uint32_t input = 0;
    uint32_t data = 0;
  };
  std::vector<HeldInput> heldInputs;
  uint64_t arenaBytes = 0;      ///< the planned peak
  uint64_t unplannedBytes = 0;  ///< sum of all activations, for comparison
};

/// Static memory planning: gives every arena tensor (not a view) an offset
/// such that tensors alive at the same kernel never overlap (liveness from
/// the first kernel writing a tensor to the last reading it or a view of it;
/// graph inputs and outputs live throughout), and sets arenaBytes. planProgram
/// calls it; plan rewrites call it again.
void planMemory(ProgramPlan &plan);

/// Lowers `func` (tsr ops, and `shard` collectives of partitioned programs)
/// to a plan for mesh rank `rank`, which fixes the ranks each collective
/// runs among. Reports unsupported ops at their location and fails.
/// `costOf`, when given, predicts each op's seconds; a kernel records the sum
/// over the ops it runs.
mlir::FailureOr<ProgramPlan>
planProgram(mlir::func::FuncOp func, int64_t rank = 0,
            std::function<double(mlir::Operation *)> costOf = nullptr);

/// The plan as text (`tessera-compile --emit=plan`): tensors, kernels, the
/// memory plan.
void printPlan(const ProgramPlan &plan, llvm::raw_ostream &os);

} // namespace tessera::lower

#endif // TESSERA_PASSES_LOWER_PROGRAMPLAN_H
