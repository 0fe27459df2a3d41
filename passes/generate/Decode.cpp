//===- Decode.cpp - one decode step with a KV cache -----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The forward pass over `max-seq` positions becomes the step that computes
// one position per sequence. Every value of the full function is either
// *full* (it does not follow the tokens: weights, constants, what is built
// from them and from full-length inputs such as the attention mask) or a
// *row*: it follows the tokens along one of its dimensions, which in the full
// function has `outer x S x inner` elements (the sequence axis of length S,
// possibly merged with others by a reshape) and in the step `outer x inner`.
// The rewrite walks the function once, in order, computing rows as rows,
// reading full values at the current position (tsr.take_rows) where they
// meet a row, and turning attention over the whole sequence into attention
// over a KV cache that each step appends one row to.
//
//===----------------------------------------------------------------------===//

#include "passes/generate/Passes.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "dialects/tsr/IR/ShapeUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/DenseMap.h"

namespace tessera::generate {
#define GEN_PASS_DEF_DECODEPASS
#include "passes/generate/Passes.h.inc"
} // namespace tessera::generate

using namespace mlir;

namespace {

ArrayRef<int64_t> shapeOf(Value v) { return mlir::tsr::valueShape(v); }

std::string str(Type type) { return mlir::tsr::typeString(type); }

/// Where a value follows the tokens: dimension `axis` has `outer x S x
/// inner` elements in the full function and `outer x inner` in the step.
/// axis < 0: a full value.
struct Row {
  int64_t axis = -1;
  int64_t inner = 1;
  bool isRow() const { return axis >= 0; }
  bool operator==(const Row &o) const { return axis == o.axis && inner == o.inner; }
};

class DecodeRewriter {
public:
  DecodeRewriter(func::FuncOp func, StringRef ids, StringRef mask, StringRef positionIds,
                 ArrayRef<std::string> encoderInputs)
      : func(func), idsName(ids), maskName(mask), positionIdsName(positionIds),
        encoderInputs(encoderInputs.begin(), encoderInputs.end()) {}

  LogicalResult run();

private:
  func::FuncOp func;
  std::string idsName, maskName, positionIdsName;
  std::vector<std::string> encoderInputs; ///< full inputs, the same at every step
  int64_t length = 0; ///< S: the positions of the full function (max-seq)
  int64_t batch = 1;  ///< B
  OpBuilder *b = nullptr;
  Value positions;    ///< [B] int64: each sequence's position
  IRMapping mapping;  ///< old value -> new value (the row, or the full value)
  llvm::DenseMap<Value, Row> rows;
  llvm::DenseMap<std::tuple<Value, int64_t, int64_t, int64_t>, Value> taken;
  int attentionCount = 0;
  SmallVector<std::pair<Value, std::string>> cacheResults;

