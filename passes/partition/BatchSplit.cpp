//===- BatchSplit.cpp - data parallelism as a split of the batch ----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/BatchSplit.h"
#include "dialects/tsr/IR/TsrAttrNames.h"
#include "passes/partition/ShardingRules.h"

#include "dialects/tsr/IR/ShapeUtils.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace tessera::partition;

namespace {

ArrayRef<int64_t> shapeOf(Value v) { return mlir::tsr::valueShape(v); }

std::string str(Type type) { return mlir::tsr::typeString(type); }

/// The operand dimension that result dimension `d` of a broadcasting op
/// reads, or -1 when the operand is broadcast along it (absent or size 1).
int64_t alignedDim(Value operand, int64_t resultRank, int64_t d) {
  ArrayRef<int64_t> shape = shapeOf(operand);
  int64_t od = d - (resultRank - int64_t(shape.size()));
  return od < 0 || shape[size_t(od)] == 1 ? -1 : od;
}

bool isBroadcasting(Operation *op) {
  return op->hasTrait<OpTrait::Elementwise>() ||
         op->hasTrait<OpTrait::ResultsBroadcastableShape>() || isa<tsr::CastOp>(op);
}

class BatchSplitter {
public:
  BatchSplitter(func::FuncOp func, int64_t parts, bool reduceOverBatch)
      : func(func), parts(parts), reduceOverBatch(reduceOverBatch) {}

  LogicalResult run();

private:
  func::FuncOp func;
  int64_t parts;
  bool reduceOverBatch;
  OpBuilder *b = nullptr;
  /// Old value -> its layout (replicated or split along a dimension).
  llvm::DenseMap<Value, Layout> layout;
  /// Old value -> the new value holding all of it (replicated values) or
  /// this replica's block (split values).
  IRMapping mapping;
  /// (old value, dimension) -> the new value holding its local block, for
  /// replicated values whose blocks along the dimension are all equal.
  llvm::DenseMap<std::pair<Value, int64_t>, Value> uniformSlices;
  llvm::DenseMap<std::pair<Value, int64_t>, bool> uniformMemo;

  RankedTensorType local(Value old, Layout l) const {
    return localType(cast<RankedTensorType>(old.getType()), l, parts);
  }
  bool isUniform(Value old, int64_t d);
  const Strategy *pickStrategy(Operation &op, const std::vector<Strategy> &list, bool partial);
  SmallVector<Attribute> blocksOf(DenseElementsAttr value, int64_t d) const;
  std::optional<DenseElementsAttr> uniformBlock(DenseElementsAttr value, int64_t d) const;
  Value buildUniformSlice(Value old, int64_t d);
  Value cloneWithLayouts(Operation &op, const Strategy &s);
  bool splitBlockLocalGather(tsr::GatherOp gather);
  std::optional<Strategy> heldStrategy(Operation *def, int64_t d);
  bool canHold(Value old, int64_t d);
  Value buildHeldSlice(Value old, int64_t d);
  Value holdConstant(tsr::ConstantOp constant, int64_t d);
  void chunkDropout(tsr::DropoutOp dropout, int64_t d);
  /// Each replica's (and micro-batch's) chunk index, a held input.
  Value chunkIndex;

  /// Replicated values whose blocks differ (batch-sized constants: a folded
  /// mask, positions expanded to the batch) that a replica needs split:
  /// their constant leaves become inputs the package holds whole, each
  /// replica (and micro-batch) given its own block, as the graph's inputs.
  llvm::DenseMap<std::pair<Value, int64_t>, bool> holdMemo;
  llvm::DenseMap<std::pair<Value, int64_t>, Value> heldSlices;
  SmallVector<DictionaryAttr> heldArgAttrs;
  Block *entry = nullptr;
};

/// The elements of `value` block after block along `d`: block p (of
/// `parts`) is elements [p * n / parts, (p + 1) * n / parts) of `d`.
SmallVector<Attribute> BatchSplitter::blocksOf(DenseElementsAttr value, int64_t d) const {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(value.getType()).getShape();
  int64_t outer = 1, inner = 1, n = shape[size_t(d)], block = n / parts;
  for (int64_t i = 0; i < d; ++i)
    outer *= shape[size_t(i)];
  for (int64_t i = d + 1; i < int64_t(shape.size()); ++i)
    inner *= shape[size_t(i)];
  SmallVector<Attribute> all(value.getValues<Attribute>());
  SmallVector<Attribute> arranged;
  arranged.reserve(all.size());
  for (int64_t p = 0; p < parts; ++p)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < block; ++i)
        for (int64_t k = 0; k < inner; ++k)
          arranged.push_back(all[size_t((o * n + p * block + i) * inner + k)]);
  return arranged;
}

