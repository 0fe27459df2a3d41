//===- HostDevice.cpp - generated CUDA kernels run on the host ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Compiles a package's CUDA module with the host C++ compiler (the module's
// source with -DTESSERA_HOST_EMULATION; kernels/cuda/emulation.h supplies
// threadIdx, __syncthreads, bf16 and the rest) into a shared object, cached
// by the source's hash, and runs each launch block by block: a block's
// threads are fibers (ucontext) that hand over at __syncthreads, so shared
// memory and barriers mean what they mean on a GPU. GEMMs run on OpenBLAS.
//
// This is a test device: it checks the generated kernels and the executor
// against the CPU backend where no GPU is present. It is slow by design.
//
//===----------------------------------------------------------------------===//

#include "gpu/Device.h"

#include "gpu/KernelSources.inc"

#include <cblas.h>
#include <dlfcn.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

namespace tessera::rt::gpu {
namespace {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
using SetFn = void (*)(const Dim3 *, const Dim3 *, const Dim3 *, const Dim3 *);
using SyncHookFn = void (*)(void (*)());
using HostKernel = void (*)(void **);

// The fibers of the block being run, per OS thread (ranks run as threads).
constexpr size_t kStackBytes = 256 << 10;
struct Fiber {
  ucontext_t context;
  std::vector<char> stack;
  bool done = false;
};
thread_local ucontext_t tScheduler;
thread_local std::vector<Fiber> tFibers;
thread_local size_t tCurrent = 0;
thread_local HostKernel tKernel = nullptr;
thread_local void **tArgs = nullptr;

void syncHook() {
  // Back to the scheduler; it resumes this fiber after every other one has
  // reached the barrier too (or finished).
  swapcontext(&tFibers[tCurrent].context, &tScheduler);
}

void fiberMain() {
  tKernel(tArgs);
  tFibers[tCurrent].done = true;
}

uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= uint8_t(s[i]);
    h *= 1099511628211ull;
  }
  return h;
}

float toFloat(DType t, const void *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return halfBitsToFloat(t, h);
}

/// cuBLASLt's epilogues after the bias: GELU_BIAS's tanh form.
float epilogue(const GemmDesc &d, float v) {
  if (d.epilogue == 2)
    v = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  return v;
}

class HostDevice final : public Device {
public:
  ~HostDevice() override {
    if (module_)
      dlclose(module_);
  }
  std::string name() const override { return "host emulation of a CUDA device"; }
  Status alloc(size_t bytes, void **ptr) override {
    *ptr = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
    if (!*ptr)
      return Status(StatusCode::Internal, "host device: out of memory");
    return Status::okStatus();
  }
  void release(void *ptr) override { std::free(ptr); }
  Status upload(void *dst, const void *src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return Status::okStatus();
  }
  Status download(void *dst, const void *src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return Status::okStatus();
  }
  Status copy(void *dst, const void *src, size_t bytes) override {
    std::memmove(dst, src, bytes);
    return Status::okStatus();
  }

  Status copy2D(void *dst, size_t dstPitch, const void *src, size_t srcPitch, size_t width,
                size_t height) override {
    for (size_t r = 0; r < height; ++r)
      std::memcpy(static_cast<uint8_t *>(dst) + r * dstPitch,
                  static_cast<const uint8_t *>(src) + r * srcPitch, width);
    return Status::okStatus();
  }
  bool hostMemory() const override { return true; }

