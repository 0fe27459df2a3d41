//===- CudaDevice.cpp - the CUDA driver and cuBLASLt, loaded at run time --===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// libcuda.so.1 and libcublasLt.so are opened with dlopen when a CUDA session
// is created, so the runtime links and runs on machines without them. The
// module's image for the device's architecture is loaded if the package has
// one (a cubin for sm_XX), else its PTX (the driver JITs it), else its source
// through NVRTC. Each device object owns a stream: several of them on one
// GPU are the `local` virtual devices.
//
//===----------------------------------------------------------------------===//

#include "gpu/Device.h"

#ifdef TESSERA_HAVE_CUDA_HEADERS
#include <cublasLt.h>
#include <cuda.h>
#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

namespace tessera::rt::gpu {
namespace {

// The driver's and cuBLASLt's functions we call: the field (typed as the
// header declares it) and the symbol to look up (the versioned one where
// cuda.h maps the name to it).
#define TSR_DRIVER_FUNCTIONS(X) \
  X(cuInit, "cuInit") \
  X(cuDeviceGetCount, "cuDeviceGetCount") \
  X(cuDeviceGet, "cuDeviceGet") \
  X(cuDeviceGetName, "cuDeviceGetName") \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute") \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") \
  X(cuCtxSetCurrent, "cuCtxSetCurrent") \
  X(cuStreamCreate, "cuStreamCreate") \
  X(cuStreamDestroy, "cuStreamDestroy_v2") \
  X(cuStreamSynchronize, "cuStreamSynchronize") \
  X(cuMemAlloc, "cuMemAlloc_v2") \
  X(cuMemFree, "cuMemFree_v2") \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2") \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2") \
  X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2") \
  X(cuMemcpy2DAsync, "cuMemcpy2DAsync_v2") \
  X(cuModuleLoadData, "cuModuleLoadData") \
  X(cuModuleUnload, "cuModuleUnload") \
  X(cuModuleGetFunction, "cuModuleGetFunction") \
  X(cuLaunchKernel, "cuLaunchKernel") \
  X(cuGetErrorString, "cuGetErrorString") \
  X(cuStreamBeginCapture, "cuStreamBeginCapture_v2") \
  X(cuStreamEndCapture, "cuStreamEndCapture") \
  X(cuGraphInstantiate, "cuGraphInstantiateWithFlags") \
  X(cuGraphLaunch, "cuGraphLaunch") \
  X(cuGraphDestroy, "cuGraphDestroy") \
  X(cuGraphExecDestroy, "cuGraphExecDestroy")