/// The block of a constant along `d` when all `parts` blocks are equal.
std::optional<DenseElementsAttr> BatchSplitter::uniformBlock(DenseElementsAttr value,
                                                             int64_t d) const {
  auto localTy = localType(cast<RankedTensorType>(value.getType()), Layout(d), parts);
  if (value.isSplat())
    return value.resizeSplat(localTy);
  SmallVector<Attribute> arranged = blocksOf(value, d);
  ArrayRef<Attribute> first = ArrayRef<Attribute>(arranged).take_front(arranged.size() / parts);
  for (int64_t p = 1; p < parts; ++p)
    if (ArrayRef<Attribute>(arranged).slice(size_t(p) * first.size(), first.size()) != first)
      return std::nullopt;
  return DenseElementsAttr::get(localTy, first);
}

/// Whether every block of `old` along `d` is the same, so that any replica
/// may use block 0: constants with equal blocks, broadcasts along `d`, and
/// elementwise ops of such values.
/// Of the strategies with (or without) a partial result, the one that keeps
/// every split operand as it is, slicing the fewest batch-sized replicated
/// operands (which must be uniform); null when none does.
const Strategy *BatchSplitter::pickStrategy(Operation &op, const std::vector<Strategy> &list,
                                            bool partial) {
  const Strategy *best = nullptr;
  int bestSlices = 0;
  for (const Strategy &s : list) {
    if (llvm::is_contained(s.results, kPartial) != partial ||
        llvm::is_contained(s.results, kPartialMax))
      continue; // (a maximum over replicas is not a sum over them)
    int slices = 0;
    bool ok = true;
    for (auto [j, v] : llvm::enumerate(op.getOperands())) {
      Layout have = layout.lookup(v), want = s.operands[j];
      if (have == want)
        continue;
      if (have == kReplicated && want >= 0 && isUniform(v, want)) {
        ++slices;
        continue;
      }
      if (have == kReplicated && want >= 0 && canHold(v, want)) {
        slices += 1000; // a held input: only where no other strategy works
        continue;
      }
      ok = false;
      break;
    }
    if (ok && (!best || slices < bestSlices)) {
      best = &s;
      bestSlices = slices;
    }
  }
  return best;
}

bool BatchSplitter::isUniform(Value old, int64_t d) {
  if (layout.lookup(old) != kReplicated)
    return false;
  auto key = std::make_pair(old, d);
  if (auto it = uniformMemo.find(key); it != uniformMemo.end())
    return it->second;
  bool uniform = false;
  Operation *def = old.getDefiningOp();
  if (!def) {
    uniform = false;
  } else if (auto w = dyn_cast<tsr::WeightOp>(def); w && w.getZeros()) {
    // State that starts as zeros (a KV cache): each replica keeps its own
    // block of the batch.
    uniform = !w.getOffsets();
  } else if (auto c = dyn_cast<tsr::ConstantOp>(def)) {
    auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
    uniform = dense && uniformBlock(dense, d).has_value();
  } else if (auto bc = dyn_cast<tsr::BroadcastOp>(def)) {
    int64_t od = alignedDim(bc.getInput(), int64_t(shapeOf(old).size()), d);
    uniform = od < 0 || isUniform(bc.getInput(), od);
  } else if (isBroadcasting(def) && def->getNumResults() == 1) {
    uniform = llvm::all_of(def->getOperands(), [&](Value v) {
      int64_t od = alignedDim(v, int64_t(shapeOf(old).size()), d);
      return od < 0 || isUniform(v, od);
    });
  }
  uniformMemo[key] = uniform;
  return uniform;
}

