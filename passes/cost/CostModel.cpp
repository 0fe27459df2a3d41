//===- CostModel.cpp - predicted time of ops and collectives --------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/cost/CostModel.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>

using namespace mlir;
using namespace tessera;

namespace {

double elements(Value v) {
  return double(cast<RankedTensorType>(v.getType()).getNumElements());
}

/// Operands read plus results written.
double traffic(Operation *op) {
  double bytes = 0;
  for (Value v : op->getOperands())
    bytes += bytesOf(v);
  for (Value v : op->getResults())
    bytes += bytesOf(v);
  return bytes;
}

} // namespace

double tessera::bytesOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  unsigned bits = type.getElementType().getIntOrFloatBitWidth();
  return double(type.getNumElements()) * double(std::max(8u, bits) / 8);
}

std::string tessera::computeTypeOf(Operation *op) {
  if (op->getNumResults() == 0)
    return "f32";
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!type)
    return "f32";
  Type e = type.getElementType();
  if (e.isBF16())
    return "bf16";
  if (e.isF16())
    return "f16";
  return "f32";
}

OpWork tessera::workOf(Operation *op) {
  OpWork work;
  if (isa<tsr::WeightOp, tsr::ConstantOp, tsr::ReshapeOp>(op))
    return work; // no kernel runs
  work.bytes = traffic(op);
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](tsr::MatmulOp m) {
        auto lhs = cast<RankedTensorType>(m.getLhs().getType());
        int64_t k = m.getTransposeLhs() ? lhs.getShape()[lhs.getRank() - 2]
                                        : lhs.getShape().back();
        work.flops = 2.0 * elements(m.getResult()) * double(k);
      })
      .Case([&](tsr::AttentionOp a) {
        auto q = cast<RankedTensorType>(a.getQuery().getType()).getShape();
        auto k = cast<RankedTensorType>(a.getKey().getType()).getShape();
        auto v = cast<RankedTensorType>(a.getValue().getType()).getShape();
        double scores = double(q[0] * q[1] * q[2] * k[2]);
        work.flops = 2.0 * scores * double(q[3]) + 2.0 * scores * double(v[3]) +
                     5.0 * scores; // QKᵀ, PV, scale + mask + softmax
      })
      .Case<tsr::LayerNormOp, tsr::RmsNormOp, tsr::SoftmaxOp>(
          [&](Operation *o) { work.flops = 8.0 * elements(o->getResult(0)); })
      .Case<tsr::GeluOp, tsr::SiluOp, tsr::RotaryOp, tsr::ErfOp, tsr::TanhOp,
            tsr::ExpOp, tsr::SigmoidOp>(
          [&](Operation *o) { work.flops = 8.0 * elements(o->getResult(0)); })
      .Default([&](Operation *o) {
        for (Value r : o->getResults())
          work.flops += elements(r);
      });
  return work;
}

double CostModel::computeSeconds(const OpWork &work, const std::string &dtype) const {
  const DeviceSpec &d = spec_.device;
  double compute = work.flops / (d.peak(dtype) * d.achievableFraction);
  double memory = work.bytes / d.memoryBandwidth;
  return std::max(compute, memory);
}

double CostModel::busFactor(Collective kind, int group) {
  double n = double(group);
  switch (kind) {
  case Collective::AllReduce: return 2.0 * (n - 1) / n;
  case Collective::AllGather:
  case Collective::ReduceScatter:
  case Collective::AllToAll: return (n - 1) / n;
  case Collective::SendRecv: return 1.0;
  }
  return 1.0;
}

double CostModel::collectiveSeconds(Collective kind, double bytes, int group,
                                    bool acrossNodes) const {
  if (group <= 1 && kind != Collective::SendRecv)
    return 0;
  const LinkSpec &link = acrossNodes ? spec_.interNode : spec_.intraNode;
  // Ring steps: 2(n-1) for all-reduce, n-1 for the others, 1 for send/recv.
  double steps = kind == Collective::SendRecv ? 1
                 : kind == Collective::AllReduce ? 2.0 * (group - 1)
                                                 : double(group - 1);
  return link.launch + steps * link.latency +
         bytes * busFactor(kind, group) / link.bandwidth;
}
