//===- TsrShardingInterface.cpp - upstream ShardingInterface models -------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Upstream's interface describes an op as a loop nest: one iterator per
// result dimension (plus reductions) and an affine map per operand. That
// fits elementwise ops and matmul; the fused transformer ops (attention over
// grouped heads, rotary, norms whose normalised axes are neither parallel nor
// plain reductions) do not fit it, and Tessera's own search
// (passes/partition) partitions every op. These models let hand-annotated
// tsr graphs go through `sharding-propagation` and `shard-partition`.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/TsrShardingInterface.h"
#include "dialects/tsr/IR/TsrDialect.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Shard/Interfaces/ShardingInterface.h"
#include "mlir/Dialect/Shard/Interfaces/ShardingInterfaceImpl.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::shard;

namespace {

/// The map of an operand of shape `shape` broadcasting (NumPy rules) into
/// a loop nest over `resultShape`: trailing dimensions aligned, broadcast
/// ones (size 1 against more) read at 0.
AffineMap broadcastMap(ArrayRef<int64_t> shape, ArrayRef<int64_t> resultShape,
                       unsigned loops, MLIRContext *ctx) {
  SmallVector<AffineExpr> exprs;
  int64_t offset = int64_t(resultShape.size()) - int64_t(shape.size());
  for (auto [i, n] : llvm::enumerate(shape)) {
    int64_t d = int64_t(i) + offset;
    exprs.push_back(n == 1 && resultShape[size_t(d)] != 1
                        ? getAffineConstantExpr(0, ctx)
                        : getAffineDimExpr(unsigned(d), ctx));
  }
  return AffineMap::get(loops, 0, exprs, ctx);
}

template <typename Op>
struct ElementwiseModel
    : public ShardingInterface::ExternalModel<ElementwiseModel<Op>, Op> {
  SmallVector<utils::IteratorType> getLoopIteratorTypes(Operation *op) const {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    return SmallVector<utils::IteratorType>(type.getRank(),
                                            utils::IteratorType::parallel);
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    auto result = cast<RankedTensorType>(op->getResult(0).getType());
    unsigned loops = unsigned(result.getRank());
    SmallVector<AffineMap> maps;
    for (Type t : op->getOperandTypes())
      maps.push_back(broadcastMap(cast<RankedTensorType>(t).getShape(),
                                  result.getShape(), loops, op->getContext()));
    maps.push_back(AffineMap::getMultiDimIdentityMap(loops, op->getContext()));
    return maps;
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings, IRMapping &map,
                          SymbolTableCollection &symbols, OpBuilder &builder) const {
    partitionTriviallyShardableOperation(*op, operands, operandShardings,
                                         resultShardings, map, symbols, builder);
    return success();
  }
};

/// `[..., M, K] x [..., K, N]`: a loop per result dimension and a sum over K.
/// A split K gives each rank a partial product; partition adds the
/// all-reduce over the grid axes that split it.
struct MatmulModel : public ShardingInterface::ExternalModel<MatmulModel, tsr::MatmulOp> {
  SmallVector<utils::IteratorType> getLoopIteratorTypes(Operation *op) const {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    SmallVector<utils::IteratorType> types(type.getRank(), utils::IteratorType::parallel);
    types.push_back(utils::IteratorType::reduction);
    return types;
  }
  SmallVector<ReductionKind> getReductionLoopIteratorKinds(Operation *) const {
    return {ReductionKind::Sum};
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    auto mm = cast<tsr::MatmulOp>(op);
    MLIRContext *ctx = op->getContext();
    auto result = cast<RankedTensorType>(mm.getResult().getType());
    unsigned r = unsigned(result.getRank()), loops = r + 1;
    AffineExpr m = getAffineDimExpr(r - 2, ctx), n = getAffineDimExpr(r - 1, ctx),
               k = getAffineDimExpr(r, ctx);
    auto operandMap = [&](Value v, AffineExpr row, AffineExpr col, bool transposed) {
      ArrayRef<int64_t> shape = cast<RankedTensorType>(v.getType()).getShape();
      SmallVector<AffineExpr> exprs;
      int64_t offset = int64_t(r) - int64_t(shape.size());
      for (size_t i = 0; i + 2 < shape.size(); ++i) {
        int64_t d = int64_t(i) + offset;
        exprs.push_back(shape[i] == 1 && result.getShape()[size_t(d)] != 1
                            ? getAffineConstantExpr(0, ctx)
                            : getAffineDimExpr(unsigned(d), ctx));
      }
      exprs.push_back(transposed ? col : row);
      exprs.push_back(transposed ? row : col);
      return AffineMap::get(loops, 0, exprs, ctx);
    };
    SmallVector<AffineExpr> out;
    for (unsigned d = 0; d < r; ++d)
      out.push_back(getAffineDimExpr(d, ctx));
    return {operandMap(mm.getLhs(), m, k, mm.getTransposeLhs()),
            operandMap(mm.getRhs(), k, n, mm.getTransposeRhs()),
            AffineMap::get(loops, 0, out, ctx)};
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings, IRMapping &map,
                          SymbolTableCollection &symbols, OpBuilder &builder) const {
    auto iface = cast<ShardingInterface>(op);
    SmallVector<utils::IteratorType> iterators = iface.getLoopIteratorTypes();
    SmallVector<AffineMap> maps = iface.getIndexingMaps();
    ShardingArray axes = getGridAxisAssignmentForLoopIterators(
        operandShardings, resultShardings, iterators, maps);
    partitionTriviallyShardableOperation(*op, operands, operandShardings,
                                         resultShardings, map, symbols, builder);
    SmallVector<GridAxis> reduced = getReductionGridAxes(iterators, axes);
    if (reduced.empty())
      return success();
    Value partial = map.lookup(op->getResult(0));
    Value sum = AllReduceOp::create(builder, op->getLoc(), partial.getType(),
                                    operandShardings[0].getGrid(), reduced, partial,
                                    ReductionKind::Sum);
    map.map(op->getResult(0), sum);
    return success();
  }
};

template <typename... Ops> void attachElementwise(MLIRContext *ctx) {
  (Ops::template attachInterface<ElementwiseModel<Ops>>(*ctx), ...);
}

} // namespace

void mlir::tsr::registerShardingInterfaceModels(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tsr::TsrDialect *) {
    attachElementwise<NegOp, AbsOp, ReluOp, ExpOp, LogOp, SqrtOp, RsqrtOp,
                      ReciprocalOp, TanhOp, ErfOp, SigmoidOp, SinOp, CosOp, SiluOp,
                      NotOp, GeluOp, AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp,
                      AndOp, OrOp, XorOp, CompareOp, SelectOp, CastOp>(ctx);
    MatmulOp::attachInterface<MatmulModel>(*ctx);
  });
}