Value BatchSplitter::buildUniformSlice(Value old, int64_t d) {
  auto key = std::make_pair(old, d);
  if (Value v = uniformSlices.lookup(key))
    return v;
  Operation *def = old.getDefiningOp();
  Value result;
  if (auto w = dyn_cast<tsr::WeightOp>(def); w && w.getZeros()) {
    result = tsr::WeightOp::create(*b, w.getLoc(), local(old, Layout(d)), w.getNameAttr(),
                                   nullptr, w.getZerosAttr());
  } else if (auto c = dyn_cast<tsr::ConstantOp>(def)) {
    DenseElementsAttr block = *uniformBlock(cast<DenseElementsAttr>(c.getValue()), d);
    result = tsr::ConstantOp::create(*b, c.getLoc(), block.getType(), block);
  } else {
    int64_t rank = int64_t(shapeOf(old).size());
    IRMapping operands;
    for (Value v : def->getOperands()) {
      int64_t od = alignedDim(v, rank, d);
      operands.map(v, od < 0 ? mapping.lookup(v) : buildUniformSlice(v, od));
    }
    Operation *created = b->clone(*def, operands);
    created->getResult(0).setType(local(old, Layout(d)));
    result = created->getResult(0);
  }
  uniformSlices[key] = result;
  return result;
}

Value BatchSplitter::cloneWithLayouts(Operation &op, const Strategy &s) {
  IRMapping operands;
  for (auto [j, v] : llvm::enumerate(op.getOperands())) {
    Layout have = layout.lookup(v), want = s.operands[j];
    operands.map(v, have == want           ? mapping.lookup(v)
                    : isUniform(v, want) ? buildUniformSlice(v, want)
                                         : buildHeldSlice(v, want));
  }
  Operation *created = b->clone(op, operands);
  for (auto [i, result] : llvm::enumerate(created->getResults()))
    result.setType(local(op.getResult(unsigned(i)), s.results[i]));
  coverSplitSlice(created, s.results.empty() ? kReplicated : s.results[0]);
  if (auto dropout = dyn_cast<tsr::DropoutOp>(created); dropout && s.results[0] >= 0)
    chunkDropout(dropout, s.results[0]);
  for (auto [i, result] : llvm::enumerate(op.getResults())) {
    layout[result] = s.results[i];
    mapping.map(result, created->getResult(unsigned(i)));
  }
  return created->getResult(0);
}

/// The strategy computing `def`'s (single) result split along `d` from
/// operands that are whole or can be held split; null when none does.
std::optional<Strategy> BatchSplitter::heldStrategy(Operation *def, int64_t d) {
  if (def->getNumResults() != 1 || isa<tsr::WeightOp>(def))
    return std::nullopt;
  std::vector<Strategy> strategies = strategiesFor(def, RuleOptions{parts, false});
  for (const Strategy &s : strategies) {
    if (s.results.size() != 1 || s.results[0] != d)
      continue;
    bool ok = true;
    for (auto [j, v] : llvm::enumerate(def->getOperands())) {
      Layout want = s.operands[j];
      if (want == kPartial || want == kPartialMax ||
          (want >= 0 && !isUniform(v, want) && !canHold(v, want))) {
        ok = false;
        break;
      }
    }
    if (ok)
      return s;
  }
  return std::nullopt;
}

/// Whether each replica can be given its own block of the whole (replicated)
/// value `old` along `d`: a constant becomes an input the package holds,
/// and ops computed from such values are computed on the replica's block.
bool BatchSplitter::canHold(Value old, int64_t d) {
  if (layout.lookup(old) != kReplicated)
    return false;
  auto key = std::make_pair(old, d);
  if (auto it = holdMemo.find(key); it != holdMemo.end())
    return it->second;
  holdMemo[key] = false; // (no cycles in SSA; guards the recursion)
  bool ok = false;
  if (Operation *def = old.getDefiningOp()) {
    if (auto c = dyn_cast<tsr::ConstantOp>(def))
      ok = isa<DenseElementsAttr>(c.getValue());
    else
      ok = heldStrategy(def, d).has_value();
  }
  holdMemo[key] = ok;
  return ok;
}

/// A new graph input holding, for each of the `parts` replicas and
/// micro-batches in turn, its block of `constant` along `d`: the input is
/// [parts, block...] whole, [1, block...] on a replica, reshaped to the block.
Value BatchSplitter::holdConstant(tsr::ConstantOp constant, int64_t d) {
  auto dense = cast<DenseElementsAttr>(constant.getValue());
  RankedTensorType blockType =
      localType(cast<RankedTensorType>(dense.getType()), Layout(d), parts);
  SmallVector<Attribute> arranged = blocksOf(dense, d);
  SmallVector<int64_t> wholeShape{parts}, localShape{1};
  wholeShape.append(blockType.getShape().begin(), blockType.getShape().end());
  localShape.append(blockType.getShape().begin(), blockType.getShape().end());
  auto wholeType = blockType.clone(wholeShape);
  MLIRContext *context = func.getContext();
  std::string name = "held:" + std::to_string(heldArgAttrs.size());
  if (auto loc = dyn_cast<NameLoc>(constant.getLoc()))
    name += ":" + loc.getName().str();
  heldArgAttrs.push_back(DictionaryAttr::get(
      context, {NamedAttribute(StringAttr::get(context, mlir::tsr::kNameAttr), StringAttr::get(context, name)),
                NamedAttribute(StringAttr::get(context, mlir::tsr::kHeldAttr),
                               DenseElementsAttr::get(wholeType, arranged))}));
  Value arg = entry->addArgument(blockType.clone(localShape), constant.getLoc());
  return tsr::ReshapeOp::create(*b, constant.getLoc(), blockType, arg);
}

