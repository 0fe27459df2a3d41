//===- Gemm.cpp - choosing a matmul's path; the library GEMM ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "cpu/Gemm.h"
#include "cpu/Panels.h"
#include "cpu/VectorMath.h"

#if TESSERA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <cstdio>
#include <cstdlib>

namespace tessera::rt::cpu {

Status GemmEpilogue::parse(const KernelCall &call, GemmEpilogue &out) {
  int64_t kind = call.attrInt("epilogue", 0);
  out = GemmEpilogue();
  out.residual = call.attrInt("residual", 0) != 0;
  out.gate = call.attrInt("gate", 0) != 0;
  if (kind < 0 || kind > 6)
    return call.error("unknown matmul epilogue " + std::to_string(kind));
  if (out.residual && out.gate)
    return call.error("a matmul epilogue takes a residual or a gate, not both");
  out.bias = kind != 0 && kind != 5;
  out.activation = kind == 2   ? GeluTanh
                   : kind == 3 ? GeluErf
                   : kind == 4 ? Relu
                   : kind >= 5 ? Silu
                               : None;
  size_t expected = 2 + size_t(out.bias) + size_t(out.lastInput());
  if (call.inputs.size() != expected || call.outputs.size() != 1)
    return call.error("a matmul with epilogue " + std::to_string(kind) +
                      (out.residual ? " and a residual"
                       : out.gate   ? " and a gate"
                                    : "") +
                      " takes " + std::to_string(expected) + " inputs, not " +
                      std::to_string(call.inputs.size()));
  if (out.any() && call.inputs[0].dtype != DType::F32 && call.inputs[0].dtype != DType::F64)
    return call.error("a matmul epilogue needs f32 or f64");
  const TensorRef &y = call.outputs[0];
  int64_t n = y.shape.empty() ? 0 : y.shape.back();
  if (out.bias && call.inputs[2].numel() != n)
    return call.error("the epilogue's bias has " + std::to_string(call.inputs[2].numel()) +
                      " elements, the result's rows " + std::to_string(n));
  if (out.lastInput() && call.inputs.back().numel() != y.numel())
    return call.error(std::string("the epilogue's ") + (out.gate ? "gate" : "residual") +
                      " has " + std::to_string(call.inputs.back().numel()) +
                      " elements, the result " + std::to_string(y.numel()));
  return Status::okStatus();
}

/// TESSERA_GEMM=blas turns the prepared paths off; =onednn and =panels
/// force one multi-row path (for measuring them against each other).
static std::string gemmChoice() {
  static const std::string choice = [] {
    const char *env = std::getenv("TESSERA_GEMM");
    return std::string(env ? env : "");
  }();
  return choice;
}

static bool preparedEnabled() { return gemmChoice() != "blas"; }

/// Several rows times a weight: the panel GEMM (PanelGemm.cpp) where oneDNN
/// would run at AVX2 or below, where it measured faster than oneDNN 2.6 and
/// OpenBLAS; oneDNN where it has AVX-512.
static bool panelGemmPreferred() {
  if (!haveAvx2Fma() || gemmChoice() == "onednn")
    return false;
  if (gemmChoice() == "panels")
    return true;
#if TESSERA_HAVE_DNNL
  static const bool avx512 = (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) ==
                             dnnl_cpu_isa_avx512_core;
  return !avx512;
#else
  return true;
#endif
}

Status runPreparedGemm(const KernelCall &call) {
  return static_cast<const PreparedGemm &>(*call.state).run(call);
}

Status packedCopy(const PrepareContext &context, const void *weight, const std::string &layout,
                  uint64_t bytes, const Package::PackMaker &make, std::shared_ptr<void> &out) {
  char address[32];
  std::snprintf(address, sizeof address, "%p:", weight);
  std::string key = address + layout;
  if (context.package)
    return context.package->packedWeight(key, bytes, context.packBudget, make, out);
  out = nullptr;
  return bytes <= context.packBudget ? make(out) : Status::okStatus();
}

#if TESSERA_HAVE_DNNL
namespace {

dnnl::engine &engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct DnnlGemm : PreparedGemm {
  dnnl::matmul primitive;
  std::unordered_map<int, dnnl::memory> args;

  Status run(const KernelCall &call) const override {
    // Streams are cheap handles of the OpenMP runtime; one per thread, as
    // ranks run as threads of one process.
    thread_local dnnl::stream stream(engine());
    try {
      primitive.execute(stream, args);
      stream.wait();
    } catch (const dnnl::error &e) {
      return call.error(std::string("oneDNN: ") + e.what());
    }
    return Status::okStatus();
  }
};

/// The packed layout's identity: the shared copy's key.
std::string layoutKey(const dnnl::memory::desc &d) {
  const dnnl_memory_desc_t &m = d.data;
  std::string key = "dnnl";
  auto add = [&](int64_t v) { key += ":" + std::to_string(v); };
  add(m.ndims);
  for (int i = 0; i < m.ndims; ++i) {
    add(m.dims[i]);
    add(m.padded_dims[i]);
    add(m.format_desc.blocking.strides[i]);
  }
  add(m.format_kind);
  add(m.format_desc.blocking.inner_nblks);
  for (int i = 0; i < m.format_desc.blocking.inner_nblks; ++i) {
    add(m.format_desc.blocking.inner_blks[i]);
    add(m.format_desc.blocking.inner_idxs[i]);
  }
  add(m.extra.flags);
  return key;
}

Status prepareDnnlGemm(KernelCall &call, const GemmEpilogue &ep, const PrepareContext &context,
                       int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  const TensorRef &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  int64_t lda = a.shape.back(), ldb = b.shape.back();
  using dt = dnnl::memory::data_type;
  using md = dnnl::memory::desc;
  try {
    md aDesc({m, k}, dt::f32, ta ? dnnl::memory::dims{1, lda} : dnnl::memory::dims{lda, 1});
    md bPlain({k, n}, dt::f32, tb ? dnnl::memory::dims{1, ldb} : dnnl::memory::dims{ldb, 1});
    md yDesc({m, n}, dt::f32, dnnl::memory::dims{n, 1});
    // The weight is packed once into the library's own layout.
    md bDesc({k, n}, dt::f32, dnnl::memory::format_tag::any);
    dnnl::post_ops ops;
    // swish(x) = x * sigmoid(alpha x): SiLU at alpha 1.
    if (ep.activation != GemmEpilogue::None)
      ops.append_eltwise(1.0f,
                         ep.activation == GemmEpilogue::GeluTanh ? dnnl::algorithm::eltwise_gelu_tanh
                         : ep.activation == GemmEpilogue::GeluErf ? dnnl::algorithm::eltwise_gelu_erf
                         : ep.activation == GemmEpilogue::Relu    ? dnnl::algorithm::eltwise_relu
                                                                  : dnnl::algorithm::eltwise_swish,
                         ep.activation == GemmEpilogue::Silu ? 1.0f : 0.0f, 0.0f);
    if (ep.lastInput())
      ops.append_binary(ep.gate ? dnnl::algorithm::binary_mul : dnnl::algorithm::binary_add,
                        yDesc);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    md biasDesc({1, n}, dt::f32, dnnl::memory::dims{n, 1});
    dnnl::matmul::desc desc = ep.bias ? dnnl::matmul::desc(aDesc, bDesc, biasDesc, yDesc)
                                      : dnnl::matmul::desc(aDesc, bDesc, yDesc);
    dnnl::matmul::primitive_desc pd(desc, attr, engine());
    auto state = std::make_shared<DnnlGemm>();
    state->primitive = dnnl::matmul(pd);
    state->args[DNNL_ARG_SRC] = dnnl::memory(aDesc, engine(), a.data);
    state->args[DNNL_ARG_DST] = dnnl::memory(yDesc, engine(), y.data);
    dnnl::memory bMemory(bPlain, engine(), b.data);
    if (pd.weights_desc() != bPlain) {
      auto pack = [&](std::shared_ptr<void> &out) {
        auto packed = std::make_shared<dnnl::memory>(pd.weights_desc(), engine());
        dnnl::stream s(engine());
        dnnl::reorder(bMemory, *packed).execute(s, bMemory, *packed);
        s.wait();
        out = packed;
        return Status::okStatus();
      };
      std::shared_ptr<void> packed;
      std::string layout = std::to_string(int(tb)) + layoutKey(pd.weights_desc());
      if (Status s = packedCopy(context, b.data, layout, pd.weights_desc().get_size(), pack,
                                packed);
          !s.ok())
        return s;
      if (!packed)
        return Status::okStatus(); // over the memory limit: the BLAS path
      bMemory = *std::static_pointer_cast<dnnl::memory>(packed);
    }
    state->args[DNNL_ARG_WEIGHTS] = bMemory;
    if (ep.bias)
      state->args[DNNL_ARG_BIAS] = dnnl::memory(biasDesc, engine(), call.inputs[2].data);
    if (ep.lastInput())
      state->args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(ops.len() - 1) | DNNL_ARG_SRC_1] =
          dnnl::memory(yDesc, engine(), call.inputs.back().data);
    call.state = std::move(state);
  } catch (const dnnl::error &e) {
    // A shape or layout the library does not implement: the BLAS path.
    if (e.status == dnnl_unimplemented)
      return Status::okStatus();
    return call.error(std::string("oneDNN: ") + e.what());
  }
  return Status::okStatus();
}

} // namespace