  Status loadModule(const tpkg::CudaModule &module) override {
    if (!module.source())
      return Status(StatusCode::DataLoss, "the package's CUDA module has no source");
    std::string source = module.source()->str();
    // Definitions the emulation header declares, for this shared object.
    source += "\nthread_local tsr_dim3 tsr_emu_thread, tsr_emu_block, tsr_emu_block_dim, "
              "tsr_emu_grid_dim;\n"
              "static void (*tsr_emu_sync)();\n"
              "extern \"C\" void tsr_emu_syncthreads() { tsr_emu_sync(); }\n"
              "extern \"C\" void tsr_emu_set_sync(void (*f)()) { tsr_emu_sync = f; }\n"
              "extern \"C\" void tsr_emu_set(const tsr_dim3 *t, const tsr_dim3 *b, const "
              "tsr_dim3 *bd, const tsr_dim3 *gd) { tsr_emu_thread = *t; tsr_emu_block = *b; "
              "tsr_emu_block_dim = *bd; tsr_emu_grid_dim = *gd; }\n";
    char hash[32];
    std::snprintf(hash, sizeof hash, "%016llx",
                  (unsigned long long)fnv1a(source.data(), source.size()));
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("tessera-host-kernels-" + std::to_string(getuid())) / hash;
    std::filesystem::path so = dir / "module.so";
    std::error_code ec;
    if (!std::filesystem::exists(so, ec)) {
      // One compile per module, also when ranks load it concurrently.
      static std::mutex compileMutex;
      std::lock_guard<std::mutex> lock(compileMutex);
      if (!std::filesystem::exists(so, ec)) {
        std::filesystem::create_directories(dir, ec);
        std::ofstream(dir / "emulation.h") << kEmulationSource;
        std::ofstream(dir / "module.cpp") << source;
        const char *cxx = std::getenv("CXX");
        std::string tmp = (dir / ("module.so." + std::to_string(getpid()))).string();
        std::string cmd = std::string(cxx && *cxx ? cxx : "c++") +
                          " -std=c++17 -O1 -fPIC -shared -w -DTESSERA_HOST_EMULATION -I" +
                          dir.string() + " " + (dir / "module.cpp").string() + " -o " + tmp +
                          " > " + (dir / "compile.log").string() + " 2>&1";
        if (std::system(cmd.c_str()) != 0)
          return Status(StatusCode::Internal,
                        "host device: compiling the module failed (" +
                            (dir / "compile.log").string() + ")");
        std::filesystem::rename(tmp, so, ec);
      }
    }
    module_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module_)
      return Status(StatusCode::Internal, std::string("host device: ") + dlerror());
    set_ = reinterpret_cast<SetFn>(dlsym(module_, "tsr_emu_set"));
    auto hook = reinterpret_cast<SyncHookFn>(dlsym(module_, "tsr_emu_set_sync"));
    if (!set_ || !hook)
      return Status(StatusCode::Internal, "host device: the module lacks the emulator hooks");
    hook(&syncHook);
    return Status::okStatus();
  }

  Status function(const std::string &name, void **fn) override {
    *fn = module_ ? dlsym(module_, (name + "_host").c_str()) : nullptr;
    if (!*fn)
      return Status(StatusCode::NotFound, "the CUDA module has no kernel '" + name + "'");
    return Status::okStatus();
  }

  Status launch(void *fn, const uint32_t grid[3], uint32_t block, void **args,
                size_t count) override {
    // Generated kernels take pointers: the host entry takes them as an array.
    std::vector<void *> values(count);
    for (size_t i = 0; i < count; ++i)
      values[i] = *static_cast<void **>(args[i]);
    tKernel = reinterpret_cast<HostKernel>(fn);
    tArgs = values.data();
    if (tFibers.size() < block) {
      tFibers.resize(block);
      for (Fiber &f : tFibers)
        if (f.stack.empty())
          f.stack.resize(kStackBytes);
    }
    Dim3 gridDim{grid[0], grid[1], grid[2]}, blockDim{block, 1, 1};
    for (unsigned z = 0; z < grid[2]; ++z)
      for (unsigned y = 0; y < grid[1]; ++y)
        for (unsigned x = 0; x < grid[0]; ++x)
          runBlock(Dim3{x, y, z}, blockDim, gridDim);
    return Status::okStatus();
  }

  Status gemm(const GemmDesc &d, const void *a, const void *b, void *c) override {
    size_t el = dtypeSize(d.dtype);
    if (d.dtype != DType::F32 && d.dtype != DType::BF16 && d.dtype != DType::F16)
      return Status(StatusCode::Unimplemented,
                    "host device: no GEMM for " + std::string(dtypeName(d.dtype)));
    int64_t rowsA = d.transA ? d.k : d.m, rowsB = d.transB ? d.n : d.k;
    std::vector<float> fa, fb, fc;
    for (int64_t i = 0; i < d.batch; ++i) {
      const uint8_t *pa = static_cast<const uint8_t *>(a) + size_t(i * d.strideA) * el;
      const uint8_t *pb = static_cast<const uint8_t *>(b) + size_t(i * d.strideB) * el;
      uint8_t *pc = static_cast<uint8_t *>(c) + size_t(i * d.strideC) * el;
      if (d.dtype == DType::F32) {
        cblas_sgemm(CblasRowMajor, d.transA ? CblasTrans : CblasNoTrans,
                    d.transB ? CblasTrans : CblasNoTrans, int(d.m), int(d.n), int(d.k), 1.0f,
                    reinterpret_cast<const float *>(pa), int(d.lda),
                    reinterpret_cast<const float *>(pb), int(d.ldb), 0.0f,
                    reinterpret_cast<float *>(pc), int(d.ldc));
        if (d.epilogue)
          for (int64_t r = 0; r < d.m; ++r)
            for (int64_t j = 0; j < d.n; ++j) {
              float *v = reinterpret_cast<float *>(pc) + r * d.ldc + j;
              *v = epilogue(d, *v + static_cast<const float *>(d.bias)[j]);
            }
        continue;
      }
      auto widen = [&](const uint8_t *p, int64_t rows, int64_t ld, std::vector<float> &out) {
        out.resize(size_t(rows * ld));
        for (int64_t e = 0; e < rows * ld; ++e)
          out[size_t(e)] = toFloat(d.dtype, p + size_t(e) * 2);
      };
      widen(pa, rowsA, d.lda, fa);
      widen(pb, rowsB, d.ldb, fb);
      fc.assign(size_t(d.m * d.ldc), 0.0f);
      cblas_sgemm(CblasRowMajor, d.transA ? CblasTrans : CblasNoTrans,
                  d.transB ? CblasTrans : CblasNoTrans, int(d.m), int(d.n), int(d.k), 1.0f,
                  fa.data(), int(d.lda), fb.data(), int(d.ldb), 0.0f, fc.data(), int(d.ldc));
      for (int64_t r = 0; r < d.m; ++r)
        for (int64_t j = 0; j < d.n; ++j) {
          float v = fc[size_t(r * d.ldc + j)];
          if (d.epilogue)
            v = epilogue(d, v + toFloat(d.dtype, static_cast<const uint8_t *>(d.bias) + 2 * j));
          uint16_t h = floatToHalfBits(d.dtype, v);
          std::memcpy(pc + size_t(r * d.ldc + j) * 2, &h, 2);
        }
    }
    return Status::okStatus();
  }

  Status synchronize() override { return Status::okStatus(); }