/// A dropout computing this replica's block of its input along `d`: its
/// block starts `chunk * block` along `d` in the whole tensor, the chunk index
/// given to each replica and micro-batch as a held input (0, 1, .. parts-1).
void BatchSplitter::chunkDropout(tsr::DropoutOp dropout, int64_t d) {
  if (!chunkIndex) {
    OpBuilder::InsertionGuard guard(*b);
    b->setInsertionPoint(dropout);
    auto type = RankedTensorType::get({parts}, b->getI64Type());
    SmallVector<int64_t> range;
    for (int64_t p = 0; p < parts; ++p)
      range.push_back(p);
    auto all = tsr::ConstantOp::create(*b, dropout.getLoc(), type,
                                       DenseElementsAttr::get(type, ArrayRef<int64_t>(range)));
    chunkIndex = holdConstant(all, 0);
  }
  dropout->insertOperands(dropout->getNumOperands(), chunkIndex);
  dropout.setChunkDim(d);
  dropout.setChunkStride(shapeOf(dropout.getResult())[size_t(d)]);
}

Value BatchSplitter::buildHeldSlice(Value old, int64_t d) {
  auto key = std::make_pair(old, d);
  if (Value v = heldSlices.lookup(key))
    return v;
  Value result;
  Operation *def = old.getDefiningOp();
  if (isUniform(old, d)) {
    result = buildUniformSlice(old, d);
  } else if (auto c = dyn_cast<tsr::ConstantOp>(def)) {
    result = holdConstant(c, d);
  } else {
    std::optional<Strategy> chosen = heldStrategy(def, d);
    assert(chosen && "buildHeldSlice without canHold");
    IRMapping operands;
    for (auto [j, v] : llvm::enumerate(def->getOperands())) {
      Layout want = chosen->operands[j];
      operands.map(v, want < 0 ? mapping.lookup(v) : buildHeldSlice(v, want));
    }
    Operation *created = b->clone(*def, operands);
    created->getResult(0).setType(local(old, Layout(d)));
    result = created->getResult(0);
  }
  heldSlices[key] = result;
  return result;
}

