//===- GemmEpilogues.cpp - bias and GELU into the GEMM --------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/GemmEpilogues.h"
#include "tessera/runtime/tpkg_generated.h"
#include "passes/lower/PlanRewrite.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

namespace tessera::lower {

namespace {

/// The chain of elementwise kernels after one matmul that its epilogue can
/// take, walked kernel by kernel.
struct Chain {
  ProgramPlan &plan;
  uint32_t value;  ///< what the chain has computed so far
  size_t next;     ///< the kernel after it
  int64_t rows, n; ///< the GEMM's result: rows x n elements

  /// The kernel at `next` if it is `op` and the only reader of `value`
  /// (through any view with rows of n); sets `other` to its other operand.
  const PlannedKernel *take(const char *op, int &other) const {
    if (next >= plan.kernels.size())
      return nullptr;
    const PlannedKernel &k = plan.kernels[next];
    uint32_t root = rootOf(plan, value);
    if (k.op != op || k.outputs.size() != 1 || readersOf(plan, root) != 1)
      return nullptr;
    const PlannedTensor &out = plan.tensors[k.outputs[0]];
    if (out.shape.empty() || out.shape.back() != n || out.elements() != rows * n)
      return nullptr;
    for (auto [i, in] : llvm::enumerate(k.inputs))
      if (rootOf(plan, in) == root && !plan.tensors[in].shape.empty() &&
          plan.tensors[in].shape.back() == n) {
        other = k.inputs.size() == 2 ? int(1 - i) : -1;
        return &k;
      }
    return nullptr;
  }
  void advance(const PlannedKernel &k) {
    value = k.outputs[0];
    ++next;
  }
};

/// Whether the generated elementwise kernel `k` (a chain of elementwise ops
/// fused into one program of (opcode, a, b) triples, FusedKernels.cpp) is
/// exactly an epilogue of the value `t`: + bias, then an activation, then
/// + residual, each step reading the one before. Sets what it takes.
template <typename IsBias, typename IsResidual>
bool matchProgram(const ProgramPlan &plan, const PlannedKernel &k, uint32_t t, IsBias isBias,
                  IsResidual isResidual, int64_t &epilogue, std::vector<uint32_t> &extra,
                  bool &residual) {
  std::vector<int64_t> program = intsAttr(k, "program");
  if (program.empty() || program.size() % 3)
    return false;
  int64_t cur = 0; // the operand holding the value so far: t's input, then a triple
  int found = 0;
  for (auto [i, in] : llvm::enumerate(k.inputs))
    if (rootOf(plan, in) == rootOf(plan, t)) {
      cur = -1 - int64_t(i);
      ++found;
    }
  if (found != 1)
    return false;
  int64_t ep = 0;
  bool res = false;
  std::vector<uint32_t> taken;
  for (size_t s = 0; s < program.size() / 3; ++s) {
    int64_t op = program[3 * s], a = program[3 * s + 1], b = program[3 * s + 2];
    using tpkg::FusedOp;
    if (op == int64_t(FusedOp::Add) && (a == cur) != (b == cur)) {
      int64_t x = a == cur ? b : a;
      if (x >= 0 || size_t(-1 - x) >= k.inputs.size() || res)
        return false;
      uint32_t id = k.inputs[size_t(-1 - x)];
      if (!ep && isBias(id)) {
        ep = 1;
      } else if (isResidual(id)) {
        res = true;
      } else {
        return false;
      }
      taken.push_back(id);
    } else if ((op == int64_t(FusedOp::Relu) || op == int64_t(FusedOp::GeluErf) ||
                op == int64_t(FusedOp::GeluTanh)) &&
               a == cur && ep == 1 && !res) {
      // The matmul's epilogue attribute: 4 ReLU, 3 exact GELU, 2 tanh GELU.
      ep = op == int64_t(FusedOp::Relu) ? 4 : op == int64_t(FusedOp::GeluErf) ? 3 : 2;
    } else {
      return false;
    }
    cur = int64_t(s);
  }
  epilogue = ep;
  residual = res;
  extra = std::move(taken);
  return true;
}

} // namespace

int fuseGemmEpilogues(ProgramPlan &plan, const GemmEpilogueOptions &options) {
  int fused = 0;
  for (size_t i = 0; i + 1 < plan.kernels.size(); ++i) {
    PlannedKernel &mm = plan.kernels[i];
    if (mm.op != "matmul" || mm.inputs.size() != 2 || mm.outputs.size() != 1)
      continue;
    uint32_t t = mm.outputs[0];
    const PlannedTensor tt = plan.tensors[t];
    if (tt.aliasOf >= 0 || tt.kind != PlannedTensor::Kind::Arena || tt.shape.empty() ||
        (tt.dtype != ElementType::F32 && tt.dtype != ElementType::F64))
      continue;
    int64_t n = tt.shape.back();
    Chain chain{plan, t, i + 1, n ? tt.elements() / n : 0, n};
    int64_t epilogue = 0;
    std::vector<uint32_t> extra; // bias, residual
    bool residual = false;
    int other = -1;
    auto isBias = [&](uint32_t id) {
      const PlannedTensor &bias = plan.tensors[id];
      return bias.dtype == tt.dtype && bias.kind != PlannedTensor::Kind::Arena &&
             bias.elements() == n && (bias.shape.empty() || bias.shape.back() == n);
    };
    // The epilogue as one generated elementwise kernel (the CPU's fusion of
    // elementwise chains ran first).
    if (const PlannedKernel *ew = options.cpu ? chain.take("elementwise", other) : nullptr) {
      const std::vector<int64_t> &outShape = plan.tensors[ew->outputs[0]].shape;
      auto isResidual = [&](uint32_t id) {
        return plan.tensors[id].dtype == tt.dtype && plan.tensors[id].shape == outShape &&
               rootOf(plan, id) != t;
      };
      if (matchProgram(plan, *ew, t, isBias, isResidual, epilogue, extra, residual))
        chain.advance(*ew);
    }
    // + a bias vector of n (a weight or constant), then an activation.
    if (const PlannedKernel *add = chain.next == i + 1 ? chain.take("add", other) : nullptr;
        add && other >= 0) {
      uint32_t biasId = add->inputs[size_t(other)];
      if (isBias(biasId)) {
        extra.push_back(biasId);
        epilogue = 1;
        chain.advance(*add);
        if (const PlannedKernel *g = chain.take("gelu", other)) {
          bool tanhForm = intAttr(*g, "approximate", 0) == 1;
          if (tanhForm || options.cpu) {
            epilogue = tanhForm ? 2 : 3;
            chain.advance(*g);
          }
        } else if (const PlannedKernel *r = options.cpu ? chain.take("relu", other) : nullptr) {
          epilogue = 4;
          chain.advance(*r);
        }
      }
    }
    // + a residual of the result's shape (the CPU's binary post-op).
    if (options.cpu && !residual)
      if (const PlannedKernel *add = chain.take("add", other); add && other >= 0) {
        uint32_t r = add->inputs[size_t(other)];
        const PlannedTensor &rt = plan.tensors[r];
        if (rt.dtype == tt.dtype && rt.shape == plan.tensors[add->outputs[0]].shape &&
            rootOf(plan, r) != rootOf(plan, chain.value)) {
          extra.push_back(r);
          residual = true;
          chain.advance(*add);
        }
      }
    size_t consumed = chain.next - i - 1;
    if (!consumed)
      continue;
    // The result is born at the GEMM now: memory is planned again after.
    uint32_t out = chain.value;
    const PlannedTensor &o = plan.tensors[rootOf(plan, out)];
    if (o.kind != PlannedTensor::Kind::Arena)
      continue;
    // The GEMM writes `out` in its own shape: a view of `out` shaped like t.
    uint32_t target = out;
    if (plan.tensors[out].shape != tt.shape) {
      PlannedTensor view = tt;
      view.name = tt.name + ".epilogue";
      view.aliasOf = int32_t(rootOf(plan, out));
      view.offset = o.offset;
      view.dtype = o.dtype;
      plan.tensors.push_back(view);
      target = uint32_t(plan.tensors.size() - 1);
    }
    PlannedKernel &k = plan.kernels[i];
    k.inputs.insert(k.inputs.end(), extra.begin(), extra.end());
    k.outputs = {target};
    if (epilogue)
      k.attrs.push_back({"epilogue", {epilogue}, {}});
    if (residual)
      k.attrs.push_back({"residual", {1}, {}});
    for (size_t c = 1; c <= consumed; ++c)
      k.predictedSeconds += plan.kernels[i + c].predictedSeconds;
    plan.kernels.erase(plan.kernels.begin() + long(i) + 1,
                       plan.kernels.begin() + long(i) + 1 + long(consumed));
    ++fused;
  }
  if (fused)
    compactAndReplan(plan);
  return fused;
}

} // namespace tessera::lower