private:
  /// One block: its threads as fibers, round robin from barrier to barrier.
  void runBlock(Dim3 blockIdx, Dim3 blockDim, Dim3 gridDim) {
    uint32_t block = blockDim.x;
    for (uint32_t t = 0; t < block; ++t) {
      Fiber &f = tFibers[t];
      getcontext(&f.context);
      f.context.uc_stack.ss_sp = f.stack.data();
      f.context.uc_stack.ss_size = f.stack.size();
      f.context.uc_link = &tScheduler;
      makecontext(&f.context, fiberMain, 0);
      f.done = false;
    }
    for (bool running = true; running;) {
      running = false;
      for (uint32_t t = 0; t < block; ++t) {
        if (tFibers[t].done)
          continue;
        Dim3 threadIdx{t, 0, 0};
        set_(&threadIdx, &blockIdx, &blockDim, &gridDim);
        tCurrent = t;
        swapcontext(&tScheduler, &tFibers[t].context);
        running |= !tFibers[t].done;
      }
    }
  }

  void *module_ = nullptr;
  SetFn set_ = nullptr;
};

} // namespace

Status createHostDevice(std::unique_ptr<Device> &out) {
  out = std::make_unique<HostDevice>();
  return Status::okStatus();
}

} // namespace tessera::rt::gpu