std::string gemmLibrary() {
  const dnnl_version_t *v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch);
}

#else

std::string gemmLibrary() { return ""; }

#endif

Status prepareGemm(KernelCall &call, const PrepareContext &context) {
  GemmEpilogue ep;
  if (Status s = GemmEpilogue::parse(call, ep); !s.ok())
    return s;
  // Only GEMMs with a constant (packable) right operand: inference's
  // weights. Unpacked, the library measured within a few percent of
  // OpenBLAS, and a training step's GEMMs stay on one summation order
  // whatever their shapes (a partitioned step then matches one device's
  // to rounding, as test/e2e/train_zoo.test checks).
  const std::vector<bool> &constant = context.constant;
  if (!preparedEnabled() || constant.size() < 2 || !constant[1])
    return Status::okStatus();
  const TensorRef &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  if (a.dtype != DType::F32 || b.dtype != DType::F32 || y.dtype != DType::F32 ||
      a.rank() < 2 || b.rank() != 2 || y.rank() < 2)
    return Status::okStatus(); // batched right operands and other types: BLAS
  bool ta = call.attrInt("transpose_lhs", 0), tb = call.attrInt("transpose_rhs", 0);
  int64_t n = y.shape.back(), m = y.numel() / std::max<int64_t>(n, 1);
  // A transposed left operand is one matrix (rows = its last dimension).
  if (ta && a.rank() != 2)
    return Status::okStatus();
  int64_t k = ta ? a.shape[0] : a.shape.back();
  if (m < 1 || k == 0 || n == 0)
    return Status::okStatus();
  if ((tb ? b.shape[1] : b.shape[0]) != k || (tb ? b.shape[0] : b.shape[1]) != n ||
      (ta ? a.shape[1] : a.numel() / k) != m)
    return call.error("matmul operand shapes do not agree with its result");
  // One row (a decode step): the weight streamed once, from panels.
  if (m == 1)
    return preparePackedGemv(call, ep, context, k, n, tb);
  if (!ta && a.shape.back() == k && panelGemmPreferred())
    return preparePanelGemm(call, ep, context, m, k, n, tb);
#if TESSERA_HAVE_DNNL
  return prepareDnnlGemm(call, ep, context, m, n, k, ta, tb);
#else
  return Status::okStatus();
#endif
}

} // namespace tessera::rt::cpu
