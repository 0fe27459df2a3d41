//===- PlanProgram.cpp - tsr to kernels with a static memory plan ---------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/ProgramPlan.h"
#include "dialects/tsr/IR/TsrAttrNames.h"
#include "tessera/runtime/tpkg_generated.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <limits>

using namespace mlir;
using namespace tessera::lower;

namespace {

constexpr uint64_t kAlignment = 64;

std::optional<ElementType> elementTypeOf(Type t) {
  if (t.isF32()) return ElementType::F32;
  if (t.isF16()) return ElementType::F16;
  if (t.isBF16()) return ElementType::BF16;
  if (t.isF64()) return ElementType::F64;
  if (t.isInteger(1)) return ElementType::Bool;
  if (t.isInteger(8)) return ElementType::I8;
  if (t.isInteger(32)) return ElementType::I32;
  if (t.isInteger(64)) return ElementType::I64;
  return std::nullopt;
}

uint64_t elementSize(ElementType t) {
  switch (t) {
  case ElementType::F32: case ElementType::I32: return 4;
  case ElementType::F16: case ElementType::BF16: return 2;
  case ElementType::F64: case ElementType::I64: return 8;
  case ElementType::I8: case ElementType::Bool: return 1;
  }
  return 0;
}

/// The bytes of a constant, one byte per i1.
std::vector<uint8_t> constantBytes(DenseElementsAttr attr) {
  Type element = attr.getElementType();
  std::vector<uint8_t> bytes;
  if (element.isInteger(1)) {
    for (bool b : attr.getValues<bool>())
      bytes.push_back(b);
    return bytes;
  }
  size_t size = element.getIntOrFloatBitWidth() / 8;
  ArrayRef<char> raw = attr.getRawData();
  int64_t n = attr.getNumElements();
  bytes.resize(size_t(n) * size);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(bytes.data() + i * size,
                raw.data() + (attr.isSplat() ? 0 : i * size), size);
  return bytes;
}

/// Kernel attributes from the op's (inherent) attributes.
std::vector<PlannedAttr> attributesOf(Operation *op) {
  std::vector<PlannedAttr> attrs;
  for (NamedAttribute named : op->getAttrDictionary()) {
    PlannedAttr a;
    a.name = named.getName().str();
    Attribute value = named.getValue();
    if (auto i = dyn_cast<IntegerAttr>(value))
      a.ints.push_back(i.getInt());
    else if (auto b = dyn_cast<BoolAttr>(value))
      a.ints.push_back(b.getValue());
    else if (isa<UnitAttr>(value))
      a.ints.push_back(1);
    else if (auto f = dyn_cast<FloatAttr>(value))
      a.floats.push_back(f.getValueAsDouble());
    else if (auto array = dyn_cast<DenseI64ArrayAttr>(value))
      a.ints.assign(array.asArrayRef().begin(), array.asArrayRef().end());
    else
      continue;
    attrs.push_back(std::move(a));
  }
  return attrs;
}

std::string locationName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (auto name = dyn_cast<NameLoc>(inner))
        return name.getName().str();
  return "";
}

