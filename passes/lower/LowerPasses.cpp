//===- LowerPasses.cpp - the lowering passes ------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/Passes.h"
#include "passes/lower/ProgramPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/ToolOutputFile.h"

namespace tessera::lower {
#define GEN_PASS_DEF_LOWERTOPLANPASS
#include "passes/lower/Passes.h.inc"
} // namespace tessera::lower

using namespace mlir;

void tessera::lower::printPlan(const ProgramPlan &plan, llvm::raw_ostream &os) {
  static const char *kinds[] = {"arena", "weight", "constant"};
  os << "program: " << plan.tensors.size() << " tensors, " << plan.kernels.size()
     << " kernels, arena " << plan.arenaBytes << " bytes (" << plan.unplannedBytes
     << " unplanned)\n";
  auto name = [&](uint32_t id) {
    const auto &t = plan.tensors[id];
    std::string s = "%" + std::to_string(id);
    if (!t.name.empty())
      s += "(" + t.name + ")";
    return s;
  };
  for (auto [i, t] : llvm::enumerate(plan.tensors)) {
    if (t.kind != PlannedTensor::Kind::Arena || t.aliasOf >= 0)
      continue;
    os << "  tensor " << name(uint32_t(i)) << " " << kinds[int(t.kind)] << " [" << t.offset
       << ", " << t.offset + t.size << ")\n";
  }
  for (const auto &k : plan.kernels) {
    os << "  kernel " << k.op << "(";
    llvm::interleaveComma(k.inputs, os, [&](uint32_t id) { os << name(id); });
    os << ") -> ";
    llvm::interleaveComma(k.outputs, os, [&](uint32_t id) { os << name(id); });
    for (const auto &a : k.attrs) {
      os << " " << a.name << "=[";
      llvm::interleaveComma(a.ints, os);
      llvm::interleaveComma(a.floats, os);
      os << "]";
    }
    os << "\n";
  }
  os << "  outputs: ";
  llvm::interleaveComma(plan.outputs, os, [&](uint32_t id) { os << name(id); });
  os << "\n";
}

namespace {

struct LowerToPlanPass : tessera::lower::impl::LowerToPlanPassBase<LowerToPlanPass> {
  using LowerToPlanPassBase::LowerToPlanPassBase;
  void runOnOperation() override {
    std::string error;
    auto out = openOutputFile(output, &error);
    if (!out) {
      getOperation().emitError("cannot open '") << output << "': " << error;
      return signalPassFailure();
    }
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>()) {
      FailureOr<tessera::lower::ProgramPlan> plan = tessera::lower::planProgram(func, rank);
      if (failed(plan))
        return signalPassFailure();
      out->os() << "// @" << func.getName() << "\n";
      tessera::lower::printPlan(*plan, out->os());
    }
    out->keep();
  }
};

} // namespace
