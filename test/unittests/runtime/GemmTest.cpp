//===- GemmTest.cpp - the CPU matmul kernel's paths -----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The matmul kernel with every epilogue (bias, GELU tanh/erf, ReLU, SiLU,
// then a residual add or a gate multiply) and operand transposes, on the
// prepared paths (oneDNN, weights packed at prepare time; one-row products on
// panel-packed weights) and on the BLAS path, against a double-precision
// reference.
//
//===----------------------------------------------------------------------===//

#include "cpu/Gemm.h"
#include "cpu/Kernels.h"
#include "cpu/VectorMath.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace tessera;
using namespace tessera::rt;
using namespace tessera::rt::cpu;

namespace {

struct Case {
  int64_t epilogue = 0;
  bool residual = false, ta = false, tb = false, gate = false;
};

/// A flatbuffer Kernel "matmul" with the case's attributes.
std::vector<uint8_t> kernelBuffer(const Case &c) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<tpkg::Attr>> attrs;
  auto attr = [&](const char *name, int64_t v) {
    attrs.push_back(tpkg::CreateAttr(fbb, fbb.CreateString(name),
                                     fbb.CreateVector(std::vector<int64_t>{v})));
  };
  if (c.epilogue)
    attr("epilogue", c.epilogue);
  if (c.residual)
    attr("residual", 1);
  if (c.gate)
    attr("gate", 1);
  if (c.ta)
    attr("transpose_lhs", 1);
  if (c.tb)
    attr("transpose_rhs", 1);
  fbb.Finish(tpkg::CreateKernel(fbb, fbb.CreateString("matmul"), 0, 0, fbb.CreateVector(attrs),
                                fbb.CreateString("test/matmul")));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

TensorRef ref(std::vector<float> &data, std::vector<int64_t> shape) {
  TensorRef t;
  t.data = reinterpret_cast<uint8_t *>(data.data());
  t.shape = std::move(shape);
  return t;
}

double gelu(double x, bool tanhForm) {
  if (tanhForm)
    return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

/// Runs the case on one path; returns max |y - reference|. `rows` 6 (A is
/// [2, 3, k]) or 1 (A is [1, 1, k], a decode step's one-row product).
/// `k` and `n` default to odd sizes: partial library blocks and panels.
double runCase(const Case &c, bool prepared, bool &usedLibrary, int64_t rows = 6,
               int64_t k = 37, int64_t n = 29) {
  std::vector<float> a(rows * k), b(k * n), bias(n), residual(rows * n), y(rows * n, -7.0f);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = float(std::sin(0.37 * double(i)));
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = float(std::cos(0.11 * double(i)) * 0.3);
  for (size_t i = 0; i < bias.size(); ++i)
    bias[i] = float(0.05 * double(i) - 0.7);
  for (size_t i = 0; i < residual.size(); ++i)
    residual[i] = float(std::sin(0.5 * double(i)));
  std::vector<uint8_t> buffer = kernelBuffer(c);
  KernelCall call;
  call.kernel = flatbuffers::GetRoot<tpkg::Kernel>(buffer.data());
  // A is [2, 3, k] (rows over a batch), or [k, rows] transposed; B [k, n] or [n, k].
  int64_t outer = rows == 1 ? 1 : 2, inner = rows / outer;
  call.inputs.push_back(c.ta ? ref(a, {k, rows}) : ref(a, {outer, inner, k}));
  call.inputs.push_back(c.tb ? ref(b, {n, k}) : ref(b, {k, n}));
  if (c.epilogue && c.epilogue != 5)
    call.inputs.push_back(ref(bias, {n}));
  if (c.residual || c.gate)
    call.inputs.push_back(ref(residual, c.ta ? std::vector<int64_t>{rows, n}
                                             : std::vector<int64_t>{outer, inner, n}));
  call.outputs.push_back(c.ta ? ref(y, {rows, n}) : ref(y, {outer, inner, n}));
  PrepareContext context;
  context.constant.assign(call.inputs.size(), false);
  context.constant[1] = prepared;
  EXPECT_TRUE(prepareGemm(call, context).ok());
  usedLibrary = call.state != nullptr;
  Status s = cpuKernels().at("matmul")(call);
  EXPECT_TRUE(s.ok()) << s.message();
  double worst = 0;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (int64_t p = 0; p < k; ++p)
        v += double(c.ta ? a[p * rows + i] : a[i * k + p]) *
             double(c.tb ? b[j * k + p] : b[p * n + j]);
      if (c.epilogue && c.epilogue != 5)
        v += bias[j];
      if (c.epilogue == 2 || c.epilogue == 3)
        v = gelu(v, c.epilogue == 2);
      if (c.epilogue == 4)
        v = std::max(v, 0.0);
      if (c.epilogue == 5 || c.epilogue == 6)
        v = v / (1 + std::exp(-v));
      if (c.residual)
        v += residual[i * n + j];
      if (c.gate)
        v *= residual[i * n + j];
      worst = std::max(worst, std::fabs(double(y[i * n + j]) - v));
    }
  return worst;
}

/// TESSERA_GEMM=blas turns the prepared paths off.
bool blasForced() {
  const char *env = std::getenv("TESSERA_GEMM");
  return env && std::string(env) == "blas";
}

/// Every epilogue x residual x transposes x (constant weight or not) with
/// `rows` rows; `preparedPath` says whether a constant weight takes the
/// prepared path on this machine and build.
void checkEveryCase(int64_t rows, bool preparedPath) {
  for (int64_t epilogue = 0; epilogue <= 6; ++epilogue)
    for (int last = 0; last < 3; ++last) // none, a residual, a gate
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (bool prepared : {false, true}) {
            Case c{epilogue, last == 1, ta, tb, last == 2};
            bool usedPrepared = false;
            double err = runCase(c, prepared, usedPrepared, rows);
            EXPECT_LT(err, 1e-4) << "rows " << rows << " epilogue " << epilogue << " last "
                                 << last << " ta " << ta << " tb " << tb << " prepared "
                                 << prepared;
            // Exactly the GEMMs with a constant weight are prepared.
            EXPECT_EQ(usedPrepared, prepared && preparedPath && !blasForced());
          }
}

TEST(Gemm, EveryEpilogueOnBothPaths) {
  // Several rows: the library GEMM (oneDNN).
  checkEveryCase(6, !gemmLibrary().empty());
}

TEST(Gemm, SeveralRowsAcrossBlocksWithEveryEpilogue) {
  // Shapes past one block of each loop of the multi-row path taken here
  // (oneDNN, or on AVX2-only paths the panel GEMM: several K blocks of 256,
  // row blocks of up to 144, A packed whole or per K block, ragged tiles
  // and panels); the CPU-path legs of tools/test.sh run it on each.
  struct Shape {
    int64_t rows, k, n;
  };
  for (Shape shape : {Shape{14, 300, 70}, Shape{200, 700, 45}, Shape{150, 256, 16}})
    for (int64_t epilogue = 0; epilogue <= 6; ++epilogue)
      for (int last = 0; last < 3; ++last)
        for (bool tb : {false, true}) {
          Case c{epilogue, last == 1, false, tb, last == 2};
          bool usedPrepared = false;
          double err = runCase(c, /*prepared=*/true, usedPrepared, shape.rows, shape.k, shape.n);
          EXPECT_LT(err, 2e-4) << "rows " << shape.rows << " k " << shape.k << " n " << shape.n
                               << " epilogue " << epilogue << " last " << last << " tb " << tb;
          EXPECT_EQ(usedPrepared, !gemmLibrary().empty() || haveAvx2Fma() ? !blasForced()
                                                                           : false);
        }
}

TEST(Gemm, OneRowOnPanelsWithEveryEpilogue) {
  // One row: the panel kernel (AVX2/FMA).
  checkEveryCase(1, haveAvx2Fma());
}

TEST(Gemm, MalformedEpilogueIsAnError) {
  std::vector<float> a(4), b(4), y(4);
  Case c{1, false, false, false}; // a bias epilogue without its bias
  std::vector<uint8_t> buffer = kernelBuffer(c);
  KernelCall call;
  call.kernel = flatbuffers::GetRoot<tpkg::Kernel>(buffer.data());
  call.inputs = {ref(a, {2, 2}), ref(b, {2, 2})};
  call.outputs = {ref(y, {2, 2})};
  PrepareContext context;
  context.constant = {false, true};
  Status s = prepareGemm(call, context);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("takes 3 inputs, not 2"), std::string::npos) << s.message();
  EXPECT_FALSE(cpuKernels().at("matmul")(call).ok());
  // A residual and a gate at once.
  Case both{0, true, false, false, true};
  std::vector<uint8_t> bothBuffer = kernelBuffer(both);
  call.kernel = flatbuffers::GetRoot<tpkg::Kernel>(bothBuffer.data());
  call.inputs = {ref(a, {2, 2}), ref(b, {2, 2}), ref(a, {2, 2})};
  s = prepareGemm(call, context);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("a residual or a gate, not both"), std::string::npos)
      << s.message();
}

} // namespace
