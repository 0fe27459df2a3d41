//===- CudaCodegen.cpp - CUDA C++ for a rank's program --------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/CudaCodegen.h"
#include "tessera/runtime/tpkg_generated.h"

#include "passes/lower/CudaKernelSources.inc"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>

namespace tessera::lower {

const char *cudaPreludeSource() { return kPreludeSource; }
const char *cudaAttentionSource() { return kAttentionSource; }
const char *cudaAttentionTcSource() { return kAttentionTcSource; }
const char *cudaEmulationHeader() { return kEmulationSource; }

namespace {

using Shape = std::vector<int64_t>;

const char *ctype(ElementType t) {
  switch (t) {
  case ElementType::F32: return "float";
  case ElementType::F16: return "half_t";
  case ElementType::BF16: return "bf16";
  case ElementType::F64: return "double";
  case ElementType::I8: return "signed char";
  case ElementType::I32: return "int";
  case ElementType::I64: return "long long";
  case ElementType::Bool: return "unsigned char";
  }
  return "float";
}

bool isFloat(ElementType t) {
  return t == ElementType::F32 || t == ElementType::F16 || t == ElementType::BF16 ||
         t == ElementType::F64;
}

/// The type arithmetic on `t` happens in.
const char *computeType(ElementType t) {
  if (t == ElementType::F64)
    return "double";
  return isFloat(t) ? "float" : "long long";
}

std::string lit(double v) {
  if (std::isinf(v))
    return v > 0 ? "TSR_INF" : "(-TSR_INF)";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

int64_t numel(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

Shape rowMajorStrides(const Shape &s) {
  Shape st(s.size(), 1);
  for (int64_t d = int64_t(s.size()) - 2; d >= 0; --d)
    st[size_t(d)] = st[size_t(d) + 1] * s[size_t(d) + 1];
  return st;
}

/// Strides of `s` aligned to `rank` trailing dimensions, 0 where it broadcasts.
Shape broadcastStrides(const Shape &s, size_t rank) {
  Shape st(rank, 0), own = rowMajorStrides(s);
  for (size_t i = 0; i < s.size(); ++i) {
    size_t d = rank - s.size() + i;
    st[d] = s[i] == 1 ? 0 : own[i];
  }
  return st;
}

/// Declares c0..c{r-1}, the coordinates of linear index `idx` in `shape`.
/// With `narrow` (every tensor of the kernel has fewer than 2^31 elements)
/// the index arithmetic is 32-bit: division by a constant is then a short
/// multiply-shift instead of a 64-bit sequence.
std::string decompose(const Shape &shape, const std::string &idx, const std::string &c,
                      bool narrow) {
  const char *type = narrow ? "unsigned" : "long long", *suffix = narrow ? "u" : "LL";
  std::ostringstream os;
  os << "    " << type << " t_ = " << idx << ";\n";
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    os << "    " << type << " " << c << d << " = ";
    if (d == 0)
      os << "t_;\n";
    else
      os << "t_ % " << shape[size_t(d)] << suffix << "; t_ /= " << shape[size_t(d)] << suffix
         << ";\n";
  }
  os << "    (void)t_;\n";
  return os.str();
}

/// sum_d coords[d] * strides[d] (coordinates named c0.., or given).
std::string offset(const Shape &strides, const std::vector<std::string> &coords,
                   bool narrow) {
  std::string s;
  for (size_t d = 0; d < strides.size(); ++d) {
    if (strides[d] == 0)
      continue;
    if (!s.empty())
      s += " + ";
    s += coords[d] +
         (strides[d] == 1 ? "" : " * " + std::to_string(strides[d]) + (narrow ? "u" : "LL"));
  }
  return s.empty() ? "0" : s;
}
std::vector<std::string> coordNames(size_t rank, const std::string &c = "c") {
  std::vector<std::string> n;
  for (size_t d = 0; d < rank; ++d)
    n.push_back(c + std::to_string(d));
  return n;
}

const PlannedAttr *findAttr(const PlannedKernel &k, const char *name) {
  for (const PlannedAttr &a : k.attrs)
    if (a.name == name)
      return &a;
  return nullptr;
}
int64_t attrInt(const PlannedKernel &k, const char *name, int64_t dflt) {
  const PlannedAttr *a = findAttr(k, name);
  return a && !a->ints.empty() ? a->ints[0] : dflt;
}
double attrFloat(const PlannedKernel &k, const char *name, double dflt) {
  const PlannedAttr *a = findAttr(k, name);
  return a && !a->floats.empty() ? a->floats[0] : dflt;
}
Shape attrInts(const PlannedKernel &k, const char *name) {
  const PlannedAttr *a = findAttr(k, name);
  return a ? a->ints : Shape{};
}

/// One generated kernel before naming: its parameters, body and launch.
struct Body {
  std::string text;
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block = 256;
};

class Generator {
public:
  Generator(const ProgramPlan &plan, const PlannedKernel &k) : plan_(plan), k_(k) {
    for (auto list : {&k.inputs, &k.outputs})
      for (uint32_t id : *list)
        narrow_ = narrow_ && numel(plan.tensors[id].shape) < (int64_t(1) << 31);
  }

  const PlannedTensor &in(size_t i) const { return plan_.tensors[k_.inputs[i]]; }
  const PlannedTensor &out(size_t i) const { return plan_.tensors[k_.outputs[i]]; }

  /// The parameter list: inputs then outputs, typed pointers.
  std::vector<std::string> paramTypes() const {
    std::vector<std::string> types;
    for (uint32_t id : k_.inputs)
      types.push_back(std::string("const ") + ctype(plan_.tensors[id].dtype) + " *");
    for (uint32_t id : k_.outputs)
      types.push_back(std::string(ctype(plan_.tensors[id].dtype)) + " *");
    return types;
  }
  std::string params() const {
    std::vector<std::string> types = paramTypes();
    std::string s;
    for (size_t i = 0; i < types.size(); ++i) {
      bool isIn = i < k_.inputs.size();
      s += (i ? ", " : "") + types[i] + "__restrict__ " +
           (isIn ? "in" + std::to_string(i) : "out" + std::to_string(i - k_.inputs.size()));
    }
    return s;
  }

  /// A kernel with one thread per element of `shape` (grid-stride), whose
  /// `body` sees coordinates c0.. and the linear index i.
  Body map(const Shape &shape, const std::string &body) const {
    Body b;
    int64_t n = numel(shape);
    std::ostringstream os;
    os << "  " << (narrow_ ? "TSR_GRID_STRIDE32" : "TSR_GRID_STRIDE") << "(i, " << n << "LL) {\n"
       << decompose(shape, "i", "c", narrow_) << body << "  }\n";
    b.text = os.str();
    b.block = 256;
    b.grid[0] = uint32_t(std::clamp<int64_t>((n + 255) / 256, 1, 1 << 20));
    return b;
  }

  /// The value of input `i` at output coordinates (NumPy broadcasting).
  std::string loadBroadcast(size_t i, const Shape &outShape) const {
    Shape st = broadcastStrides(in(i).shape, outShape.size());
    return "tsr_ld(in" + std::to_string(i) + " + (" + offset(st, coordNames(outShape.size()), narrow_) +
           "))";
  }

  bool generate(Body &b, std::string &error);
  /// Whether the kernel uses attention_tc.cuh.
  bool usesTensorCores() const { return usesTensorCores_; }

private:
  bool unary(const std::string &op, Body &b, std::string &error);
  bool binary(const std::string &op, Body &b, std::string &error);
  bool fused(Body &b, std::string &error);
  bool rows(Body &b, std::string &error);
  bool reduce(Body &b, std::string &error);
  bool attention(Body &b, std::string &error);

  const ProgramPlan &plan_;
  const PlannedKernel &k_;
  bool usesTensorCores_ = false;
  bool narrow_ = true; ///< 32-bit index arithmetic
};

std::string unaryExpr(const std::string &op, const std::string &a, const char *ct) {
  std::string T = ct;
  if (op == "neg") return "(-" + a + ")";
  if (op == "abs") return "tsr_abs(" + a + ")";
  if (op == "relu") return "(" + a + " > (" + T + ")0 ? " + a + " : (" + T + ")0)";
  if (op == "exp") return "tsr_exp(" + a + ")";
  if (op == "log") return "tsr_log(" + a + ")";
  if (op == "sqrt") return "tsr_sqrt(" + a + ")";
  if (op == "rsqrt") return "((" + T + ")1 / tsr_sqrt(" + a + "))";
  if (op == "reciprocal") return "((" + T + ")1 / " + a + ")";
  if (op == "tanh") return "tsr_tanh(" + a + ")";
  if (op == "erf") return "tsr_erf(" + a + ")";
  if (op == "sigmoid") return "tsr_sigmoid(" + a + ")";
  if (op == "sin") return "tsr_sin(" + a + ")";
  if (op == "cos") return "tsr_cos(" + a + ")";
  if (op == "silu") return "(" + a + " * tsr_sigmoid(" + a + "))";
  if (op == "not") return "(" + T + ")(!" + a + ")";
  if (op == "gelu") return "tsr_gelu(" + a + ")";
  return "";
}

std::string binaryExpr(const std::string &op, const std::string &a, const std::string &b,
                       const char *ct) {
  std::string T = ct;
  if (op == "add") return "(" + a + " + " + b + ")";
  if (op == "sub") return "(" + a + " - " + b + ")";
  if (op == "mul") return "(" + a + " * " + b + ")";
  if (op == "div") return "tsr_div(" + a + ", " + b + ")";
  if (op == "pow") return "tsr_pow(" + a + ", " + b + ")";
  if (op == "max") return "tsr_max(" + a + ", " + b + ")";
  if (op == "min") return "tsr_min(" + a + ", " + b + ")";
  if (op == "and") return "(" + T + ")(" + a + " && " + b + ")";
  if (op == "or") return "(" + T + ")(" + a + " || " + b + ")";
  if (op == "xor") return "(" + T + ")((" + a + " != 0) != (" + b + " != 0))";
  return "";
}

bool Generator::unary(const std::string &op, Body &b, std::string &error) {
  const char *ct = computeType(in(0).dtype);
  std::string e = unaryExpr(op, "a", ct);
  if (op == "gelu" && attrInt(k_, "approximate", 0) == 1)
    e = "tsr_gelu_tanh(a)";
  if (e.empty() || (!isFloat(in(0).dtype) && op != "neg" && op != "abs" && op != "relu" &&
                    op != "not")) {
    error = "no CUDA kernel for '" + op + "' on this element type";
    return false;
  }
  b = map(out(0).shape, std::string("    ") + ct + " a = " + loadBroadcast(0, out(0).shape) +
                            ";\n    tsr_st(out0 + i, (" + computeType(out(0).dtype) + ")(" +
                            e + "));\n");
  return true;
}

bool Generator::binary(const std::string &op, Body &b, std::string &error) {
  const char *ct = computeType(in(0).dtype);
  std::string e = binaryExpr(op, "a", "b", ct);
  if (e.empty()) {
    error = "no CUDA kernel for '" + op + "'";
    return false;
  }
  const Shape &s = out(0).shape;
  b = map(s, std::string("    ") + ct + " a = " + loadBroadcast(0, s) + ";\n    " + ct +
                 " b = " + loadBroadcast(1, s) + ";\n    tsr_st(out0 + i, (" +
                 computeType(out(0).dtype) + ")(" + e + "));\n");
  return true;
}

/// The "elementwise" kernel: (opcode, a, b) triples, as the CPU backend's
/// FusedKernels.cpp reads them.
bool Generator::fused(Body &b, std::string &error) {
  Shape program = attrInts(k_, "program");
  if (program.empty() || program.size() % 3) {
    error = "malformed fused program";
    return false;
  }
  using tpkg::FusedOp;
  auto opcode = [](FusedOp op) { return int64_t(op); };
  static const std::map<int64_t, std::string> binaries = {
      {opcode(FusedOp::Add), "add"}, {opcode(FusedOp::Sub), "sub"}, {opcode(FusedOp::Mul), "mul"},
      {opcode(FusedOp::Div), "div"}, {opcode(FusedOp::Max), "max"}, {opcode(FusedOp::Min), "min"},
      {opcode(FusedOp::Pow), "pow"}};
  static const std::map<int64_t, std::string> unaries = {
      {opcode(FusedOp::Neg), "neg"},         {opcode(FusedOp::Abs), "abs"},
      {opcode(FusedOp::Relu), "relu"},       {opcode(FusedOp::Exp), "exp"},
      {opcode(FusedOp::Log), "log"},         {opcode(FusedOp::Sqrt), "sqrt"},
      {opcode(FusedOp::Rsqrt), "rsqrt"},     {opcode(FusedOp::Reciprocal), "reciprocal"},
      {opcode(FusedOp::Tanh), "tanh"},       {opcode(FusedOp::Erf), "erf"},
      {opcode(FusedOp::Sigmoid), "sigmoid"}, {opcode(FusedOp::Sin), "sin"},
      {opcode(FusedOp::Cos), "cos"},         {opcode(FusedOp::Silu), "silu"},
      {opcode(FusedOp::GeluErf), "gelu"}};
  const Shape &s = out(0).shape;
  std::ostringstream os;
  for (size_t i = 0; i < k_.inputs.size(); ++i)
    os << "    float x" << i << " = " << loadBroadcast(i, s) << ";\n";
  size_t steps = program.size() / 3;
  for (size_t st = 0; st < steps; ++st) {
    int64_t code = program[3 * st], a = program[3 * st + 1], c = program[3 * st + 2];
    for (int64_t r : {a, c})
      if (r >= int64_t(st) || (r < 0 && size_t(-1 - r) >= k_.inputs.size())) {
        error = "malformed fused program operand";
        return false;
      }
    auto operand = [](int64_t r) {
      return r >= 0 ? "r" + std::to_string(r) : "x" + std::to_string(-1 - r);
    };
    std::string e;
    if (auto it = binaries.find(code); it != binaries.end())
      e = binaryExpr(it->second, operand(a), operand(c), "float");
    else if (auto u = unaries.find(code); u != unaries.end())
      e = unaryExpr(u->second, operand(a), "float");
    else if (code == opcode(FusedOp::GeluTanh))
      e = "tsr_gelu_tanh(" + operand(a) + ")";
    if (e.empty()) {
      error = "fused program opcode " + std::to_string(code) + " has no CUDA form";
      return false;
    }
    os << "    float r" << st << " = " << e << ";\n";
  }
  // Output k is register outputs[k] (one output: the last register).
  Shape results = attrInts(k_, "outputs");
  if (results.empty())
    results.push_back(int64_t(steps) - 1);
  if (results.size() != k_.outputs.size()) {
    error = "malformed fused program outputs";
    return false;
  }
  for (size_t o = 0; o < results.size(); ++o) {
    if (results[o] < 0 || results[o] >= int64_t(steps)) {
      error = "malformed fused program output";
      return false;
    }
    os << "    tsr_st(out" << o << " + i, r" << results[o] << ");\n";
  }
  b = map(s, os.str());
  return true;
}

/// softmax, layer_norm, rms_norm: one block per row.
bool Generator::rows(Body &b, std::string &error) {
  const std::string &op = k_.op;
  const Shape &x = in(0).shape;
  int64_t rank = int64_t(x.size());
  int64_t axis = attrInt(k_, "axis", rank - 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank) {
    error = "axis out of range";
    return false;
  }
  int64_t outer = 1, dim = 1, inner = 1;
  std::ostringstream os;
  if (op == "softmax") {
    for (int64_t d = 0; d < rank; ++d)
      (d < axis ? outer : d == axis ? dim : inner) *= x[size_t(d)];
  } else {
    for (int64_t d = 0; d < rank; ++d)
      (d < axis ? outer : dim) *= x[size_t(d)];
  }
  int64_t rowsCount = outer * inner;
  uint32_t block = 32;
  while (block < 256 && block < dim)
    block *= 2;
  b.block = block;
  b.grid[0] = uint32_t(std::min<int64_t>(rowsCount, 1 << 20));
  os << "  __shared__ float red[" << block << "];\n"
     << "  for (long long row = blockIdx.x; row < " << rowsCount
     << "LL; row += gridDim.x) {\n"
     << "    long long base = (row / " << inner << "LL) * " << dim * inner
     << "LL + row % " << inner << "LL;\n";
  std::string at = "base + j * " + std::to_string(inner) + "LL";
  os << "    #define X(j) tsr_ld(in0 + " << at << ")\n";
  if (op == "softmax") {
    os << "    float m = -TSR_INF;\n"
       << "    for (long long j = threadIdx.x; j < " << dim << "LL; j += " << block
       << ") m = tsr_max(m, X(j));\n"
       << "    m = tsr_block_max(m, red);\n"
       << "    float s = 0.0f;\n"
       << "    for (long long j = threadIdx.x; j < " << dim << "LL; j += " << block
       << ") s += tsr_exp(X(j) - m);\n"
       << "    s = tsr_block_sum(s, red);\n"
       << "    float inv = 1.0f / s;\n" // all masked: m = -inf, NaN as ONNX gives
       << "    for (long long j = threadIdx.x; j < " << dim << "LL; j += " << block
       << ") tsr_st(out0 + " << at << ", m == -TSR_INF ? TSR_NAN : tsr_exp(X(j) - m) * inv);\n";
  } else {
    bool centered = op == "layer_norm";
    double eps = attrFloat(k_, "epsilon", 1e-5);
    os << "    float mean = 0.0f;\n";
    if (centered)
      os << "    for (long long j = threadIdx.x; j < " << dim << "LL; j += " << block
         << ") mean += X(j);\n"
         << "    mean = tsr_block_sum(mean, red) / " << dim << ".0f;\n";
    os << "    float var = 0.0f;\n"
       << "    for (long long j = threadIdx.x; j < " << dim << "LL; j += " << block
       << ") { float d = X(j) - mean; var += d * d; }\n"
       << "    var = tsr_block_sum(var, red) / " << dim << ".0f;\n"
       << "    float inv = 1.0f / tsr_sqrt(var + " << lit(eps) << "f);\n"
       << "    for (long long j = threadIdx.x; j < " << dim << "LL; j += " << block
       << ") tsr_st(out0 + " << at << ", (X(j) - mean) * inv * tsr_ld(in1 + j)"
       << (k_.inputs.size() > 2 ? " + tsr_ld(in2 + j)" : "") << ");\n";
  }
  os << "    #undef X\n  }\n";
  b.text = os.str();
  return true;
}

bool Generator::reduce(Body &b, std::string &error) {
  const Shape &x = in(0).shape;
  size_t rank = x.size();
  Shape axes = attrInts(k_, "axes");
  std::vector<bool> reduced(rank, false);
  for (int64_t a : axes) {
    if (a < 0)
      a += int64_t(rank);
    if (a < 0 || a >= int64_t(rank)) {
      error = "reduction axis out of range";
      return false;
    }
    reduced[size_t(a)] = true;
  }
  std::string kind = k_.op.substr(7); // reduce_<kind>
  const char *ct = computeType(x.empty() ? in(0).dtype : in(0).dtype);
  std::string accT = isFloat(in(0).dtype) ? "double" : "long long";
  std::string init = kind == "max"    ? (accT == "double" ? "-TSR_INF" : "(-9223372036854775807LL - 1)")
                     : kind == "min"  ? (accT == "double" ? "TSR_INF" : "9223372036854775807LL")
                     : kind == "prod" ? "1"
                                      : "0";
  if (kind != "sum" && kind != "mean" && kind != "max" && kind != "min" && kind != "prod") {
    error = "no CUDA kernel for '" + k_.op + "'";
    return false;
  }
  // One thread per output element, looping over the reduced coordinates.
  Shape kept, keptStride, red, redStride, st = rowMajorStrides(x);
  int64_t count = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      red.push_back(x[d]);
      redStride.push_back(st[d]);
      count *= x[d];
    } else {
      kept.push_back(x[d]);
      keptStride.push_back(st[d]);
    }
  }
  std::ostringstream os;
  os << "    long long base = " << offset(keptStride, coordNames(kept.size()), narrow_) << ";\n"
     << "    " << accT << " acc = " << init << ";\n"
     << "    for (long long r = 0; r < " << count << "LL; ++r) {\n"
     << "  " << decompose(red, "r", "q", narrow_) << "      " << accT << " v = ("
     << accT << ")tsr_ld(in0 + base + " << offset(redStride, coordNames(red.size(), "q"), narrow_)
     << ");\n      acc = ";
  if (kind == "max") os << "v > acc ? v : acc;\n";
  else if (kind == "min") os << "v < acc ? v : acc;\n";
  else if (kind == "prod") os << "acc * v;\n";
  else os << "acc + v;\n";
  os << "    }\n    tsr_st(out0 + i, (" << computeType(out(0).dtype) << ")(acc"
     << (kind == "mean" ? " / " + std::to_string(count) : std::string()) << "));\n";
  (void)ct;
  b = map(kept, os.str());
  return true;
}

bool Generator::attention(Body &b, std::string &error) {
  const Shape &q = in(0).shape, &k = in(1).shape, &v = in(2).shape;
  Shape dims = attrInts(k_, "dims"), views = attrInts(k_, "views");
  if (dims.empty()) {
    if (q.size() != 4 || k.size() != 4 || v.size() != 4) {
      error = "attention expects rank-4 q, k, v";
      return false;
    }
    dims = {q[0], q[1], k[1], q[2], k[2], q[3], v[3]};
  }
  if (dims.size() != 7 || (!views.empty() && views.size() != 16)) {
    error = "malformed attention dims or views";
    return false;
  }
  int64_t B = dims[0], H = dims[1], Hkv = dims[2], S = dims[3], T = dims[4], D = dims[5],
          Dv = dims[6];
  if (views.empty())
    views = {0, H * S * D,   S * D,  D,  0, Hkv * T * D, T * D, D,
             0, Hkv * T * Dv, T * Dv, Dv, 0, H * S * Dv,  S * Dv, Dv};
  std::string viewArgs;
  for (int64_t w : views)
    viewArgs += ", " + std::to_string(w) + "LL";
  if (Hkv == 0 || H % Hkv || D > 256 || Dv > 256) {
    error = "attention shape unsupported by the CUDA kernel";
    return false;
  }
  bool hasMask = k_.inputs.size() > 3;
  Shape ms(4, 0);
  int maskKind = 0;
  std::string maskType = "float", maskArg = "(const float *)0";
  if (hasMask) {
    ms = broadcastStrides(in(3).shape, 4);
    maskKind = in(3).dtype == ElementType::Bool ? 2 : 1;
    maskType = ctype(in(3).dtype);
    maskArg = "in3";
  }
  ElementType et = in(0).dtype;
  bool half = et == ElementType::BF16 || et == ElementType::F16;
  if (half && in(1).dtype == et && in(2).dtype == et && D % 16 == 0 && Dv % 16 == 0 &&
      D <= 128 && Dv <= 128) {
    // Tensor cores (kernels/cuda/attention_tc.cuh).
    usesTensorCores_ = true;
    std::ostringstream os;
    os << "  tsr_attention_tc<" << ctype(et) << ", " << maskType << ", " << ctype(out(0).dtype)
       << ", " << D << ", " << Dv << ", 32, " << (attrInt(k_, "causal", 0) ? "true" : "false")
       << ", " << maskKind << ">(in0, in1, in2, " << maskArg << ", out0, " << H << ", " << Hkv
       << ", " << S << ", " << T << ", " << lit(attrFloat(k_, "scale", 1.0)) << "f, " << ms[0]
       << "LL, " << ms[1] << "LL, " << ms[2] << "LL, " << ms[3] << "LL" << viewArgs << ");\n";
    b.text = os.str();
    b.block = 128;
    b.grid[0] = uint32_t((S + 63) / 64);
    b.grid[1] = uint32_t(H);
    b.grid[2] = uint32_t(B);
    return true;
  }
  int64_t bq = 64, bk = 64;
  while (bk > 8 && bk * (D + Dv) * 4 > 40 * 1024)
    bk /= 2;
  std::ostringstream os;
  os << "  tsr_attention<" << ctype(in(0).dtype) << ", " << ctype(in(1).dtype) << ", "
     << ctype(in(2).dtype) << ", " << maskType << ", " << ctype(out(0).dtype) << ", " << D
     << ", " << Dv << ", " << bq << ", " << bk << ", "
     << (attrInt(k_, "causal", 0) ? "true" : "false") << ", " << maskKind
     << ">(in0, in1, in2, " << maskArg << ", out0, " << H << ", " << Hkv << ", " << S << ", "
     << T << ", " << lit(attrFloat(k_, "scale", 1.0)) << "f, " << ms[0] << "LL, " << ms[1]
     << "LL, " << ms[2] << "LL, " << ms[3] << "LL" << viewArgs << ");\n";
  b.text = os.str();
  b.block = uint32_t(bq);
  b.grid[0] = uint32_t((S + bq - 1) / bq);
  b.grid[1] = uint32_t(H);
  b.grid[2] = uint32_t(B);
  return true;
}

bool Generator::generate(Body &b, std::string &error) {
  const std::string &op = k_.op;
  if (op == "elementwise")
    return fused(b, error);
  if (!unaryExpr(op, "a", "float").empty())
    return unary(op, b, error);
  if (!binaryExpr(op, "a", "b", "float").empty())
    return binary(op, b, error);
  if (op == "softmax" || op == "layer_norm" || op == "rms_norm") {
    if (!isFloat(in(0).dtype) || in(0).dtype == ElementType::F64) {
      error = "no CUDA '" + op + "' for this element type";
      return false;
    }
    return rows(b, error);
  }
  if (op.rfind("reduce_", 0) == 0)
    return reduce(b, error);
  if (op == "attention") {
    if (attrFloat(k_, "softcap", 0.0) != 0.0) {
      error = "no CUDA attention with soft-capped scores (Gemma 2) yet";
      return false;
    }
    return attention(b, error);
  }
  const Shape &y = out(0).shape;
  size_t rank = y.size();
  auto names = coordNames(rank);
  if (op == "compare") {
    static const char *preds[] = {"==", "!=", "<", "<=", ">", ">="};
    int64_t p = attrInt(k_, "predicate", 0);
    if (p < 0 || p > 5) {
      error = "unknown comparison predicate";
      return false;
    }
    const char *ct = computeType(in(0).dtype);
    b = map(y, std::string("    ") + ct + " a = " + loadBroadcast(0, y) + ";\n    " + ct +
                   " b = " + loadBroadcast(1, y) + ";\n    tsr_st(out0 + i, (long long)(a " +
                   preds[p] + " b));\n");
    return true;
  }
  if (op == "select") {
    const char *ct = computeType(out(0).dtype);
    b = map(y, "    tsr_st(out0 + i, " + loadBroadcast(0, y) + " ? (" + ct + ")" +
                   loadBroadcast(1, y) + " : (" + ct + ")" + loadBroadcast(2, y) + ");\n");
    return true;
  }
  if (op == "cast") {
    ElementType from = in(0).dtype, to = out(0).dtype;
    std::string v = "tsr_ld(in0 + i)";
    std::string e;
    if (to == ElementType::Bool)
      e = "(long long)(" + v + " != 0)";
    else if (isFloat(from) && !isFloat(to))
      e = "(long long)tsr_trunc(" + v + ")";
    else
      e = std::string("(") + computeType(to) + ")" + v;
    b = map(y, "    tsr_st(out0 + i, " + e + ");\n");
    return true;
  }
  if (op == "broadcast") {
    b = map(y, "    out0[i] = in0[" + offset(broadcastStrides(in(0).shape, rank), names, narrow_) +
                   "];\n");
    return true;
  }
  if (op == "transpose") {
    Shape perm = attrInts(k_, "permutation"), inSt = rowMajorStrides(in(0).shape), src(rank);
    if (perm.size() != rank) {
      error = "transpose permutation does not match the rank";
      return false;
    }
    for (size_t d = 0; d < rank; ++d)
      src[d] = inSt[size_t(perm[d])];
    b = map(y, "    out0[i] = in0[" + offset(src, names, narrow_) + "];\n");
    return true;
  }
  if (op == "slice") {
    Shape start = attrInts(k_, "start"), steps = attrInts(k_, "strides");
    Shape inSt = rowMajorStrides(in(0).shape);
    if (steps.empty())
      steps.assign(rank, 1);
    if (start.size() != rank || steps.size() != rank) {
      error = "slice attributes do not match the rank";
      return false;
    }
    int64_t base = 0;
    Shape st(rank);
    for (size_t d = 0; d < rank; ++d) {
      base += start[d] * inSt[d];
      st[d] = steps[d] * inSt[d];
    }
    // Negative steps: the offset expression handles any sign.
    std::string off;
    for (size_t d = 0; d < rank; ++d)
      if (st[d])
        off += " + " + names[d] + " * (" + std::to_string(st[d]) + "LL)";
    b = map(y, "    out0[i] = in0[" + std::to_string(base) + "LL" + off + "];\n");
    return true;
  }
  if (op == "concat" || op == "split") {
    int64_t axis = attrInt(k_, "axis", 0);
    if (axis < 0)
      axis += int64_t(rank);
    bool isConcat = op == "concat";
    const Shape &whole = isConcat ? y : in(0).shape;
    size_t parts = isConcat ? k_.inputs.size() : k_.outputs.size();
    std::ostringstream os;
    int64_t at = 0;
    auto wholeNames = coordNames(whole.size());
    for (size_t p = 0; p < parts; ++p) {
      const Shape &ps = isConcat ? in(p).shape : out(p).shape;
      std::vector<std::string> local = wholeNames;
      local[size_t(axis)] = "(c" + std::to_string(axis) + " - " + std::to_string(at) + "LL)";
      std::string partIdx = offset(rowMajorStrides(ps), local, narrow_);
      os << "    " << (p ? "else " : "") << "if (c" << axis << " < "
         << at + ps[size_t(axis)] << "LL) ";
      if (isConcat)
        os << "out0[i] = in" << p << "[" << partIdx << "];\n";
      else
        os << "out" << p << "[" << partIdx << "] = in0[i];\n";
      at += ps[size_t(axis)];
    }
    b = map(whole, os.str());
    return true;
  }
  if (op == "gather") {
    const Shape &x = in(0).shape, &idx = in(1).shape;
    int64_t axis = attrInt(k_, "axis", 0);
    if (axis < 0)
      axis += int64_t(x.size());
    Shape xs = rowMajorStrides(x);
    bool sharded = findAttr(k_, "row_offset") != nullptr;
    int64_t rowOffset = attrInt(k_, "row_offset", 0), dim = x[size_t(axis)];
    // Output coordinates: x[:axis], indices dims, x[axis+1:].
    size_t ni = idx.size();
    std::vector<std::string> idxCoords, xCoords;
    for (size_t d = 0; d < ni; ++d)
      idxCoords.push_back(names[size_t(axis) + d]);
    std::ostringstream os;
    os << "    long long k = tsr_ld(in1 + (" << offset(rowMajorStrides(idx), idxCoords, narrow_)
       << "));\n";
    if (sharded)
      os << "    k -= " << rowOffset << "LL;\n    if (k < 0 || k >= " << dim
         << "LL) { tsr_st(out0 + i, 0); continue; }\n";
    else
      os << "    if (k < 0) k += " << dim << "LL;\n    if (k < 0 || k >= " << dim
         << "LL) k = 0; /* checked on the host side by the CPU backend */\n";
    for (size_t d = 0; d < x.size(); ++d) {
      if (int64_t(d) < axis)
        xCoords.push_back(names[d]);
      else if (int64_t(d) == axis)
        xCoords.push_back("k");
      else
        xCoords.push_back(names[d + ni - 1]);
    }
    os << "    out0[i] = in0[" << offset(xs, xCoords, narrow_) << "];\n";
    b = map(y, os.str());
    return true;
  }
  if (op == "rotary") {
    const Shape &x = in(0).shape, &cs = in(1).shape;
    int64_t D = x.back(), R = cs.back(), half = R / 2;
    bool interleaved = attrInt(k_, "interleaved", 0) != 0;
    Shape rowShape(x.begin(), x.end() - 1), csRow(cs.begin(), cs.end() - 1);
    Shape csSt = broadcastStrides(csRow, rowShape.size());
    for (int64_t &s : csSt)
      s *= R;
    std::vector<std::string> rowNames(names.begin(), names.end() - 1);
    std::string e = names.back();
    std::ostringstream os;
    os << "    long long cb = " << offset(csSt, rowNames, narrow_) << ", rb = i - " << e << ";\n"
       << "    if (" << e << " >= " << R << "LL) { tsr_st(out0 + i, tsr_ld(in0 + i)); continue; }\n";
    if (interleaved)
      os << "    bool first = (" << e << " % 2) == 0; long long p = first ? " << e << " : " << e
         << " - 1, q = p + 1;\n";
    else
      os << "    bool first = " << e << " < " << half << "LL; long long p = first ? " << e
         << " : " << e << " - " << half << "LL, q = p + " << half << "LL;\n";
    os << "    float a = tsr_ld(in0 + rb + p), b = tsr_ld(in0 + rb + q);\n"
       << "    float c = tsr_ld(in1 + cb + " << e << "), s = tsr_ld(in2 + cb + " << e << ");\n"
       << "    tsr_st(out0 + i, first ? a * c - b * s : b * c + a * s);\n";
    (void)D;
    b = map(y, os.str());
    return true;
  }
  error = "no CUDA kernel for '" + op + "'";
  return false;
}

uint64_t fnv1a(const std::string &s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace

bool generateCuda(const ProgramPlan &plan, CudaModule &module, std::string &error) {
  std::ostringstream kernels;
  std::map<std::string, std::string> byText; // function text -> name
  bool usesAttention = false, usesTensorCores = false;
  module.launches.clear();
  module.functions.clear();
  for (const PlannedKernel &k : plan.kernels) {
    CudaLaunch launch;
    if (k.op == "matmul") {
      launch.kind = CudaLaunch::Kind::Gemm;
    } else if (k.op == "all_reduce" || k.op == "all_gather" || k.op == "reduce_scatter") {
      launch.kind = CudaLaunch::Kind::Collective;
    } else if (k.op == "reshape") {
      launch.kind = CudaLaunch::Kind::Copy;
    } else {
      Generator gen(plan, k);
      Body body;
      std::string why;
      if (!gen.generate(body, why)) {
        error = "'" + k.op + "' at " + (k.location.empty() ? "?" : k.location) + ": " + why;
        return false;
      }
      usesAttention |= k.op == "attention" && !gen.usesTensorCores();
      usesTensorCores |= gen.usesTensorCores();
      std::string signature = gen.params();
      std::string key = signature + "\n" + body.text;
      auto it = byText.find(key);
      if (it == byText.end()) {
        char name[40];
        std::snprintf(name, sizeof name, "tsr_%s_%016llx", k.op.c_str(),
                      (unsigned long long)fnv1a(key));
        std::string fn = name;
        it = byText.emplace(key, fn).first;
        module.functions.push_back(fn);
        kernels << "// " << k.op << " (first at " << k.location << ")\n"
                << "extern \"C\" __global__ void __launch_bounds__(" << body.block << ") "
                << fn << "(" << signature << ") {\n"
                << body.text << "}\n";
        // The host emulation calls kernels through one signature.
        std::vector<std::string> types = gen.paramTypes();
        kernels << "#ifdef TESSERA_HOST_EMULATION\nextern \"C\" void " << fn
                << "_host(void **a) { " << fn << "(";
        for (size_t i = 0; i < types.size(); ++i)
          kernels << (i ? ", " : "") << "(" << types[i] << ")a[" << i << "]";
        kernels << "); }\n#endif\n\n";
      }
      launch.function = it->second;
      std::copy(body.grid, body.grid + 3, launch.grid);
      launch.block = body.block;
    }
    module.launches.push_back(launch);
  }
  std::ostringstream os;
  os << "// Generated by tessera-compile: one kernel per distinct op and shape.\n"
     << kPreludeSource << "\n";
  if (usesAttention)
    os << kAttentionSource << "\n";
  if (usesTensorCores)
    os << kAttentionTcSource << "\n";
  os << kernels.str();
  module.source = os.str();
  return true;
}

} // namespace tessera::lower