/// Opcodes of fused elementwise programs (the runtime's "elementwise"
/// kernel interprets them); unary ops read one operand, binary ops two.
std::optional<int64_t> fusedOpcode(Operation *op) {
  using tessera::tpkg::FusedOp;
  auto code = [](FusedOp c) { return int64_t(c); };
  return llvm::TypeSwitch<Operation *, std::optional<int64_t>>(op)
      .Case([&](tsr::AddOp) { return code(FusedOp::Add); })
      .Case([&](tsr::SubOp) { return code(FusedOp::Sub); })
      .Case([&](tsr::MulOp) { return code(FusedOp::Mul); })
      .Case([&](tsr::DivOp) { return code(FusedOp::Div); })
      .Case([&](tsr::MaxOp) { return code(FusedOp::Max); })
      .Case([&](tsr::MinOp) { return code(FusedOp::Min); })
      .Case([&](tsr::PowOp) { return code(FusedOp::Pow); })
      .Case([&](tsr::NegOp) { return code(FusedOp::Neg); })
      .Case([&](tsr::AbsOp) { return code(FusedOp::Abs); })
      .Case([&](tsr::ReluOp) { return code(FusedOp::Relu); })
      .Case([&](tsr::ExpOp) { return code(FusedOp::Exp); })
      .Case([&](tsr::LogOp) { return code(FusedOp::Log); })
      .Case([&](tsr::SqrtOp) { return code(FusedOp::Sqrt); })
      .Case([&](tsr::RsqrtOp) { return code(FusedOp::Rsqrt); })
      .Case([&](tsr::ReciprocalOp) { return code(FusedOp::Reciprocal); })
      .Case([&](tsr::TanhOp) { return code(FusedOp::Tanh); })
      .Case([&](tsr::ErfOp) { return code(FusedOp::Erf); })
      .Case([&](tsr::SigmoidOp) { return code(FusedOp::Sigmoid); })
      .Case([&](tsr::SinOp) { return code(FusedOp::Sin); })
      .Case([&](tsr::CosOp) { return code(FusedOp::Cos); })
      .Case([&](tsr::SiluOp) { return code(FusedOp::Silu); })
      .Case([&](tsr::GeluOp g) {
        return code(g.getApproximate() == tsr::GeluApproximation::tanh ? FusedOp::GeluTanh
                                                                       : FusedOp::GeluErf);
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// f32 elementwise ops that can join a fused chain.
bool isFusible(Operation *op) {
  return fusedOpcode(op) && op->getNumResults() == 1 &&
         cast<RankedTensorType>(op->getResult(0).getType()).getElementType().isF32();
}

/// Chains of elementwise ops: an op joins its user's group when it is that
/// user's only producer-side use and has the user's shape (no broadcast of
/// intermediates). A group whose last op's every user is in one other group
/// of its shape, or the function's return, joins that group too: the group
/// then has several results (an optimizer's new weight and moments, read by
/// the new weight's chain and returned), computed in one pass over memory.
/// Every member precedes its group's root, and what leaves a group other
/// than through the root goes only to the return: one kernel at the root's
/// place computes the group. Returns op -> root of its group (its last op).
llvm::DenseMap<Operation *, Operation *> elementwiseGroups(Block &body) {
  llvm::DenseMap<Operation *, Operation *> root;
  auto find = [&](Operation *op) {
    Operation *r = root.lookup(op);
    while (r && root.lookup(r) != r)
      r = root.lookup(r);
    return r;
  };
  SmallVector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops)) {
    if (!isFusible(op))
      continue;
    root[op] = op;
    Value result = op->getResult(0);
    if (result.hasOneUse()) {
      Operation *user = *result.getUsers().begin();
      if (root.count(user) && user->getResult(0).getType() == result.getType())
        root[op] = find(user);
      continue;
    }
    Operation *target = nullptr;
    bool joins = !result.use_empty();
    for (Operation *user : result.getUsers()) {
      if (isa<func::ReturnOp>(user))
        continue;
      Operation *group = root.count(user) ? find(user) : nullptr;
      if (!group || user->getResult(0).getType() != result.getType() ||
          (target && target != group)) {
        joins = false;
        break;
      }
      target = group;
    }
    if (joins && target)
      root[op] = target;
  }
  for (Operation *op : ops)
    if (root.count(op))
      root[op] = find(op);
  return root;
}

/// The mesh ranks that take part, with `rank`, in a collective over
/// `axes` of `grid` (row-major rank numbering).
std::vector<int64_t> groupOf(ArrayRef<int64_t> grid, ArrayRef<int16_t> axes,
                             int64_t rank) {
  SmallVector<int64_t> coord(grid.size());
  for (int64_t d = int64_t(grid.size()) - 1, r = rank; d >= 0; --d) {
    coord[size_t(d)] = r % grid[size_t(d)];
    r /= grid[size_t(d)];
  }
  std::vector<int64_t> ranks;
  int64_t count = 1;
  for (int16_t a : axes)
    count *= grid[size_t(a)];
  for (int64_t k = 0; k < count; ++k) {
    SmallVector<int64_t> c(coord);
    for (int64_t rest = k, i = int64_t(axes.size()) - 1; i >= 0; --i) {
      int16_t a = axes[size_t(i)];
      c[size_t(a)] = rest % grid[size_t(a)];
      rest /= grid[size_t(a)];
    }
    int64_t linear = 0;
    for (size_t d = 0; d < grid.size(); ++d)
      linear = linear * grid[d] + c[d];
    ranks.push_back(linear);
  }
  return ranks;
}

/// A matmul operand that is a transpose of the last two dimensions (an LM
/// head tied to the embedding, K^T) is read transposed by the GEMM instead
/// of copied first: the operand becomes the transpose's input and the
/// matmul's transpose flag flips. Transposes nothing else reads go.
void foldOperandTransposes(func::FuncOp func) {
  auto swapsLastTwo = [](tsr::TransposeOp t) {
    ArrayRef<int64_t> perm = t.getPermutation();
    int64_t n = int64_t(perm.size());
    if (n < 2)
      return false;
    for (int64_t i = 0; i < n - 2; ++i)
      if (perm[size_t(i)] != i)
        return false;
    return perm[size_t(n - 2)] == n - 1 && perm[size_t(n - 1)] == n - 2;
  };
  func.walk([&](tsr::MatmulOp mm) {
    if (auto t = mm.getRhs().getDefiningOp<tsr::TransposeOp>(); t && swapsLastTwo(t) &&
        cast<RankedTensorType>(t.getInput().getType()).getRank() >= 2) {
      mm.getRhsMutable().assign(t.getInput());
      mm.setTransposeRhs(!mm.getTransposeRhs());
      if (t->use_empty())
        t->erase();
    }
    if (auto t = mm.getLhs().getDefiningOp<tsr::TransposeOp>(); t && swapsLastTwo(t)) {
      mm.getLhsMutable().assign(t.getInput());
      mm.setTransposeLhs(!mm.getTransposeLhs());
      if (t->use_empty())
        t->erase();
    }
  });
}

} // namespace