#define TSR_CUBLASLT_FUNCTIONS(X) \
  X(cublasLtCreate, "cublasLtCreate") \
  X(cublasLtDestroy, "cublasLtDestroy") \
  X(cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate") \
  X(cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy") \
  X(cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute") \
  X(cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate") \
  X(cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy") \
  X(cublasLtMatrixLayoutSetAttribute, "cublasLtMatrixLayoutSetAttribute") \
  X(cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate") \
  X(cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy") \
  X(cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute") \
  X(cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic") \
  X(cublasLtMatmul, "cublasLtMatmul")

struct Driver {
  void *lib = nullptr, *lt = nullptr, *nvrtc = nullptr;
  std::string why;
#define TSR_FIELD(field, symbol) decltype(&::field) field = nullptr;
  TSR_DRIVER_FUNCTIONS(TSR_FIELD)
  TSR_CUBLASLT_FUNCTIONS(TSR_FIELD)
#undef TSR_FIELD
  // NVRTC, for modules without an image this device can load.
  int (*nvrtcCreateProgram)(void **, const char *, const char *, int, const char *const *,
                            const char *const *) = nullptr;
  int (*nvrtcCompileProgram)(void *, int, const char *const *) = nullptr;
  int (*nvrtcGetCUBINSize)(void *, size_t *) = nullptr;
  int (*nvrtcGetCUBIN)(void *, char *) = nullptr;
  int (*nvrtcGetProgramLogSize)(void *, size_t *) = nullptr;
  int (*nvrtcGetProgramLog)(void *, char *) = nullptr;
  int (*nvrtcDestroyProgram)(void **) = nullptr;
};

const Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    d.lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!d.lib) {
      d.why = "no CUDA driver (libcuda.so.1 not found): this machine has no NVIDIA GPU "
              "driver";
      return;
    }
    for (const char *name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so",
                             "/usr/local/cuda/lib64/libcublasLt.so"})
      if ((d.lt = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!d.lt) {
      d.why = "cuBLASLt not found (libcublasLt.so): add the CUDA libraries to "
              "LD_LIBRARY_PATH";
      return;
    }
    for (const char *name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
                             "/usr/local/cuda/lib64/libnvrtc.so"})
      if ((d.nvrtc = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    auto sym = [&](void *lib, auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && d.why.empty())
        d.why = std::string("the CUDA libraries lack ") + name;
    };
#define TSR_SYM(lib, field, name) sym(lib, d.field, name)
#define TSR_LOAD_DRIVER(field, symbol) sym(d.lib, d.field, symbol);
#define TSR_LOAD_LT(field, symbol) sym(d.lt, d.field, symbol);
    TSR_DRIVER_FUNCTIONS(TSR_LOAD_DRIVER)
    TSR_CUBLASLT_FUNCTIONS(TSR_LOAD_LT)
#undef TSR_LOAD_DRIVER
#undef TSR_LOAD_LT
    if (d.nvrtc) {
      std::string keep = d.why;
      TSR_SYM(d.nvrtc, nvrtcCreateProgram, "nvrtcCreateProgram");
      TSR_SYM(d.nvrtc, nvrtcCompileProgram, "nvrtcCompileProgram");
      TSR_SYM(d.nvrtc, nvrtcGetCUBINSize, "nvrtcGetCUBINSize");
      TSR_SYM(d.nvrtc, nvrtcGetCUBIN, "nvrtcGetCUBIN");
      TSR_SYM(d.nvrtc, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize");
      TSR_SYM(d.nvrtc, nvrtcGetProgramLog, "nvrtcGetProgramLog");
      TSR_SYM(d.nvrtc, nvrtcDestroyProgram, "nvrtcDestroyProgram");
      if (d.why != keep) { // NVRTC is optional: JIT from source only
        d.nvrtc = nullptr;
        d.why = keep;
      }
    }
#undef TSR_SYM
    if (d.why.empty()) {
      if (CUresult r = d.cuInit(0)) {
        const char *msg = nullptr;
        d.cuGetErrorString(r, &msg);
        d.why = std::string("cuInit failed: ") + (msg ? msg : "?");
      } else {
        int count = 0;
        d.cuDeviceGetCount(&count);
        if (count == 0)
          d.why = "the CUDA driver sees no GPU";
      }
    }
    if (!d.why.empty())
      d.lib = nullptr;
  });
  return d;
}

Status check(CUresult r, const char *what) {
  if (r == CUDA_SUCCESS)
    return Status::okStatus();
  const char *msg = nullptr;
  driver().cuGetErrorString(r, &msg);
  return Status(StatusCode::Internal, std::string(what) + ": " + (msg ? msg : "CUDA error"));
}
Status checkLt(cublasStatus_t r, const char *what) {
  if (r == CUBLAS_STATUS_SUCCESS)
    return Status::okStatus();
  return Status(StatusCode::Internal,
                std::string(what) + ": cuBLASLt status " + std::to_string(int(r)));
}

class CudaDevice final : public Device {
public:
  ~CudaDevice() override {
    const Driver &d = driver();
    d.cuCtxSetCurrent(context_);
    if (stream_)
      d.cuStreamSynchronize(stream_);
    if (workspace_)
      d.cuMemFree(workspace_);
    for (auto &[key, plan] : plans_)
      plan.release(d);
    if (graphExec_)
      d.cuGraphExecDestroy(graphExec_);
    if (graph_)
      d.cuGraphDestroy(graph_);
    if (module_)
      d.cuModuleUnload(module_);
    if (lt_)
      d.cublasLtDestroy(lt_);
    if (stream_)
      d.cuStreamDestroy(stream_);
  }

