//===- Kernels.h - the CPU backend's kernel interface -----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A kernel receives views of its input and output tensors (already placed
// in the arena or the package's data section) and its attributes. Kernels
// are looked up by the tsr op name once, when a session is created.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CPU_KERNELS_H
#define TESSERA_RUNTIME_CPU_KERNELS_H

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/DType.h"
#include "tessera/runtime/Status.h"
#include "tessera/runtime/tpkg_generated.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {
class Package;
} // namespace tessera::rt

namespace tessera::rt::cpu {

struct TensorRef {
  uint8_t *data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t rank() const { return int64_t(shape.size()); }
  size_t bytes() const { return size_t(numel()) * dtypeSize(dtype); }
  template <typename T> T *as() const { return reinterpret_cast<T *>(data); }
};

/// What a kernel prepared once, when its session was created (a GEMM's
/// library primitive and packed weights), kept with its call.
struct KernelState {
  virtual ~KernelState() = default;
};

struct KernelCall {
  std::vector<TensorRef> inputs;
  std::vector<TensorRef> outputs;
  const tpkg::Kernel *kernel = nullptr;
  /// The group a collective kernel runs in (bound by the session).
  Communicator *comm = nullptr;
  /// Set by the kernel's prepare function, if it has one.
  std::shared_ptr<KernelState> state;

  const tpkg::Attr *attr(const char *name) const;
  int64_t attrInt(const char *name, int64_t defaultValue) const;
  double attrFloat(const char *name, double defaultValue) const;
  std::vector<int64_t> attrInts(const char *name) const;
  bool hasAttr(const char *name) const { return attr(name) != nullptr; }
  /// An error naming the kernel and its source node.
  Status error(const std::string &message) const;
};

using KernelFn = Status (*)(const KernelCall &call);
using KernelTable = std::map<std::string, KernelFn>;

/// Every CPU kernel by tsr op name.
const KernelTable &cpuKernels();

/// What a prepare function is told besides its call.
struct PrepareContext {
  /// Whether input i is a weight no run writes (not training state), which
  /// a kernel may repack.
  std::vector<bool> constant;
  /// The session's package, where repacked copies are shared
  /// (Package::packedWeight); null: each call packs its own.
  const Package *package = nullptr;
  /// The most bytes the package's packed copies may hold: what the memory
  /// limit leaves after the session's arena and state. Past it kernels read
  /// their weights unpacked.
  uint64_t packBudget = UINT64_MAX;
};

/// Called once per kernel when a session is created, with the tensors bound
/// (their addresses stay fixed for the session's life). May set
/// `call.state`; an error fails the session.
using PrepareFn = Status (*)(KernelCall &call, const PrepareContext &context);

/// The prepare functions by tsr op name (kernels without one need none).
const std::map<std::string, PrepareFn> &cpuPrepareFunctions();

void registerElementwiseKernels(KernelTable &table);
void registerLinalgKernels(KernelTable &table);
void registerShapeKernels(KernelTable &table);
void registerTransformerKernels(KernelTable &table);
void registerFusedKernels(KernelTable &table);
void registerCollectiveKernels(KernelTable &table);
void registerRandomKernels(KernelTable &table);

/// Called in the thread that runs a session, before its kernels: `shared`
/// when other ranks of this process may call BLAS at the same time with
/// several threads each; their BLAS GEMMs then take turns (LinalgKernels).
void setBlasShared(bool shared);

/// Called in the thread that runs a session: how much more work a parallel
/// region needs before it pays, 1 normally, the oversubscription factor
/// (ranks x threads / cores) when the host's cores are oversubscribed:
/// waking a team then costs that many times more, and the extra threads
/// add no cores. Kernels scale their thresholds by parallelGrain().
void setParallelGrain(double grain);
double parallelGrain();

/// Kernels that talk to other ranks (they need a communicator).
bool isCollective(const std::string &op);

/// Communicators of collectives' rank groups, by the group's ranks.
using CommGroups = std::map<std::vector<int>, std::shared_ptr<Communicator>>;

/// Binds the collectives among `kernels` to their groups (attribute "group":
/// mesh ranks): `comms[i]` becomes kernel i's communicator (nullptr for
/// kernels that are not collectives), `world` itself or a subgroup of it
/// kept in `groups`. Subgroups are created in sorted order on every rank, so
/// that members of several groups never wait on each other in different
/// orders. The CPU and CUDA backends both bind this way.
Status bindGroups(Communicator &world, const std::vector<const tpkg::Kernel *> &kernels,
                  CommGroups &groups, std::vector<Communicator *> &comms);

/// GELU, exact (erf) or in its tanh form (ONNX approximate="tanh"; also
/// what fused matmul epilogues compute).
template <typename T> inline T gelu(T x, bool tanhForm) {
  if (tanhForm) {
    // 0.5 * (1 + tanh(u)) = sigmoid(2u): one exp instead of a tanh.
    const T k2 = T(2 * 0.7978845608028654);
    return x / (T(1) + std::exp(-k2 * (x + T(0.044715) * x * x * x)));
  }
  return T(0.5) * x * (T(1) + std::erf(x * T(0.7071067811865476)));
}

/// Splits `shape` around `axis`: the product of the dimensions before it,
/// the axis's size, and the product of those after it.
void splitAt(const std::vector<int64_t> &shape, int64_t axis, int64_t &outer,
             int64_t &dim, int64_t &inner);

/// Row-major strides of `shape` aligned to `rank` dimensions, 0 where the
/// dimension broadcasts (size 1 or missing).
std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape,
                                      size_t rank);

/// Calls fn(outIndex, index0, index1, ...) for every element of `out`, with
/// each operand's linear index under NumPy broadcasting.
template <size_t N, typename Fn>
void forEachBroadcast(const std::vector<int64_t> &out,
                      const std::vector<int64_t> (&shapes)[N], Fn &&fn);

} // namespace tessera::rt::cpu

#include "cpu/Broadcast.inc"

#endif // TESSERA_RUNTIME_CPU_KERNELS_H
