//===- Host.cpp - cores, thread placement, CPU paths ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Host.h"

#include "cpu/VectorMath.h"

#if TESSERA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

// OpenBLAS names the kernels it chose when it loaded; absent from other BLAS
// builds (the plain-loop fallback), hence weak.
extern "C" char *openblas_get_corename(void) __attribute__((weak));

namespace tessera::rt {
namespace {

/// A positive count from an environment variable: 0 when unset, -1 when
/// malformed. OMP_NUM_THREADS may be a list ("4,2"): its first entry.
int countFromEnv(const char *name, bool firstOfList = false) {
  const char *env = std::getenv(name);
  if (!env || !*env)
    return 0;
  char *end = nullptr;
  errno = 0;
  long n = std::strtol(env, &end, 10);
  if (end == env || errno || n < 1 || n > 4096 || (*end && !(firstOfList && *end == ',')))
    return -1;
  return int(n);
}

enum class IsaCap { Auto, Avx2, Portable, Invalid };

IsaCap isaCap() {
  static const IsaCap cap = [] {
    const char *env = std::getenv("TESSERA_CPU_ISA");
    if (!env || !*env)
      return IsaCap::Auto;
    std::string v(env);
    for (char &c : v)
      c = char(std::tolower(static_cast<unsigned char>(c)));
    return v == "auto"       ? IsaCap::Auto
           : v == "avx2"     ? IsaCap::Avx2
           : v == "portable" ? IsaCap::Portable
                             : IsaCap::Invalid;
  }();
  return cap;
}

bool cpuHasAvx2Fma() {
#if defined(__x86_64__)
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
#else
  return false;
#endif
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon == std::string::npos)
        break;
      size_t b = line.find_first_not_of(" \t", colon + 1);
      return b == std::string::npos ? "" : line.substr(b);
    }
  return "unknown CPU";
}

std::string cpuIsa() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f"))
    return "avx512";
  if (cpuHasAvx2Fma())
    return "avx2";
  return "sse";
#else
  return "non-x86";
#endif
}

#if TESSERA_HAVE_DNNL
std::string dnnlIsaName(dnnl_cpu_isa_t isa) {
  switch (isa) {
  case dnnl_cpu_isa_sse41: return "sse41";
  case dnnl_cpu_isa_avx: return "avx";
  case dnnl_cpu_isa_avx2: return "avx2";
  case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
  case dnnl_cpu_isa_avx512_core: return "avx512_core";
  case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
  case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
  case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
  default: return "isa " + std::to_string(int(isa));
  }
}
#endif

} // namespace

namespace cpu {
bool kernelsUseAvx2Fma() {
  static const bool use = cpuHasAvx2Fma() && isaCap() != IsaCap::Portable;
  return use;
}
} // namespace cpu

int hostCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

int launcherLocalRanks() {
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE",
                           "SLURM_NTASKS_PER_NODE"}) {
    int n = countFromEnv(name, /*firstOfList=*/true);
    if (n > 0)
      return n;
  }
  return 0;
}

std::string ThreadPlacement::describe() const {
  std::string s = "threads: " + std::to_string(threadsPerRank) + " per rank x " +
                  std::to_string(ranksOnHost) + (ranksOnHost == 1 ? " rank" : " ranks") +
                  " on " + std::to_string(cores) + (cores == 1 ? " core" : " cores") + " (" +
                  source + "), ";
  s += oversubscribed() ? "oversubscribed" : "not oversubscribed";
  s += ", OpenMP waits ";
  if (!waitPolicy.empty())
    s += waitPolicy;
  else if (!spinCount.empty())
    s += "spinning " + spinCount + " times (GOMP_SPINCOUNT), then sleeping";
  else
    s += "spinning, then sleeping";
  return s;
}