  Row rowOf(Value old) const { return rows.lookup(old); }
  FailureOr<Value> takeRows(Operation *at, Value old, int64_t axis, int64_t inner,
                            int64_t rank);
  Value positionMask(Operation *at, int64_t keys);
  LogicalResult rewrite(Operation &op);
  LogicalResult rewriteAttention(tsr::AttentionOp op);
  LogicalResult finish(Operation &op, Operation *created, ArrayRef<Row> resultRows,
                       ArrayRef<Type> explicitTypes = {});
};

/// The full value `old` read at each sequence's position along dimension
/// `axis` (counted after padding `old` with leading 1s to `rank`).
FailureOr<Value> DecodeRewriter::takeRows(Operation *at, Value old, int64_t axis, int64_t inner,
                                          int64_t rank) {
  auto key = std::make_tuple(old, axis, inner, rank);
  if (Value v = taken.lookup(key))
    return v;
  Value full = mapping.lookup(old);
  auto type = cast<RankedTensorType>(full.getType());
  SmallVector<int64_t> shape(size_t(rank - type.getRank()), 1);
  llvm::append_range(shape, type.getShape());
  if (int64_t(shape.size()) != type.getRank())
    full = tsr::ReshapeOp::create(*b, at->getLoc(), type.clone(shape), full);
  int64_t n = shape[size_t(axis)];
  if (n % (length * inner))
    return at->emitError("generation: operand ")
               << str(old.getType()) << " of '" << at->getName()
               << "' meets the token rows along dimension " << axis
               << " but is not a multiple of the " << length << " positions there",
           failure();
  int64_t outer = n / (length * inner);
  shape[size_t(axis)] = outer * inner;
  if (axis > 0 && shape[0] == 1)
    shape[0] = batch;
  if (batch > 1 && (axis > 0 ? shape[0] != batch : outer != batch))
    return at->emitError("generation: operand ")
               << str(old.getType()) << " of '" << at->getName()
               << "' is read per sequence but its batch dimension is not the first one; "
                  "compile with --batch 1",
           failure();
  Value v = tsr::TakeRowsOp::create(*b, at->getLoc(), type.clone(shape), full, positions,
                                    b->getI64IntegerAttr(axis), b->getI64IntegerAttr(inner));
  taken[key] = v;
  return v;
}

/// [B, 1, 1, keys] i1: key j is visible from each sequence's position.
Value DecodeRewriter::positionMask(Operation *at, int64_t keys) {
  Location loc = at->getLoc();
  auto i64 = b->getI64Type();
  SmallVector<int64_t> iota;
  for (int64_t j = 0; j < keys; ++j)
    iota.push_back(j);
  auto iotaType = RankedTensorType::get({keys}, i64);
  Value keyIndex = tsr::ConstantOp::create(*b, loc, iotaType,
                                           DenseIntElementsAttr::get(iotaType, iota));
  Value pos = tsr::ReshapeOp::create(
      *b, loc, RankedTensorType::get({shapeOf(positions)[0], 1, 1, 1}, i64), positions);
  return tsr::CompareOp::create(*b, loc,
                                RankedTensorType::get({shapeOf(positions)[0], 1, 1, keys},
                                                      b->getI1Type()),
                                tsr::ComparePredicate::le, keyIndex, pos)
      .getResult();
}

/// Sets the result types of `created` (inferred, equal to the first
/// operand's, or `explicitTypes`) and records the results' rows.
LogicalResult DecodeRewriter::finish(Operation &op, Operation *created,
                                     ArrayRef<Row> resultRows, ArrayRef<Type> explicitTypes) {
  SmallVector<Type> types;
  if (!explicitTypes.empty()) {
    types.assign(explicitTypes.begin(), explicitTypes.end());
  } else if (auto infer = dyn_cast<InferTypeOpInterface>(created)) {
    if (failed(infer.inferReturnTypes(created->getContext(), created->getLoc(),
                                      created->getOperands(), created->getRawDictionaryAttrs(),
                                      created->getPropertiesStorage(), created->getRegions(),
                                      types)))
      return op.emitError("generation: '") << op.getName() << "' has no type on the rows",
             failure();
  } else {
    auto first = cast<RankedTensorType>(created->getOperand(0).getType());
    for (Value r : op.getResults())
      types.push_back(
          first.clone(cast<RankedTensorType>(r.getType()).getElementType()));
  }
  for (auto [i, r] : llvm::enumerate(created->getResults())) {
    r.setType(types[i]);
    mapping.map(op.getResult(unsigned(i)), r);
    rows[op.getResult(unsigned(i))] = resultRows[i];
  }
  return success();
}

bool isBroadcasting(Operation *op) {
  return op->hasTrait<OpTrait::Elementwise>() ||
         op->hasTrait<OpTrait::ResultsBroadcastableShape>() ||
         isa<tsr::CastOp, tsr::GeluOp, tsr::SoftmaxOp, tsr::LayerNormOp, tsr::RmsNormOp,
             tsr::RotaryOp>(op);
}

LogicalResult DecodeRewriter::rewrite(Operation &op) {
  auto refuse = [&](const Twine &why) {
    return op.emitError("generation: '") << op.getName() << "' " << why
                                         << "; a decode step computes one position at a time",
           failure();
  };
  if (auto attention = dyn_cast<tsr::AttentionOp>(op))
    return rewriteAttention(attention);

  // Operands: their new values; full ones read at the position where the
  // rule says they meet a row.
  IRMapping operands;
  for (Value v : op.getOperands())
    operands.map(v, mapping.lookup(v));

  if (isBroadcasting(&op)) {
    int64_t rank = int64_t(shapeOf(op.getResult(0)).size());
    std::optional<Row> result;
    for (Value v : op.getOperands()) {
      Row r = rowOf(v);
      if (!r.isRow())
        continue;
      Row aligned{r.axis + rank - int64_t(shapeOf(v).size()), r.inner};
      if (result && !(*result == aligned))
        return refuse("combines token rows along different dimensions");
      result = aligned;
    }
    int64_t axis = result->axis;
    if (auto softmax = dyn_cast<tsr::SoftmaxOp>(op);
        softmax && (softmax.getAxis() + rank) % rank == axis)
      return refuse("normalises over the sequence");
    if (auto norm = dyn_cast<tsr::LayerNormOp>(op); norm && (norm.getAxis() + rank) % rank <= axis)
      return refuse("normalises over the sequence");
    if (auto norm = dyn_cast<tsr::RmsNormOp>(op); norm && (norm.getAxis() + rank) % rank <= axis)
      return refuse("normalises over the sequence");
    if (isa<tsr::RotaryOp>(op) && axis != rank - 2)
      return refuse("rotates along a dimension that is not the sequence");
    for (Value v : op.getOperands()) {
      if (rowOf(v).isRow())
        continue;
      int64_t od = axis - (rank - int64_t(shapeOf(v).size()));
      if (od < 0 || shapeOf(v)[size_t(od)] == 1)
        continue; // broadcast along the sequence: the same for every row
      FailureOr<Value> t = takeRows(&op, v, axis, result->inner, rank);
      if (failed(t))
        return failure();
      operands.map(v, *t);
    }
    Operation *created = b->clone(op, operands);
    if (isa<tsr::SoftmaxOp, tsr::LayerNormOp, tsr::RmsNormOp, tsr::RotaryOp, tsr::GeluOp,
            tsr::CastOp>(op) ||
        !isa<InferTypeOpInterface>(created)) {
      // The result has the shape of the broadcast of the new operands.
      SmallVector<int64_t> shape(size_t(rank), 1);
      for (Value v : created->getOperands()) {
        ArrayRef<int64_t> s = shapeOf(v);
        for (size_t i = 0; i < s.size(); ++i) {
          int64_t &d = shape[size_t(rank) - s.size() + i];
          d = std::max(d, s[i]);
        }
      }
      if (isa<tsr::RotaryOp>(op)) // cos/sin are narrower in the last dimension
        shape.back() = shapeOf(created->getOperand(0)).back();
      auto type = cast<RankedTensorType>(op.getResult(0).getType()).clone(shape);
      return finish(op, created, {*result}, {type});
    }
    return finish(op, created, {*result});
  }

  if (auto matmul = dyn_cast<tsr::MatmulOp>(op)) {
    Value lhs = matmul.getLhs(), rhs = matmul.getRhs();
    int64_t rank = int64_t(shapeOf(op.getResult(0)).size());
    int64_t lr = int64_t(shapeOf(lhs).size()), rr = int64_t(shapeOf(rhs).size());
    Row l = rowOf(lhs), r = rowOf(rhs);
    if (l.isRow() && l.axis == lr - 1)
      return refuse("contracts over the sequence");
    if (r.isRow() && (rr == 1 || r.axis == rr - 2))
      return refuse("contracts over the sequence");
    if (l.isRow() && r.isRow()) {
      // Both follow the tokens along the same batch dimension of the product
      // (an MoE export's per-token expert weights times that token's
      // activations): each position's product is its own.
      int64_t la = l.axis + rank - lr, ra = r.axis + rank - rr;
      if (l.axis < lr - 2 && r.axis < rr - 2 && la == ra && l.inner == r.inner)
        return finish(op, b->clone(op, operands), {Row{la, l.inner}});
      return refuse("multiplies two values that both follow the tokens");
    }
    Row result;
    if (l.isRow()) {
      result = {lr == 1 ? l.axis : l.axis + rank - lr, l.inner};
      if (l.axis < lr - 2 && rr > 2) { // a batch dimension of the product
        int64_t od = result.axis - (rank - rr);
        if (od >= 0 && shapeOf(rhs)[size_t(od)] != 1) {
          FailureOr<Value> t = takeRows(&op, rhs, result.axis, l.inner, rank);
          if (failed(t))
            return failure();
          operands.map(rhs, *t);
        }
      }
    } else {
      result = {r.axis == rr - 1 ? rank - 1 : r.axis + rank - rr, r.inner};
      if (r.axis < rr - 2 && lr > 2) {
        int64_t od = result.axis - (rank - lr);
        if (od >= 0 && shapeOf(lhs)[size_t(od)] != 1) {
          FailureOr<Value> t = takeRows(&op, lhs, result.axis, r.inner, rank);
          if (failed(t))
            return failure();
          operands.map(lhs, *t);
        }
      }
    }
    return finish(op, b->clone(op, operands), {result});
  }

  if (auto reshape = dyn_cast<tsr::ReshapeOp>(op)) {
    // The row's stride and extent in the flattened tensor, found again in
    // the result's dimensions.
    Row r = rowOf(reshape.getInput());
    ArrayRef<int64_t> in = shapeOf(reshape.getInput()), out = shapeOf(op.getResult(0));
    int64_t stride = r.inner;
    for (size_t d = size_t(r.axis) + 1; d < in.size(); ++d)
      stride *= in[d];
    int64_t below = 1;
    for (int64_t d = int64_t(out.size()) - 1; d >= 0; --d) {
      int64_t n = out[size_t(d)];
      if (n > 1 && below <= stride && stride % below == 0 &&
          (below * n) % (stride * length) == 0) {
        SmallVector<int64_t> shape(out);
        shape[size_t(d)] /= length;
        auto type = cast<RankedTensorType>(op.getResult(0).getType()).clone(shape);
        return finish(op, b->clone(op, operands), {Row{d, stride / below}}, {type});
      }
      below *= n;
    }
    return refuse("splits the sequence axis across dimensions");
  }

  if (auto transpose = dyn_cast<tsr::TransposeOp>(op)) {
    Row r = rowOf(transpose.getInput());
    ArrayRef<int64_t> perm = transpose.getPermutation();
    int64_t axis = llvm::find(perm, r.axis) - perm.begin();
    return finish(op, b->clone(op, operands), {Row{axis, r.inner}});
  }

  if (auto slice = dyn_cast<tsr::SliceOp>(op)) {
    Row r = rowOf(slice.getInput());
    ArrayRef<int64_t> in = shapeOf(slice.getInput());
    size_t a = size_t(r.axis);
    if (slice.getStart()[a] != 0 || slice.getLimit()[a] != in[a] ||
        (slice.getStrides() && (*slice.getStrides())[a] != 1))
      return refuse("slices the sequence axis");
    Operation *created = b->clone(op, operands);
    SmallVector<int64_t> limit(slice.getLimit());
    limit[a] = shapeOf(created->getOperand(0))[a];
    cast<tsr::SliceOp>(created).setLimit(limit);
    return finish(op, created, {r});
  }

  if (auto split = dyn_cast<tsr::SplitOp>(op)) {
    Row r = rowOf(split.getInput());
    int64_t rank = int64_t(shapeOf(split.getInput()).size());
    if ((split.getAxis() + rank) % rank == r.axis)
      return refuse("splits the sequence axis");
    return finish(op, b->clone(op, operands), SmallVector<Row>(op.getNumResults(), r));
  }

  if (auto concat = dyn_cast<tsr::ConcatOp>(op)) {
    int64_t rank = int64_t(shapeOf(op.getResult(0)).size());
    std::optional<Row> result;
    for (Value v : op.getOperands())
      if (Row r = rowOf(v); r.isRow()) {
        if (result && !(*result == r))
          return refuse("joins token rows along different dimensions");
        result = r;
      }
    if ((concat.getAxis() + rank) % rank == result->axis)
      return refuse("concatenates along the sequence axis");
    for (Value v : op.getOperands())
      if (!rowOf(v).isRow()) {
        FailureOr<Value> t = takeRows(&op, v, result->axis, result->inner, rank);
        if (failed(t))
          return failure();
        operands.map(v, *t);
      }
    return finish(op, b->clone(op, operands), {*result});
  }

  if (auto gather = dyn_cast<tsr::GatherOp>(op)) {
    Row data = rowOf(gather.getInput()), idx = rowOf(gather.getIndices());
    int64_t dataRank = int64_t(shapeOf(gather.getInput()).size());
    int64_t idxRank = int64_t(shapeOf(gather.getIndices()).size());
    int64_t axis = (gather.getAxis() + dataRank) % dataRank;
    if (data.isRow() && idx.isRow())
      return refuse("gathers token rows with indices that follow the tokens");
    if (idx.isRow())
      return finish(op, b->clone(op, operands), {Row{axis + idx.axis, idx.inner}});
    if (data.axis == axis)
      return refuse("gathers along the sequence axis");
    return finish(op, b->clone(op, operands),
                  {Row{data.axis < axis ? data.axis : data.axis + idxRank - 1, data.inner}});
  }

  if (auto bc = dyn_cast<tsr::BroadcastOp>(op)) {
    Row r = rowOf(bc.getInput());
    ArrayRef<int64_t> out = shapeOf(op.getResult(0));
    int64_t axis = r.axis + int64_t(out.size()) - int64_t(shapeOf(bc.getInput()).size());
    SmallVector<int64_t> shape(out);
    shape[size_t(axis)] = shapeOf(mapping.lookup(bc.getInput()))[size_t(r.axis)];
    // The batch leads, or is merged into the token rows with only unit
    // dimensions before them ([1, B*S, ...]: a flattened batch of tokens).
    int64_t before = 1;
    for (int64_t d = 0; d < axis; ++d)
      before *= shape[size_t(d)];
    bool batchInRows = before == 1 && shape[size_t(axis)] % batch == 0;
    if (batch > 1 && axis > 0 && shape[0] != batch && !batchInRows)
      return refuse("broadcasts token rows over a new batch");
    auto type = cast<RankedTensorType>(op.getResult(0).getType()).clone(shape);
    return finish(op, b->clone(op, operands), {Row{axis, r.inner}}, {type});
  }

  if (op.hasTrait<OpTrait::OneResult>() && op.getNumOperands() == 1 &&
      op.getName().getStringRef().starts_with("tsr.reduce_")) {
    Row r = rowOf(op.getOperand(0));
    auto axes = op.getAttrOfType<DenseI64ArrayAttr>("axes");
    if (!axes || llvm::is_contained(axes.asArrayRef(), r.axis))
      return refuse("reduces over the sequence");
    int64_t axis = r.axis;
    if (!op.hasAttr("keep_dims"))
      axis -= llvm::count_if(axes.asArrayRef(), [&](int64_t a) { return a < r.axis; });
    return finish(op, b->clone(op, operands), {Row{axis, r.inner}});
  }

  return refuse("has no rule for a decode step (its operands follow the tokens)");
}

LogicalResult DecodeRewriter::rewriteAttention(tsr::AttentionOp op) {
  Row q = rowOf(op.getQuery()), k = rowOf(op.getKey()), v = rowOf(op.getValue());
  auto refuse = [&](const Twine &why) {
    return op.emitError("generation: 'tsr.attention' ") << why, failure();
  };
  if (!q.isRow())
    return refuse("has queries that do not follow the tokens");
  if (q.axis != 2 || q.inner != 1)
    return refuse("has queries whose sequence axis is not the third dimension");
  if (k.isRow() != v.isRow())
    return refuse("has keys and values that do not both follow the tokens");
  Location loc = op.getLoc();
  Value key = mapping.lookup(op.getKey()), value = mapping.lookup(op.getValue());
  int64_t keys = shapeOf(op.getKey())[2];
  if (k.isRow()) {
    if (k.axis != 2 || k.inner != 1 || v.axis != 2 || v.inner != 1)
      return refuse("has keys or values whose sequence axis is not the third dimension");
    // Append this position's key and value to the layer's cache, attend to
    // the whole cache.
    int index = attentionCount++;
    for (auto [row, what] : {std::make_pair(&key, "key"), std::make_pair(&value, "value")}) {
      auto type = cast<RankedTensorType>(row->getType());
      SmallVector<int64_t> shape(type.getShape());
      shape[2] = keys;
      auto cacheType = type.clone(shape);
      std::string name = "kv_cache." + std::to_string(index) + "." + what;
      Value cache = tsr::WeightOp::create(*b, loc, cacheType, b->getStringAttr(name), nullptr,
                                          b->getUnitAttr());
      Value written = tsr::CacheWriteOp::create(*b, loc, cacheType, cache, positions, *row,
                                                b->getI64IntegerAttr(2));
      cacheResults.push_back({written, name});
      *row = written;
    }
  }
  // The mask: rows of the full one at the position; the keys it covers
  // stay whole. Causal attention becomes "keys up to the position".
  Value mask;
  if (Value old = op.getMask()) {
    Row m = rowOf(old);
    int64_t rank = int64_t(shapeOf(old).size());
    if (m.isRow() && (m.axis != rank - 2 || m.inner != 1))
      return refuse("has a mask that follows the tokens along its key axis");
    mask = mapping.lookup(old);
    if (!m.isRow() && rank >= 2 && shapeOf(old)[size_t(rank - 2)] != 1) {
      FailureOr<Value> t = takeRows(op, old, 2, 1, 4);
      if (failed(t))
        return failure();
      mask = *t;
    }
  }
  bool causal = op.getCausal();
  if (causal || k.isRow()) {
    // With a cache, positions after the current one hold stale rows: mask them.
    Value visible = positionMask(op, keys);
    if (!mask) {
      mask = visible;
    } else if (cast<RankedTensorType>(mask.getType()).getElementType().isInteger(1)) {
      mask = tsr::AndOp::create(*b, loc, visible, mask);
    } else {
      auto maskType = cast<RankedTensorType>(mask.getType());
      auto scalar = RankedTensorType::get({}, maskType.getElementType());
      Value lowest = tsr::ConstantOp::create(
          *b, loc, scalar,
          DenseElementsAttr::get(scalar, APFloat::getLargest(
                                             cast<FloatType>(scalar.getElementType())
                                                 .getFloatSemantics(),
                                             /*Negative=*/true)));
      mask = tsr::SelectOp::create(*b, loc, visible, mask, lowest);
    }
  }
  Value query = mapping.lookup(op.getQuery());
  auto resultType = cast<RankedTensorType>(query.getType())
                        .clone(SmallVector<int64_t>{shapeOf(query)[0], shapeOf(query)[1], 1,
                                                    shapeOf(value)[3]});
  Value result = tsr::AttentionOp::create(*b, loc, resultType, query, key, value, mask,
                                          /*causal=*/UnitAttr(), op.getScaleAttr(),
                                          op.getSoftcapAttr());
  mapping.map(op.getResult(), result);
  rows[op.getResult()] = Row{2, 1};
  return success();
}

LogicalResult DecodeRewriter::run() {
  Block &body = func.getBody().front();
  auto nameOf = [&](unsigned i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr);
    return name ? name.str() : "#" + std::to_string(i);
  };
  int idsArg = -1;
  std::string names;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    names += (names.empty() ? "" : ", ") + nameOf(i);
    if (nameOf(i) == idsName)
      idsArg = int(i);
  }
  if (idsArg < 0)
    return func.emitError("generation: no input named '")
           << idsName << "' (the token ids; the inputs are " << names
           << "); name it with the decode pass's `ids` option",
           failure();
  auto idsType = cast<RankedTensorType>(func.getArgument(unsigned(idsArg)).getType());
  if (idsType.getRank() != 2 || !idsType.getElementType().isInteger())
    return func.emitError("generation: the token ids '")
               << idsName << "' are " << str(idsType) << ", not [batch, sequence] integers",
           failure();
  batch = idsType.getShape()[0];
  length = idsType.getShape()[1];
  if (length < 2)
    return func.emitError("generation: the sequence of '")
               << idsName << "' holds " << length << " position; the cache needs more",
           failure();

  Block *entry = new Block();
  OpBuilder builder(func.getContext());
  builder.setInsertionPointToEnd(entry);
  b = &builder;
  auto fail = [&]() {
    entry->dropAllDefinedValueUses();
    delete entry;
    return failure();
  };
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  for (BlockArgument arg : body.getArguments()) {
    std::string name = nameOf(arg.getArgNumber());
    auto type = cast<RankedTensorType>(arg.getType());
    Type newType = type;
    if (name == idsName || name == positionIdsName) {
      if (type.getShape() != idsType.getShape())
        return func.emitError("generation: input '")
                   << name << "' " << str(type) << " is not shaped like the token ids "
                   << str(idsType),
               fail();
      newType = type.clone({batch, 1});
      rows[arg] = Row{1, 1};
    } else if (name != maskName && !llvm::is_contained(encoderInputs, name)) {
      bool past = type.getRank() >= 3 && isa<FloatType>(type.getElementType());
      return func.emitError("generation: input '")
                 << name << "' has no role in generation (the token ids '" << idsName
                 << "', the attention mask '" << maskName << "', the position ids '"
                 << positionIdsName << "')"
                 << (past ? "; as past keys or values it must be empty: leave its length "
                            "unbound (0 with --generate), not " +
                                str(type)
                          : std::string()),
             fail();
    }
    mapping.map(arg, entry->addArgument(newType, arg.getLoc()));
    argTypes.push_back(newType);
    argAttrs.push_back(func.getArgAttrDict(arg.getArgNumber()));
  }
  auto posType = RankedTensorType::get({batch}, builder.getI64Type());
  positions = entry->addArgument(posType, func.getLoc());
  argTypes.push_back(posType);
  argAttrs.push_back(builder.getDictionaryAttr(
      builder.getNamedAttr(mlir::tsr::kNameAttr, builder.getStringAttr("positions"))));

  for (Operation &op : body.without_terminator()) {
    bool follows = llvm::any_of(op.getOperands(), [&](Value v) { return rowOf(v).isRow(); });
    if (!follows) {
      Operation *created = builder.clone(op, mapping);
      for (auto [result, made] : llvm::zip(op.getResults(), created->getResults()))
        mapping.map(result, made);
      continue;
    }
    if (failed(rewrite(op)))
      return fail();
  }

  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  SmallVector<DictionaryAttr> resultAttrs;
  std::string logits;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto name = func.getResultAttrOfType<StringAttr>(unsigned(i), mlir::tsr::kNameAttr);
    if (!rowOf(v).isRow())
      return ret.emitError("generation: output '")
                 << (name ? name.str() : "#" + std::to_string(i))
                 << "' does not follow the tokens",
             fail();
    if (logits.empty() && name)
      logits = name.str();
    results.push_back(mapping.lookup(v));
    resultTypes.push_back(results.back().getType());
    resultAttrs.push_back(func.getResultAttrDict(unsigned(i)));
  }
  for (auto [value, name] : cacheResults) {
    results.push_back(value);
    resultTypes.push_back(value.getType());
    resultAttrs.push_back(builder.getDictionaryAttr(
        {builder.getNamedAttr(mlir::tsr::kNameAttr, builder.getStringAttr(name + ":next")),
         builder.getNamedAttr(mlir::tsr::kUpdatesAttr, builder.getStringAttr(name))}));
  }
  func::ReturnOp::create(builder, ret.getLoc(), results);

  body.dropAllDefinedValueUses();
  func.getBody().push_back(entry);
  body.erase();
  func.setType(FunctionType::get(func.getContext(), argTypes, resultTypes));
  func.setAllArgAttrs(argAttrs);
  func.setAllResultAttrs(resultAttrs);

  // Full values nothing reads any more (the full-length keys and values).
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(entry->without_terminator())))
    if (op.use_empty() && isPure(&op))
      op.erase();

  if (cacheResults.empty())
    return func.emitError("generation: no attention over the tokens to cache (the decode step "
                          "would recompute nothing)"),
           failure();
  MLIRContext *ctx = func.getContext();
  auto i64 = [&](int64_t v) { return IntegerAttr::get(IntegerType::get(ctx, 64), v); };
  SmallVector<NamedAttribute> info = {
      builder.getNamedAttr("ids", builder.getStringAttr(idsName)),
      builder.getNamedAttr("positions", builder.getStringAttr("positions")),
      builder.getNamedAttr("logits", builder.getStringAttr(logits)),
      builder.getNamedAttr("max_seq", i64(length)),
      builder.getNamedAttr("batch", i64(batch))};
  for (unsigned i = 0; i + 1 < func.getNumArguments(); ++i) {
    std::string name = nameOf(i);
    if (name == maskName)
      info.push_back(builder.getNamedAttr("mask", builder.getStringAttr(name)));
    if (name == positionIdsName)
      info.push_back(builder.getNamedAttr("position_ids", builder.getStringAttr(name)));
  }
  if (auto module = func->getParentOfType<ModuleOp>())
    module->setAttr(mlir::tsr::kGenerateAttr, builder.getDictionaryAttr(info));
  return success();
}

struct DecodePass : tessera::generate::impl::DecodePassBase<DecodePass> {
  using DecodePassBase::DecodePassBase;
  void runOnOperation() override {
    if (failed(tessera::generate::dropPastAndPresent(getOperation())) ||
        failed(DecodeRewriter(getOperation(), ids, mask, positionIds, encoderInputs).run()))
      signalPassFailure();
  }
};

} // namespace
