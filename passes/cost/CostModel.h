//===- CostModel.h - predicted time of ops and collectives ------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The analytical model the partitioner searches with:
//   - compute: roofline, max(FLOPs / (peak * achievable), bytes / bandwidth);
//   - collectives: alpha-beta over rings, with the bus-bandwidth factors of
//     nccl-tests (all-reduce moves 2(n-1)/n of the data per device,
//     all-gather / reduce-scatter / all-to-all (n-1)/n, send/recv 1), on the
//     intra-node link when the group fits in a node, else the inter-node one.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_COST_COSTMODEL_H
#define TESSERA_PASSES_COST_COSTMODEL_H

#include "passes/cost/ClusterSpec.h"

#include <string>

namespace mlir {
class Operation;
class Value;
} // namespace mlir

namespace tessera {

enum class Collective { AllReduce, AllGather, ReduceScatter, AllToAll, SendRecv };

/// Work of one op: floating-point operations and bytes moved to and from
/// memory (operands read once, results written once).
struct OpWork {
  double flops = 0;
  double bytes = 0;
};

/// Bytes of a ranked tensor value (i1 counts one byte per element).
double bytesOf(mlir::Value v);

/// The element type an op computes in, as the cluster spec names peaks:
/// "bf16", "f16", else "f32".
std::string computeTypeOf(mlir::Operation *op);

/// FLOPs and bytes of a tsr op (2MNK for matmul, 4BHSTD for attention, a few
/// per element for elementwise ops and norms; views cost nothing).
OpWork workOf(mlir::Operation *op);

class CostModel {
public:
  explicit CostModel(ClusterSpec spec) : spec_(std::move(spec)) {}
  const ClusterSpec &cluster() const { return spec_; }

  /// Seconds for `work` on one device computing in `dtype`.
  double computeSeconds(const OpWork &work, const std::string &dtype = "f32") const;
  /// Seconds for a collective of `bytes` (per device's full buffer) among
  /// `group` devices; `acrossNodes` when the group spans nodes.
  double collectiveSeconds(Collective kind, double bytes, int group,
                           bool acrossNodes) const;
  /// The bus bandwidth factor nccl-tests uses for `kind` over `group` ranks.
  static double busFactor(Collective kind, int group);

private:
  ClusterSpec spec_;
};

} // namespace tessera

#endif // TESSERA_PASSES_COST_COSTMODEL_H