Status placeThreads(int requested, int ranksOnHost, ThreadPlacement &out) {
  out = ThreadPlacement();
  out.cores = hostCores();
  if (ranksOnHost > 0) {
    out.ranksOnHost = ranksOnHost;
  } else {
    // A launcher that binds its processes (OpenMPI binds each of two ranks
    // to a core) gives each rank a share of the host's CPUs of its own:
    // only the ranks whose masks overlap this one's share its cores.
    int local = std::max(1, launcherLocalRanks());
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (local > 1 && online > out.cores)
      local = std::max<int>(1, int((int64_t(local) * out.cores + online - 1) / online));
    out.ranksOnHost = local;
  }
  if (const char *policy = std::getenv("OMP_WAIT_POLICY")) {
    out.waitPolicy = policy;
    for (char &c : out.waitPolicy)
      c = char(std::tolower(static_cast<unsigned char>(c)));
  }
  if (const char *spins = std::getenv("GOMP_SPINCOUNT"))
    out.spinCount = spins;
  if (requested > 0) {
    out.threadsPerRank = requested;
    out.source = "--threads";
    return Status::okStatus();
  }
  int n = countFromEnv("TESSERA_NUM_THREADS");
  if (n < 0)
    return Status(StatusCode::InvalidArgument, std::string("TESSERA_NUM_THREADS='") +
                                                   std::getenv("TESSERA_NUM_THREADS") +
                                                   "' is not a thread count (1 to 4096)");
  out.source = "TESSERA_NUM_THREADS";
  // OpenMP ignores a malformed OMP_NUM_THREADS; so do we.
  if (n == 0 && (n = countFromEnv("OMP_NUM_THREADS", /*firstOfList=*/true)) > 0)
    out.source = "OMP_NUM_THREADS";
  if (n > 0) {
    out.threadsPerRank = n;
    return Status::okStatus();
  }
  out.threadsPerRank = std::max(1, out.cores / out.ranksOnHost);
  out.source = "cores / ranks";
  return Status::okStatus();
}

void chooseOpenMpWaiting(const ThreadPlacement &placement, char **argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
    return;
  if (const char *keep = std::getenv("TESSERA_KEEP_WAIT_POLICY"); keep && *keep == '1')
    return;
  // Oversubscribed: a spinning thread burns the core another one needs.
  // Several threads a rank, each with a core: OpenMP's default spin (some
  // 300000 turns, milliseconds) still costs where the scheduler lets two of
  // them share a core for a while (a VM's vCPUs, other work beside): a
  // spinner then holds the core its team's master needs (measured: GEMMs 5x
  // slower, a training step 1.4x slower than at one thread). A short spin
  // keeps the quick hand-over between back-to-back parallel regions.
  const char *name, *value;
  if (placement.oversubscribed()) {
    name = "OMP_WAIT_POLICY";
    value = "PASSIVE";
  } else if (placement.threadsPerRank > 1) {
    name = "GOMP_SPINCOUNT";
    value = kShortSpinCount;
  } else {
    return;
  }
  // OpenMP (libgomp, and OpenBLAS and oneDNN on it) reads these when it
  // loads: only a fresh image sees them. The process keeps its id, so an MPI
  // launcher does not notice.
  setenv(name, value, 1);
  std::fflush(nullptr);
  execv("/proc/self/exe", argv);
  unsetenv(name); // exec failed: carry on with OpenMP's default
}

Status configureCpuPaths() {
  IsaCap cap = isaCap();
  if (cap == IsaCap::Invalid)
    return Status(StatusCode::InvalidArgument,
                  std::string("TESSERA_CPU_ISA='") + std::getenv("TESSERA_CPU_ISA") +
                      "' is not a CPU path (auto, avx2, portable)");
  if (cap == IsaCap::Avx2 && !cpuHasAvx2Fma())
    return Status(StatusCode::InvalidArgument,
                  "TESSERA_CPU_ISA=avx2, but this CPU (" + cpuModel() + ") has no AVX2/FMA");
#if TESSERA_HAVE_DNNL
  static std::once_flag once;
  std::call_once(once, [cap] {
    // oneDNN's own variable, where set, wins; the cap only holds before
    // oneDNN first dispatches, which no session has done yet.
    if (cap != IsaCap::Auto && !std::getenv("ONEDNN_MAX_CPU_ISA") &&
        !std::getenv("DNNL_MAX_CPU_ISA"))
      (void)dnnl_set_max_cpu_isa(cap == IsaCap::Avx2 ? dnnl_cpu_isa_avx2 : dnnl_cpu_isa_sse41);
  });
#endif
  return Status::okStatus();
}

std::string cpuPaths() {
  std::string s = "cpu: " + cpuModel() + " (" + cpuIsa() + "); own kernels: ";
  s += cpu::kernelsUseAvx2Fma() ? "avx2+fma" : "portable";
  if (isaCap() != IsaCap::Auto && isaCap() != IsaCap::Invalid)
    s += std::string(" (TESSERA_CPU_ISA=") + std::getenv("TESSERA_CPU_ISA") + ")";
#if TESSERA_HAVE_DNNL
  (void)configureCpuPaths();
  s += "; oneDNN: " + dnnlIsaName(dnnl_get_effective_cpu_isa());
#else
  s += "; oneDNN: absent";
#endif
  s += "; BLAS: ";
  if (openblas_get_corename) {
    const char *core = openblas_get_corename();
    s += std::string("OpenBLAS ") + (core ? core : "?");
  } else {
    s += "plain-loop fallback";
  }
  return s;
}

} // namespace tessera::rt