FailureOr<ProgramPlan>
tessera::lower::planProgram(func::FuncOp func, int64_t rank,
                            std::function<double(Operation *)> costOf) {
  auto predict = [&](Operation *op) { return costOf ? costOf(op) : 0.0; };
  foldOperandTransposes(func);
  /// cache_write results lowered to write their state weight (by name).
  llvm::DenseMap<Value, StringRef> writtenInPlace;
  ProgramPlan plan;
  llvm::DenseMap<Value, uint32_t> ids;
  Block &body = func.getBody().front();

  auto addTensor = [&](Value v, PlannedTensor t) -> FailureOr<uint32_t> {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    std::optional<ElementType> element =
        type ? elementTypeOf(type.getElementType()) : std::nullopt;
    if (!element)
      return emitError(v.getLoc()) << "cannot lower a value of type "
                                   << v.getType(),
             failure();
    t.dtype = *element;
    t.shape.assign(type.getShape().begin(), type.getShape().end());
    t.size = uint64_t(type.getNumElements()) * elementSize(*element);
    uint32_t id = uint32_t(plan.tensors.size());
    plan.tensors.push_back(std::move(t));
    ids[v] = id;
    return id;
  };

  for (BlockArgument arg : body.getArguments()) {
    PlannedTensor t;
    if (auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), mlir::tsr::kNameAttr))
      t.name = name.str();
    else
      t.name = "input" + std::to_string(arg.getArgNumber());
    auto id = addTensor(arg, std::move(t));
    if (failed(id))
      return failure();
    plan.inputs.push_back(*id);
    if (auto held = func.getArgAttrOfType<DenseElementsAttr>(arg.getArgNumber(), mlir::tsr::kHeldAttr)) {
      PlannedTensor data;
      data.name = plan.tensors[*id].name;
      data.kind = PlannedTensor::Kind::Constant;
      data.dtype = plan.tensors[*id].dtype;
      data.shape.assign(held.getType().getShape().begin(), held.getType().getShape().end());
      data.bytes = constantBytes(held);
      data.size = data.bytes.size();
      plan.heldInputs.push_back({uint32_t(plan.inputs.size() - 1), uint32_t(plan.tensors.size())});
      plan.tensors.push_back(std::move(data));
    }
  }

  llvm::DenseMap<Operation *, Operation *> groups = elementwiseGroups(body);
  llvm::DenseMap<Operation *, SmallVector<Operation *>> members;
  for (Operation &op : body)
    if (groups.count(&op))
      members[groups[&op]].push_back(&op);
  llvm::DenseMap<Operation *, int64_t> position;
  for (Operation &op : body)
    position[&op] = int64_t(position.size());
  // A group member the function returns as the new value of a state (a
  // weight, an optimizer moment) that the group reads, where nothing after
  // the group reads that state: the state tensor the kernel may write in
  // place, and its name.
  auto updatedInPlace = [&](Operation *m,
                            Operation *root) -> std::optional<std::pair<uint32_t, StringRef>> {
    StringRef state;
    unsigned returned = 0;
    for (OpOperand &use : m->getResult(0).getUses())
      if (isa<func::ReturnOp>(use.getOwner())) {
        ++returned;
        if (auto u = func.getResultAttrOfType<StringAttr>(use.getOperandNumber(),
                                                          mlir::tsr::kUpdatesAttr))
          state = u.getValue();
      }
    if (state.empty() || returned != 1)
      return std::nullopt;
    Value read;
    for (Operation *g : members[root])
      for (Value v : g->getOperands())
        if (auto w = v.getDefiningOp<tsr::WeightOp>();
            w && w.getName() == state && v.getType() == m->getResult(0).getType())
          read = v;
    if (!read)
      return std::nullopt;
    auto offsets = read.getDefiningOp<tsr::WeightOp>().getOffsets();
    bool last = true;
    for (auto w : body.getOps<tsr::WeightOp>()) {
      if (w.getName() != state)
        continue;
      if (w.getResult().getType() != read.getType() || w.getOffsets() != offsets)
        last = false; // read in another block or layout too
      for (Operation *u : w->getUsers())
        if (u->getBlock() != &body ||
            (groups.lookup(u) != root && position.lookup(u) > position.lookup(root)))
          last = false;
    }
    if (!last || !ids.count(read))
      return std::nullopt;
    return std::make_pair(ids.lookup(read), state);
  };

  for (Operation &op : body) {
    if (groups.count(&op) && members[groups[&op]].size() > 1) {
      if (groups[&op] != &op)
        continue; // emitted with its group's root, below
      // One kernel for the chain: external operands become inputs, each
      // member a register; the program lists (opcode, operand, operand).
      PlannedKernel kernel;
      kernel.op = "elementwise";
      kernel.location = locationName(op.getLoc());
      llvm::DenseMap<Operation *, int64_t> reg;
      PlannedAttr program{"program", {}, {}};
      for (Operation *m : members[&op]) {
        program.ints.push_back(*fusedOpcode(m));
        for (int i = 0; i < 2; ++i) {
          if (i >= int(m->getNumOperands())) {
            program.ints.push_back(-1); // unused: any valid operand
            continue;
          }
          Value operand = m->getOperand(i);
          Operation *def = operand.getDefiningOp();
          if (def && reg.count(def)) {
            program.ints.push_back(reg[def]);
            continue;
          }
          auto known = llvm::find(kernel.inputs, ids.lookup(operand));
          int64_t index = known - kernel.inputs.begin();
          if (known == kernel.inputs.end())
            kernel.inputs.push_back(ids.lookup(operand));
          program.ints.push_back(-1 - index);
        }
        reg[m] = int64_t(reg.size());
      }
      kernel.attrs.push_back(std::move(program));
      for (Operation *m : members[&op])
        kernel.predictedSeconds += predict(m);
      // The group's results: its root, then the members the return reads
      // (a multi-result group; "outputs" lists their registers).
      SmallVector<Operation *> results = {&op};
      for (Operation *m : members[&op])
        if (m != &op && llvm::any_of(m->getUsers(), [&](Operation *u) {
              return groups.lookup(u) != &op;
            }))
          results.push_back(m);
      PlannedAttr outputs{"outputs", {}, {}};
      for (Operation *m : results) {
        outputs.ints.push_back(reg[m]);
        if (auto state = updatedInPlace(m, &op)) {
          // The new value of a state the group is the last to read: the
          // kernel writes the state itself (read before written, element
          // by element); no output, no copy after the run.
          ids[m->getResult(0)] = state->first;
          writtenInPlace[m->getResult(0)] = state->second;
          kernel.outputs.push_back(state->first);
          continue;
        }
        auto id = addTensor(m->getResult(0), PlannedTensor());
        if (failed(id))
          return failure();
        kernel.outputs.push_back(*id);
      }
      if (results.size() > 1)
        kernel.attrs.push_back(std::move(outputs));
      plan.kernels.push_back(std::move(kernel));
      continue;
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      // A KV cache written in place (below) is its own update: no output.
      auto inPlace = [&](unsigned i, Value v) {
        auto updates = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kUpdatesAttr);
        auto it = writtenInPlace.find(v);
        return updates && it != writtenInPlace.end() && it->second == updates.getValue();
      };
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        uint32_t id = ids.lookup(v);
        if (inPlace(unsigned(i), v)) {
          plan.stateUpdates.push_back({id, id});
          continue;
        }
        std::string name = "output" + std::to_string(i);
        if (auto attr = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr))
          name = attr.str();
        // Outputs get their own named arena tensor; one that is an input,
        // a weight, a view or another output is copied there.
        PlannedTensor &t = plan.tensors[id];
        bool own = t.kind == PlannedTensor::Kind::Arena && t.aliasOf < 0 &&
                   t.name.empty() &&
                   !llvm::is_contained(plan.inputs, id);
        if (own) {
          t.name = name;
          plan.outputs.push_back(id);
          continue;
        }
        PlannedTensor copy;
        copy.name = name;
        auto copyId = addTensor(v, std::move(copy));
        if (failed(copyId))
          return failure();
        PlannedKernel kernel;
        kernel.op = "reshape"; // a plain copy
        kernel.location = name;
        kernel.inputs.push_back(id);
        kernel.outputs.push_back(*copyId);
        plan.kernels.push_back(std::move(kernel));
        plan.outputs.push_back(*copyId);
      }
      // Training: results that update a weight (or optimizer state).
      size_t output = 0;
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        if (inPlace(unsigned(i), v))
          continue;
        size_t at = output++;
        auto updates = func.getResultAttrOfType<StringAttr>(unsigned(i), mlir::tsr::kUpdatesAttr);
        if (!updates)
          continue;
        // The tensor this rank holds of the weight (whole or a block of it,
        // under tensor parallelism): one block, perhaps read more than once.
        int found = 0;
        const PlannedTensor *first = nullptr;
        for (auto [id, t] : llvm::enumerate(plan.tensors))
          if (t.kind == PlannedTensor::Kind::Weight && t.aliasOf < 0 && t.weight == updates) {
            if (first && (first->shape != t.shape || first->blockOffsets != t.blockOffsets))
              return ret.emitError("result #")
                         << i << " updates weight '" << updates.getValue()
                         << "', which this rank holds in more than one block or layout",
                     failure();
            first = &t;
            ++found;
            plan.stateUpdates.push_back({uint32_t(id), plan.outputs[at]});
          }
        if (!found)
          return ret.emitError("result #") << i << " updates weight '" << updates.getValue()
                                           << "', which the program does not read",
                 failure();
      }
      continue;
    }
    if (isa<shard::AllReduceOp, shard::AllGatherOp, shard::ReduceScatterOp>(op)) {
      auto gridName = op.getAttrOfType<FlatSymbolRefAttr>("grid");
      auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(&op, gridName);
      if (!grid)
        return op.emitError("collective on an unknown grid"), failure();
      PlannedKernel kernel;
      kernel.location = locationName(op.getLoc());
      ArrayRef<int16_t> axes;
      // The reduction: "max" 1 for a maximum (a partial maximum made whole),
      // a sum otherwise.
      auto reduction = [&](shard::ReductionKind kind) -> LogicalResult {
        if (kind == shard::ReductionKind::Max)
          kernel.attrs.push_back({"max", {1}, {}});
        else if (kind != shard::ReductionKind::Sum)
          return op.emitError("only sum and max collectives run, not ")
                 << shard::stringifyReductionKind(kind);
        return success();
      };
      if (auto r = dyn_cast<shard::AllReduceOp>(op)) {
        kernel.op = "all_reduce";
        axes = r.getGridAxes();
        if (failed(reduction(r.getReduction())))
          return failure();
        // A sum over the data-parallel replicas (a training step's
        // gradients): started asynchronously, waited for where it is first
        // read, so that it overlaps the kernels in between.
        if (axes.size() == 1 && axes[0] == 0 && grid.getShape()[0] > 1)
          kernel.attrs.push_back({"async", {1}, {}});
      } else if (auto g = dyn_cast<shard::AllGatherOp>(op)) {
        kernel.op = "all_gather";
        axes = g.getGridAxes();
        kernel.attrs.push_back({"axis", {g.getGatherAxis().getSExtValue()}, {}});
      } else {
        auto s = cast<shard::ReduceScatterOp>(op);
        kernel.op = "reduce_scatter";
        axes = s.getGridAxes();
        if (failed(reduction(s.getReduction())))
          return failure();
        kernel.attrs.push_back({"axis", {s.getScatterAxis().getSExtValue()}, {}});
      }
      kernel.attrs.push_back({"group", groupOf(grid.getShape(), axes, rank), {}});
      kernel.predictedSeconds = predict(&op);
      kernel.inputs.push_back(ids.lookup(op.getOperand(0)));
      auto id = addTensor(op.getResult(0), PlannedTensor());
      if (failed(id))
        return failure();
      kernel.outputs.push_back(*id);
      plan.kernels.push_back(std::move(kernel));
      continue;
    }
    if (op.getDialect()->getNamespace() != "tsr")
      return op.emitError("cannot lower '") << op.getName()
                                            << "': only tsr ops run",
             failure();
    if (auto weight = dyn_cast<tsr::WeightOp>(op)) {
      PlannedTensor t;
      t.name = weight.getName().str();
      t.kind = PlannedTensor::Kind::Weight;
      t.weight = weight.getName().str();
      t.zeros = weight.getZeros();
      if (auto offsets = weight.getOffsets()) {
        t.blockOffsets.assign(offsets->begin(), offsets->end());
        t.name += "@[";
        for (auto [i, o] : llvm::enumerate(*offsets))
          t.name += (i ? "," : "") + std::to_string(o);
        t.name += "]";
      }
      if (failed(addTensor(weight.getResult(), std::move(t))))
        return failure();
      continue;
    }
    if (auto constant = dyn_cast<tsr::ConstantOp>(op)) {
      auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
      if (!dense)
        return op.emitError("only dense constants can be lowered"), failure();
      PlannedTensor t;
      t.kind = PlannedTensor::Kind::Constant;
      t.bytes = constantBytes(dense);
      if (failed(addTensor(constant.getResult(), std::move(t))))
        return failure();
      continue;
    }
    if (auto reshape = dyn_cast<tsr::ReshapeOp>(op)) {
      // A view: same bytes, another shape.
      uint32_t source = ids.lookup(reshape.getInput());
      int32_t root = plan.tensors[source].aliasOf >= 0
                         ? plan.tensors[source].aliasOf
                         : int32_t(source);
      PlannedTensor t;
      t.kind = plan.tensors[root].kind;
      t.weight = plan.tensors[root].weight;
      t.zeros = plan.tensors[root].zeros; // a view of state (a running sum)
      t.aliasOf = root;
      if (failed(addTensor(reshape.getResult(), std::move(t))))
        return failure();
      continue;
    }
    if (auto write = dyn_cast<tsr::CacheWriteOp>(op)) {
      // A KV cache (a zero-initialised state weight) that the function
      // returns as its own update is written in place: the kernel's output
      // is the state, which the runtime keeps between runs; no copy of the
      // cache per step.
      auto weight = write.getCache().getDefiningOp<tsr::WeightOp>();
      bool returned = weight && weight.getZeros() &&
                      llvm::any_of(write->getUses(), [&](OpOperand &use) {
                        auto r = dyn_cast<func::ReturnOp>(use.getOwner());
                        auto updates = r ? func.getResultAttrOfType<StringAttr>(
                                               use.getOperandNumber(), mlir::tsr::kUpdatesAttr)
                                         : nullptr;
                        return updates && updates.getValue() == weight.getName();
                      });
      if (returned && write.getCache().hasOneUse()) {
        uint32_t state = ids.lookup(write.getCache());
        PlannedKernel kernel;
        kernel.op = "cache_write";
        kernel.location = locationName(op.getLoc());
        kernel.attrs = attributesOf(&op);
        kernel.predictedSeconds = predict(&op);
        for (Value v : op.getOperands())
          kernel.inputs.push_back(ids.lookup(v));
        kernel.outputs.push_back(state);
        plan.kernels.push_back(std::move(kernel));
        ids[write.getResult()] = state;
        writtenInPlace[write.getResult()] = weight.getName();
        continue;
      }
    }
    PlannedKernel kernel;
    kernel.op = op.getName().stripDialect().str();
    kernel.location = locationName(op.getLoc());
    kernel.attrs = attributesOf(&op);
    kernel.predictedSeconds = predict(&op);
    for (Value operand : op.getOperands())
      kernel.inputs.push_back(ids.lookup(operand));
    for (Value result : op.getResults()) {
      auto id = addTensor(result, PlannedTensor());
      if (failed(id))
        return failure();
      kernel.outputs.push_back(*id);
    }
    plan.kernels.push_back(std::move(kernel));
  }

  planMemory(plan);
  return plan;
}

