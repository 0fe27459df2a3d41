//===- Nvrtc.cpp - compiling generated CUDA with NVRTC --------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Nvrtc.h"

#include <dlfcn.h>

#include <mutex>

namespace tessera {
namespace {

// The subset of nvrtc.h we call, declared here so that no CUDA header is
// needed to build the compiler.
using nvrtcProgram = struct _nvrtcProgram *;
using Result = int; // nvrtcResult; 0 is NVRTC_SUCCESS

struct Api {
  void *handle = nullptr;
  std::string why;
  Result (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                   const char *const *) = nullptr;
  Result (*compile)(nvrtcProgram, int, const char *const *) = nullptr;
  Result (*logSize)(nvrtcProgram, size_t *) = nullptr;
  Result (*log)(nvrtcProgram, char *) = nullptr;
  Result (*ptxSize)(nvrtcProgram, size_t *) = nullptr;
  Result (*ptx)(nvrtcProgram, char *) = nullptr;
  Result (*cubinSize)(nvrtcProgram, size_t *) = nullptr;
  Result (*cubin)(nvrtcProgram, char *) = nullptr;
  Result (*destroy)(nvrtcProgram *) = nullptr;
  const char *(*errorString)(Result) = nullptr;
};

const Api &api() {
  static Api a;
  static std::once_flag once;
  std::call_once(once, [] {
    for (const char *lib : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
                            "/usr/local/cuda/lib64/libnvrtc.so"}) {
      a.handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
      if (a.handle)
        break;
    }
    if (!a.handle) {
      a.why = "libnvrtc.so not found (install the CUDA toolkit or set LD_LIBRARY_PATH)";
      return;
    }
    auto sym = [&](auto &fn, const char *name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(a.handle, name));
      if (!fn && a.why.empty())
        a.why = std::string("libnvrtc has no ") + name;
    };
    sym(a.create, "nvrtcCreateProgram");
    sym(a.compile, "nvrtcCompileProgram");
    sym(a.logSize, "nvrtcGetProgramLogSize");
    sym(a.log, "nvrtcGetProgramLog");
    sym(a.ptxSize, "nvrtcGetPTXSize");
    sym(a.ptx, "nvrtcGetPTX");
    sym(a.cubinSize, "nvrtcGetCUBINSize");
    sym(a.cubin, "nvrtcGetCUBIN");
    sym(a.destroy, "nvrtcDestroyProgram");
    sym(a.errorString, "nvrtcGetErrorString");
    if (!a.why.empty()) {
      dlclose(a.handle);
      a.handle = nullptr;
    }
  });
  return a;
}

} // namespace

bool nvrtcAvailable(std::string &why) {
  why = api().why;
  return api().handle != nullptr;
}

bool nvrtcCompile(const std::string &source, const std::string &name,
                  const std::string &arch, CudaImage &image, std::string &error) {
  const Api &a = api();
  if (!a.handle) {
    error = a.why;
    return false;
  }
  nvrtcProgram prog = nullptr;
  if (Result r = a.create(&prog, source.c_str(), name.c_str(), 0, nullptr, nullptr)) {
    error = std::string("nvrtcCreateProgram: ") + a.errorString(r);
    return false;
  }
  std::string archOpt = "--gpu-architecture=" + arch;
  const char *options[] = {archOpt.c_str(), "--std=c++17", "-I/usr/local/cuda/include",
                           "--device-as-default-execution-space"};
  Result r = a.compile(prog, 4, options);
  size_t logSize = 0;
  a.logSize(prog, &logSize);
  std::string log(logSize, '\0');
  if (logSize)
    a.log(prog, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n'))
    log.pop_back();
  bool ok = r == 0;
  if (!ok) {
    error = "NVRTC (" + arch + "): " + a.errorString(r) + (log.empty() ? "" : "\n" + log);
  } else {
    image.arch = arch;
    image.ptx = arch.rfind("compute_", 0) == 0;
    size_t size = 0;
    Result g = image.ptx ? a.ptxSize(prog, &size) : a.cubinSize(prog, &size);
    image.data.resize(size);
    if (!g)
      g = image.ptx ? a.ptx(prog, reinterpret_cast<char *>(image.data.data()))
                    : a.cubin(prog, reinterpret_cast<char *>(image.data.data()));
    if (g) {
      ok = false;
      error = std::string("NVRTC: cannot read the image: ") + a.errorString(g);
    }
  }
  a.destroy(&prog);
  return ok;
}

} // namespace tessera