  Status init(int ordinal) {
    const Driver &d = driver();
    int count = 0;
    d.cuDeviceGetCount(&count);
    if (ordinal < 0 && count > 0) // by rank: ranks share the GPUs round robin
      ordinal = (-1 - ordinal) % count;
    if (ordinal < 0 || ordinal >= count)
      return Status(StatusCode::InvalidArgument,
                    "CUDA device " + std::to_string(ordinal) + " does not exist (" +
                        std::to_string(count) + " GPU(s))");
    if (Status s = check(d.cuDeviceGet(&device_, ordinal), "cuDeviceGet"); !s.ok())
      return s;
    char name[256] = {};
    d.cuDeviceGetName(name, sizeof name, device_);
    d.cuDeviceGetAttribute(&major_, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_);
    d.cuDeviceGetAttribute(&minor_, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_);
    name_ = std::string(name) + " (sm_" + std::to_string(major_ * 10 + minor_) + ")";
    if (Status s = check(d.cuDevicePrimaryCtxRetain(&context_, device_), "cuDevicePrimaryCtxRetain");
        !s.ok())
      return s;
    if (Status s = current(); !s.ok())
      return s;
    if (Status s = check(d.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        !s.ok())
      return s;
    if (Status s = checkLt(d.cublasLtCreate(&lt_), "cublasLtCreate"); !s.ok())
      return s;
    workspaceBytes_ = 32u << 20;
    return check(d.cuMemAlloc(&workspace_, workspaceBytes_), "cuMemAlloc (GEMM workspace)");
  }

  std::string name() const override { return name_; }

  Status current() const { return check(driver().cuCtxSetCurrent(context_), "cuCtxSetCurrent"); }

  Status alloc(size_t bytes, void **ptr) override {
    if (Status s = current(); !s.ok())
      return s;
    CUdeviceptr p = 0;
    if (Status s = check(driver().cuMemAlloc(&p, bytes), "cuMemAlloc"); !s.ok())
      return Status(s.code(), s.message() + " (" + std::to_string(bytes) + " bytes)");
    *ptr = reinterpret_cast<void *>(p);
    return Status::okStatus();
  }
  void release(void *ptr) override {
    (void)current();
    driver().cuMemFree(CUdeviceptr(ptr));
  }
  Status upload(void *dst, const void *src, size_t bytes) override {
    if (Status s = current(); !s.ok())
      return s;
    if (Status s = check(driver().cuMemcpyHtoDAsync(CUdeviceptr(dst), src, bytes, stream_),
                         "cuMemcpyHtoD");
        !s.ok())
      return s;
    return synchronize(); // `src` may go away once we return
  }
  Status download(void *dst, const void *src, size_t bytes) override {
    if (Status s = current(); !s.ok())
      return s;
    if (Status s = check(driver().cuMemcpyDtoHAsync(dst, CUdeviceptr(src), bytes, stream_),
                         "cuMemcpyDtoH");
        !s.ok())
      return s;
    return synchronize();
  }
  Status copy(void *dst, const void *src, size_t bytes) override {
    if (Status s = current(); !s.ok())
      return s;
    return check(driver().cuMemcpyDtoDAsync(CUdeviceptr(dst), CUdeviceptr(src), bytes, stream_),
                 "cuMemcpyDtoD");
  }

  Status copy2D(void *dst, size_t dstPitch, const void *src, size_t srcPitch, size_t width,
                size_t height) override {
    if (Status s = current(); !s.ok())
      return s;
    CUDA_MEMCPY2D c{};
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    c.srcDevice = CUdeviceptr(src);
    c.srcPitch = srcPitch;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = CUdeviceptr(dst);
    c.dstPitch = dstPitch;
    c.WidthInBytes = width;
    c.Height = height;
    return check(driver().cuMemcpy2DAsync(&c, stream_), "cuMemcpy2D");
  }

  Status loadModule(const tpkg::CudaModule &module) override {
    if (Status s = current(); !s.ok())
      return s;
    const Driver &d = driver();
    std::string want = "sm_" + std::to_string(major_ * 10 + minor_);
    const tpkg::CudaImage *cubin = nullptr, *ptx = nullptr;
    int ptxArch = -1;
    if (module.images())
      for (const tpkg::CudaImage *image : *module.images()) {
        if (!image->arch() || !image->data())
          continue;
        std::string arch = image->arch()->str();
        if (!image->ptx() && arch == want)
          cubin = image;
        if (image->ptx() && arch.rfind("compute_", 0) == 0) {
          int a = std::atoi(arch.c_str() + 8);
          if (a <= major_ * 10 + minor_ && a > ptxArch) {
            ptx = image;
            ptxArch = a;
          }
        }
      }
    if (cubin || ptx) {
      const tpkg::CudaImage *image = cubin ? cubin : ptx;
      std::vector<char> bytes(image->data()->begin(), image->data()->end());
      if (ptx && !cubin)
        bytes.push_back('\0'); // PTX is text
      return check(d.cuModuleLoadData(&module_, bytes.data()), "cuModuleLoadData");
    }
    // No image for this architecture: compile the source.
    if (!d.nvrtc || !module.source())
      return Status(StatusCode::Unimplemented,
                    "the package has no CUDA image for " + want +
                        " and NVRTC is not available to compile its source");
    void *prog = nullptr;
    std::string arch = "--gpu-architecture=" + want;
    const char *options[] = {arch.c_str(), "--std=c++17", "-I/usr/local/cuda/include",
                             "--device-as-default-execution-space"};
    d.nvrtcCreateProgram(&prog, module.source()->c_str(), "tessera_module.cu", 0, nullptr,
                         nullptr);
    int r = d.nvrtcCompileProgram(prog, 4, options);
    if (r != 0) {
      size_t size = 0;
      d.nvrtcGetProgramLogSize(prog, &size);
      std::string log(size, '\0');
      d.nvrtcGetProgramLog(prog, log.data());
      d.nvrtcDestroyProgram(&prog);
      return Status(StatusCode::Internal, "NVRTC (" + want + "): " + log);
    }
    size_t size = 0;
    d.nvrtcGetCUBINSize(prog, &size);
    std::vector<char> image(size);
    d.nvrtcGetCUBIN(prog, image.data());
    d.nvrtcDestroyProgram(&prog);
    return check(d.cuModuleLoadData(&module_, image.data()), "cuModuleLoadData (JIT)");
  }

  Status function(const std::string &name, void **fn) override {
    if (Status s = current(); !s.ok())
      return s;
    CUfunction f = nullptr;
    if (Status s = check(driver().cuModuleGetFunction(&f, module_, name.c_str()),
                         ("cuModuleGetFunction " + name).c_str());
        !s.ok())
      return s;
    *fn = f;
    return Status::okStatus();
  }

  Status launch(void *fn, const uint32_t grid[3], uint32_t block, void **args,
                size_t) override {
    // Ranks run in threads of their own: every call makes the context current.
    if (Status s = current(); !s.ok())
      return s;
    return check(driver().cuLaunchKernel(CUfunction(fn), grid[0], grid[1], grid[2], block, 1, 1,
                                         0, stream_, args, nullptr),
                 "cuLaunchKernel");
  }

  /// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: B is
  /// cuBLAS's first operand. Descriptors and the algorithm are chosen once
  /// per distinct GEMM and kept.
  Status gemm(const GemmDesc &g, const void *a, const void *b, void *c) override {
    const Driver &d = driver();
    if (Status s = current(); !s.ok())
      return s;
    GemmKey key{int(g.dtype) | g.epilogue << 8, g.transA, g.transB, g.m, g.n, g.k, g.lda, g.ldb,
                g.ldc, g.batch, g.strideA, g.strideB, g.strideC};
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      GemmPlan plan;
      if (Status s = makePlan(g, plan); !s.ok()) {
        plan.release(d);
        return s;
      }
      it = plans_.emplace(key, plan).first;
    }
    const GemmPlan &plan = it->second;
    if (g.epilogue) // the bias of this call (plans are shared by equal shapes)
      d.cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                       sizeof g.bias);
    float alpha = 1.0f, beta = 0.0f;
    return checkLt(d.cublasLtMatmul(lt_, plan.op, &alpha, b, plan.lb, a, plan.la, &beta, c,
                                    plan.lc, c, plan.lc, &plan.algo,
                                    reinterpret_cast<void *>(workspace_), workspaceBytes_,
                                    stream_),
                   "cublasLtMatmul");
  }

  bool beginCapture() override {
    if (!current().ok())
      return false;
    return driver().cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) ==
           CUDA_SUCCESS;
  }
  Status endCapture() override {
    const Driver &d = driver();
    if (Status s = check(d.cuStreamEndCapture(stream_, &graph_), "cuStreamEndCapture"); !s.ok())
      return s;
    return check(d.cuGraphInstantiate(&graphExec_, graph_, 0), "cuGraphInstantiate");
  }
  Status replay() override {
    if (Status s = current(); !s.ok())
      return s;
    return check(driver().cuGraphLaunch(graphExec_, stream_), "cuGraphLaunch");
  }

  Status synchronize() override {
    if (Status s = current(); !s.ok())
      return s;
    return check(driver().cuStreamSynchronize(stream_), "cuStreamSynchronize");
  }