/// A gather along the split dimension of its data with constant indices
/// where block p of the indices (along some index dimension) picks from block
/// p of the data, the same positions in every block: how static-shape
/// exports index a flattened [batch x seq] tensor (GatherND with constant
/// indices). Each replica gathers from its own block with block 0's indices.
bool BatchSplitter::splitBlockLocalGather(tsr::GatherOp gather) {
  Value data = gather.getInput();
  ArrayRef<int64_t> dataShape = shapeOf(data);
  int64_t axis = gather.getAxis();
  if (axis < 0)
    axis += int64_t(dataShape.size());
  if (layout.lookup(data) != Layout(axis) || layout.lookup(gather.getIndices()) != kReplicated ||
      gather.getRowOffset())
    return false;
  auto constant = gather.getIndices().getDefiningOp<tsr::ConstantOp>();
  auto dense = constant ? dyn_cast<DenseIntElementsAttr>(constant.getValue()) : nullptr;
  if (!dense)
    return false;
  ArrayRef<int64_t> idx = shapeOf(gather.getIndices());
  int64_t block = dataShape[size_t(axis)] / parts;
  SmallVector<int64_t> values;
  for (const APInt &v : dense.getValues<APInt>())
    values.push_back(v.getSExtValue());
  for (int64_t j = 0; j < int64_t(idx.size()); ++j) {
    if (idx[size_t(j)] < parts || idx[size_t(j)] % parts)
      continue;
    int64_t outer = 1, inner = 1, n = idx[size_t(j)], rows = n / parts;
    for (int64_t i = 0; i < j; ++i)
      outer *= idx[size_t(i)];
    for (int64_t i = j + 1; i < int64_t(idx.size()); ++i)
      inner *= idx[size_t(i)];
    bool aligned = true;
    SmallVector<int64_t> kept;
    for (int64_t o = 0; o < outer && aligned; ++o)
      for (int64_t r = 0; r < rows && aligned; ++r)
        for (int64_t k = 0; k < inner && aligned; ++k) {
          int64_t first = values[size_t((o * n + r) * inner + k)];
          aligned = first >= 0 && first < block;
          for (int64_t p = 1; p < parts && aligned; ++p)
            aligned = values[size_t((o * n + p * rows + r) * inner + k)] == first + p * block;
          kept.push_back(first);
        }
    if (!aligned)
      continue;
    auto indexType = localType(cast<RankedTensorType>(gather.getIndices().getType()), Layout(j),
                               parts);
    SmallVector<APInt> bits;
    unsigned width = indexType.getElementType().getIntOrFloatBitWidth();
    for (int64_t v : kept)
      bits.push_back(APInt(width, uint64_t(v), /*isSigned=*/true));
    Value indices = tsr::ConstantOp::create(*b, constant.getLoc(), indexType,
                                            DenseElementsAttr::get(indexType, bits));
    IRMapping operands;
    operands.map(data, mapping.lookup(data));
    operands.map(gather.getIndices(), indices);
    Operation *created = b->clone(*gather, operands);
    Layout out = Layout(axis + j);
    created->getResult(0).setType(local(gather.getResult(), out));
    layout[gather.getResult()] = out;
    mapping.map(gather.getResult(), created->getResult(0));
    return true;
  }
  return false;
}

