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

/// Sets integer attribute `name` of `k` to `value`.
void setIntAttr(PlannedKernel &k, const char *name, int64_t value) {
  for (PlannedAttr &a : k.attrs)
    if (a.name == name) {
      a.ints = {value};
      return;
    }
  k.attrs.push_back({name, {value}, {}});
}

/// The index of the matmul kernel before `end` whose only output is `t`,
/// or -1.
int64_t matmulWriting(const ProgramPlan &plan, uint32_t t, size_t end) {
  for (size_t i = 0; i < end; ++i) {
    const PlannedKernel &k = plan.kernels[i];
    if (k.outputs.size() == 1 && k.outputs[0] == t)
      return k.op == "matmul" ? int64_t(i) : -1;
  }
  return -1;
}

/// SwiGLU's silu(x Wg) * (x Wu): a generated elementwise kernel whose
/// program is exactly SiLU of one input times the other, both inputs results
/// of matmuls that nothing else reads. The gate's matmul takes SiLU as its
/// epilogue (after its bias, if it has one); the later of the two matmuls
/// then multiplies by the other's result (`gate` = 1) and writes the
/// elementwise kernel's result, which goes. Returns the number fused.
int fuseGatedPairs(ProgramPlan &plan) {
  using tpkg::FusedOp;
  int fused = 0;
  for (size_t e = 0; e < plan.kernels.size(); ++e) {
    const PlannedKernel &ew = plan.kernels[e];
    if (ew.op != "elementwise" || ew.inputs.size() != 2 || ew.outputs.size() != 1)
      continue;
    std::vector<int64_t> p = intsAttr(ew, "program");
    if (p.size() != 6 || p[0] != int64_t(FusedOp::Silu) || p[1] >= 0 ||
        p[3] != int64_t(FusedOp::Mul) || (p[4] != 0 && p[5] != 0))
      continue;
    int64_t other = p[4] == 0 ? p[5] : p[4];
    if (other >= 0 || other == p[1])
      continue;
    uint32_t gateIn = ew.inputs[size_t(-1 - p[1])], upIn = ew.inputs[size_t(-1 - other)];
    const PlannedTensor &out = plan.tensors[ew.outputs[0]];
    auto plain = [&](uint32_t id) {
      const PlannedTensor &t = plan.tensors[id];
      return t.aliasOf < 0 && t.kind == PlannedTensor::Kind::Arena && t.shape == out.shape &&
             t.dtype == ElementType::F32 && readersOf(plan, id) == 1;
    };
    if (gateIn == upIn || out.dtype != ElementType::F32 || out.aliasOf >= 0 ||
        !plain(gateIn) || !plain(upIn))
      continue;
    int64_t g = matmulWriting(plan, gateIn, e), u = matmulWriting(plan, upIn, e);
    if (g < 0 || u < 0)
      continue;
    auto bare = [&](int64_t i, bool activationAllowed) {
      const PlannedKernel &k = plan.kernels[size_t(i)];
      int64_t ep = intAttr(k, "epilogue", 0);
      return !intAttr(k, "residual", 0) && !intAttr(k, "gate", 0) &&
             (ep == 0 || ep == 1 || activationAllowed);
    };
    if (!bare(g, false) || !bare(u, true))
      continue;
    PlannedKernel &gate = plan.kernels[size_t(g)];
    setIntAttr(gate, "epilogue", intAttr(gate, "epilogue", 0) == 1 ? 6 : 5);
    PlannedKernel &later = plan.kernels[size_t(std::max(g, u))];
    later.inputs.push_back(g > u ? upIn : gateIn);
    later.outputs = {ew.outputs[0]};
    setIntAttr(later, "gate", 1);
    later.predictedSeconds += ew.predictedSeconds;
    plan.kernels.erase(plan.kernels.begin() + long(e));
    --e;
    ++fused;
  }
  return fused;
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
  if (options.cpu)
    fused += fuseGatedPairs(plan);
  if (fused)
    compactAndReplan(plan);
  return fused;
}

} // namespace tessera::lower