private:
  using GemmKey = std::tuple<int, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t,
                             int64_t, int64_t, int64_t, int64_t, int64_t>;
  struct GemmPlan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo{};
    void release(const Driver &d) {
      for (cublasLtMatrixLayout_t l : {la, lb, lc})
        if (l)
          d.cublasLtMatrixLayoutDestroy(l);
      if (op)
        d.cublasLtMatmulDescDestroy(op);
    }
  };

  Status makePlan(const GemmDesc &g, GemmPlan &plan) {
    const Driver &d = driver();
    cudaDataType_t type;
    switch (g.dtype) {
    case DType::F32: type = CUDA_R_32F; break;
    case DType::BF16: type = CUDA_R_16BF; break;
    case DType::F16: type = CUDA_R_16F; break;
    default:
      return Status(StatusCode::Unimplemented,
                    "no CUDA GEMM for " + std::string(dtypeName(g.dtype)));
    }
    cublasComputeType_t compute =
        g.dtype == DType::F32 && allowTf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    if (Status s = checkLt(d.cublasLtMatmulDescCreate(&plan.op, compute, CUDA_R_32F),
                           "matmul desc");
        !s.ok())
      return s;
    cublasOperation_t opB = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                      opA = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    d.cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, &opB, sizeof opB);
    d.cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, &opA, sizeof opA);
    if (g.epilogue) {
      // Row-major C's columns are column-major C^T's rows: the bias vector.
      cublasLtEpilogue_t e = g.epilogue == 2 ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
      d.cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e);
      d.cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                       sizeof g.bias);
    }
    // As column-major matrices: B^T is n x k (k x n transposed), A^T k x m.
    uint64_t rowsB = g.transB ? g.k : g.n, colsB = g.transB ? g.n : g.k;
    uint64_t rowsA = g.transA ? g.m : g.k, colsA = g.transA ? g.k : g.m;
    Status s = checkLt(d.cublasLtMatrixLayoutCreate(&plan.lb, type, rowsB, colsB, g.ldb),
                       "layout B");
    if (s.ok())
      s = checkLt(d.cublasLtMatrixLayoutCreate(&plan.la, type, rowsA, colsA, g.lda), "layout A");
    if (s.ok())
      s = checkLt(d.cublasLtMatrixLayoutCreate(&plan.lc, type, g.n, g.m, g.ldc), "layout C");
    if (!s.ok())
      return s;
    if (g.batch > 1) {
      int32_t count = int32_t(g.batch);
      for (auto [layout, stride] :
           {std::pair{plan.lb, g.strideB}, std::pair{plan.la, g.strideA},
            std::pair{plan.lc, g.strideC}}) {
        d.cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count,
                                           sizeof count);
        d.cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                           &stride, sizeof stride);
      }
    }
    cublasLtMatmulPreference_t pref = nullptr;
    if (Status p = checkLt(d.cublasLtMatmulPreferenceCreate(&pref), "preference"); !p.ok())
      return p;
    d.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &workspaceBytes_, sizeof workspaceBytes_);
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    s = checkLt(d.cublasLtMatmulAlgoGetHeuristic(lt_, plan.op, plan.lb, plan.la, plan.lc,
                                                 plan.lc, pref, 1, &heuristic, &found),
                "cublasLtMatmulAlgoGetHeuristic");
    d.cublasLtMatmulPreferenceDestroy(pref);
    if (s.ok() && !found)
      s = Status(StatusCode::Unimplemented,
                 "cuBLASLt has no algorithm for a " + std::to_string(g.m) + "x" +
                     std::to_string(g.n) + "x" + std::to_string(g.k) + " GEMM");
    plan.algo = heuristic.algo;
    return s;
  }

  std::map<GemmKey, GemmPlan> plans_;
  /// fp32 GEMMs on tensor cores (TF32) only when TESSERA_ALLOW_TF32=1: the
  /// fp32 tolerance against the CPU backend (1e-4) needs full precision.
  static bool allowTf32() {
    const char *v = std::getenv("TESSERA_ALLOW_TF32");
    return v && std::string(v) == "1";
  }
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  CUmodule module_ = nullptr;
  CUgraph graph_ = nullptr;
  CUgraphExec graphExec_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  CUdeviceptr workspace_ = 0;
  size_t workspaceBytes_ = 0;
  int major_ = 0, minor_ = 0;
  std::string name_;
};

} // namespace

bool cudaAvailable(std::string &why) {
  const Driver &d = driver();
  why = d.why;
  return d.lib != nullptr;
}

Status createCudaDevice(int ordinal, std::unique_ptr<Device> &out) {
  std::string why;
  if (!cudaAvailable(why))
    return Status(StatusCode::Unimplemented, "the CUDA backend cannot start: " + why);
  auto device = std::make_unique<CudaDevice>();
  if (Status s = device->init(ordinal); !s.ok())
    return s;
  out = std::move(device);
  return Status::okStatus();
}

} // namespace tessera::rt::gpu

#else // !TESSERA_HAVE_CUDA_HEADERS

namespace tessera::rt::gpu {
bool cudaAvailable(std::string &why) {
  why = "this runtime was built without the CUDA toolkit's headers";
  return false;
}
Status createCudaDevice(int, std::unique_ptr<Device> &) {
  std::string why;
  cudaAvailable(why);
  return Status(StatusCode::Unimplemented, "the CUDA backend cannot start: " + why);
}
} // namespace tessera::rt::gpu

#endif