LogicalResult BatchSplitter::run() {
  if (parts < 1)
    return func.emitError("the batch cannot be split ") << parts << " ways";
  // One part of a training step still marks its sums over the batch (a
  // pipeline accumulates them over micro-batches).
  if (parts == 1 && !reduceOverBatch)
    return success();
  Block &body = func.getBody().front();
  auto nameOf = [&](unsigned i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr);
    return name ? name.str() : "#" + std::to_string(i);
  };
  SmallVector<Type> argTypes;
  for (BlockArgument arg : body.getArguments()) {
    auto type = cast<RankedTensorType>(arg.getType());
    if (type.getRank() == 0 || type.getShape()[0] < parts || type.getShape()[0] % parts)
      return func.emitError("input '")
             << nameOf(arg.getArgNumber()) << "' " << str(type) << " does not split " << parts
             << " ways along its first dimension (the batch)";
    layout[arg] = Layout(0);
    argTypes.push_back(localType(type, Layout(0), parts));
  }

  // The new body is built in a block of its own, then swapped in.
  entry = new Block();
  for (auto [arg, type] : llvm::zip(body.getArguments(), argTypes))
    mapping.map(arg, entry->addArgument(type, arg.getLoc()));
  OpBuilder builder(func.getContext());
  builder.setInsertionPointToEnd(entry);
  b = &builder;
  auto fail = [&]() {
    entry->dropAllDefinedValueUses();
    delete entry;
    return failure();
  };

  RuleOptions rules{parts, /*splitWeights=*/false};
  for (Operation &op : body.without_terminator()) {
    if (op.getNumOperands() == 0 || op.getNumResults() == 0 ||
        llvm::all_of(op.getOperands(), [&](Value v) { return layout.lookup(v) == kReplicated; })) {
      // Batch-independent: weights, constants and what is computed from
      // them alone stay whole.
      Operation *created = builder.clone(op, mapping);
      for (auto [result, made] : llvm::zip(op.getResults(), created->getResults())) {
        layout[result] = kReplicated;
        mapping.map(result, made);
      }
      continue;
    }
    // Partial results (a reduction over the batch) only when nothing keeps
    // the split, and only for replicas (reduceOverBatch).
    std::vector<Strategy> list = strategiesFor(&op, rules);
    const Strategy *best = pickStrategy(op, list, /*partial=*/false);
    if (!best && reduceOverBatch)
      best = pickStrategy(op, list, /*partial=*/true);
    if (!best) {
      if (auto gather = dyn_cast<tsr::GatherOp>(op); gather && splitBlockLocalGather(gather))
        continue;
      // What blocks: a whole (replicated) operand that a strategy keeping the
      // split operands as they are would need split, but whose blocks differ
      // (a batch-sized constant: a folded mask, positions expanded to the
      // batch) - each replica would need its own slice.
      std::string blocking;
      for (const Strategy &st : list) {
        bool keeps = true;
        for (auto [j, v] : llvm::enumerate(op.getOperands()))
          if (Layout have = layout.lookup(v); have >= 0 && st.operands[j] != have)
            keeps = false;
        if (!keeps)
          continue;
        for (auto [j, v] : llvm::enumerate(op.getOperands()))
          if (layout.lookup(v) == kReplicated && st.operands[j] >= 0 &&
              !isUniform(v, st.operands[j]) && !canHold(v, st.operands[j])) {
            blocking = "operand #" + std::to_string(j) + " " + str(v.getType()) +
                       " is the same whole tensor on every replica but differs between its " +
                       std::to_string(parts) + " blocks along dimension " +
                       std::to_string(st.operands[j]) +
                       ", and it is not computed from constants by ops that work block by "
                       "block (each replica would need its own slice of it)";
            break;
          }
        if (!blocking.empty())
          break;
      }
      InFlightDiagnostic diag = op.emitError("'")
                                << op.getName() << "' mixes the samples of the batch: ";
      if (!blocking.empty()) {
        diag << blocking;
      } else {
        for (auto [j, v] : llvm::enumerate(op.getOperands()))
          if (Layout l = layout.lookup(v); l >= 0) {
            diag << "operand #" << j << " " << str(v.getType()) << " is split " << parts
                 << " ways along dimension " << l
                 << " (the batch), and no rule computes the op on that split";
            break;
          }
      }
      diag << "; data parallelism and micro-batches need every op to work sample by "
              "sample";
      return fail();
    }
    bool partial = llvm::is_contained(best->results, kPartial);
    cloneWithLayouts(op, *best);
    if (partial) {
      // Each replica holds its part of the sum: add them up.
      for (Value result : op.getResults()) {
        if (layout.lookup(result) != kPartial)
          continue;
        Value sum = tsr::ReplicaSumOp::create(builder, op.getLoc(), mapping.lookup(result));
        layout[result] = kReplicated;
        mapping.map(result, sum);
      }
    }
  }

  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    Layout l = layout.lookup(v);
    auto type = cast<RankedTensorType>(v.getType());
    bool splittable = type.getRank() > 0 && type.getShape()[0] >= parts &&
                      type.getShape()[0] % parts == 0;
    if (l == Layout(0)) {
      results.push_back(mapping.lookup(v));
    } else if (l == kReplicated && splittable && isUniform(v, 0)) {
      results.push_back(buildUniformSlice(v, 0));
    } else if (l == kReplicated && reduceOverBatch) {
      // The same on every replica (a loss, an updated weight): whole.
      results.push_back(mapping.lookup(v));
      func.setResultAttr(unsigned(i), mlir::tsr::kReplicatedAttr, UnitAttr::get(func.getContext()));
    } else {
      ret.emitError("result #")
          << i << " " << str(type)
          << " is not the concatenation of the replicas' results along its first dimension"
          << (l >= 0 ? " (the batch reaches it along dimension " + std::to_string(l) + ")"
                     : std::string(" (it does not follow the batch)"));
      return fail();
    }
    resultTypes.push_back(results.back().getType());
  }
  func::ReturnOp::create(builder, ret.getLoc(), results);

  // Swap the bodies, then retype the function.
  body.dropAllDefinedValueUses();
  func.getBody().push_back(entry);
  body.erase();
  // Held inputs come after the graph's own, with their attributes.
  unsigned given = unsigned(argTypes.size());
  for (BlockArgument arg : entry->getArguments().drop_front(given))
    argTypes.push_back(arg.getType());
  func.setType(FunctionType::get(func.getContext(), argTypes, resultTypes));
  if (!heldArgAttrs.empty()) {
    SmallVector<Attribute> argAttrs;
    for (unsigned i = 0; i < given; ++i)
      argAttrs.push_back(func.getArgAttrDict(i) ? Attribute(func.getArgAttrDict(i))
                                                 : DictionaryAttr::get(func.getContext()));
    argAttrs.append(heldArgAttrs.begin(), heldArgAttrs.end());
    func.setAllArgAttrs(argAttrs);
  }
  return success();
}

} // namespace

LogicalResult tessera::partition::splitBatch(func::FuncOp func, int64_t parts,
                                             bool reduceOverBatch) {
  return BatchSplitter(func, parts, reduceOverBatch).run();
}