void tessera::lower::planMemory(ProgramPlan &plan) {
  plan.arenaBytes = 0;
  plan.unplannedBytes = 0;
  // Liveness of each arena root: [first kernel that writes it, last kernel
  // that reads it or any of its views]; graph inputs and outputs are live
  // throughout.
  size_t n = plan.tensors.size();
  constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> first(n, kForever), last(n, -1);
  auto root = [&](uint32_t id) {
    return plan.tensors[id].aliasOf >= 0 ? uint32_t(plan.tensors[id].aliasOf) : id;
  };
  for (uint32_t id : plan.inputs)
    first[id] = -1;
  for (auto [k, kernel] : llvm::enumerate(plan.kernels)) {
    for (uint32_t id : kernel.inputs)
      last[root(id)] = std::max<int64_t>(last[root(id)], int64_t(k));
    for (uint32_t id : kernel.outputs)
      first[root(id)] = std::min<int64_t>(first[root(id)], int64_t(k));
  }
  for (uint32_t id : plan.outputs)
    last[root(id)] = kForever;
  // Inputs stay intact for the whole run so that a session can run again
  // on the inputs it was given.
  for (uint32_t id : plan.inputs)
    last[id] = kForever;

  // Greedy by size (largest first), each at the lowest offset that does not
  // overlap a placed buffer alive at the same time.
  struct Placed { int64_t first, last; uint64_t offset, size; };
  std::vector<uint32_t> order;
  for (uint32_t id = 0; id < n; ++id)
    if (plan.tensors[id].kind == PlannedTensor::Kind::Arena &&
        plan.tensors[id].aliasOf < 0) {
      if (last[id] < 0) // written, never read: still needs a home
        last[id] = first[id];
      order.push_back(id);
      plan.unplannedBytes +=
          (plan.tensors[id].size + kAlignment - 1) / kAlignment * kAlignment;
    }
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return plan.tensors[a].size > plan.tensors[b].size;
  });
  std::vector<Placed> placed;
  for (uint32_t id : order) {
    uint64_t size = (plan.tensors[id].size + kAlignment - 1) / kAlignment * kAlignment;
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Placed &p : placed)
      if (p.first <= last[id] && first[id] <= p.last)
        busy.push_back({p.offset, p.offset + p.size});
    std::sort(busy.begin(), busy.end());
    uint64_t offset = 0;
    for (auto [begin, end] : busy) {
      if (offset + size <= begin)
        break;
      offset = std::max(offset, end);
    }
    plan.tensors[id].offset = offset;
    placed.push_back({first[id], last[id], offset, size});
    plan.arenaBytes = std::max(plan.arenaBytes, offset + size);
  }
  for (PlannedTensor &t : plan.tensors)
    if (t.aliasOf >= 0 && t.kind == PlannedTensor::Kind::Arena)
      t.offset = plan.tensors[t.aliasOf].offset;
}
