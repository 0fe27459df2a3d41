//===- Host.h - the host a process runs on: cores, threads, CPU paths -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// How the ranks of one host share its cores, and which CPU code paths the
// kernels take there.
//
// Threads: by default each rank's kernels get the host's cores divided by
// the ranks on the host (the ranks this process runs as threads, or the MPI
// launcher's local size), at least one. Where ranks x threads exceed the
// cores (oversubscription: an explicit --threads, more ranks than cores),
// OpenMP's spinning waits make each thread burn the core another one needs;
// tessera-run then re-executes itself with OMP_WAIT_POLICY=PASSIVE (OpenMP
// reads it once, when it loads) unless the user chose a policy. With several
// threads a rank and a core each, it shortens OpenMP's spin instead
// (GOMP_SPINCOUNT=10000: microseconds, not milliseconds, before sleeping).
//
// CPU paths: TESSERA_CPU_ISA caps the instruction sets the CPU backend uses,
// so that every dispatch path can be tested on any x86 machine: `auto` (the
// default: the best the CPU has), `avx2` (the project's AVX2/FMA kernels;
// oneDNN capped at AVX2 unless ONEDNN_MAX_CPU_ISA says otherwise), `portable`
// (the project's scalar C++ paths; oneDNN capped at SSE4.1). OpenBLAS picks
// its kernels when it loads: OPENBLAS_CORETYPE (e.g. Haswell) caps it.
//
// Thread safety: every function here may be called from any thread.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_HOST_H
#define TESSERA_RUNTIME_HOST_H

#include "tessera/runtime/Status.h"

#include <string>

namespace tessera::rt {

/// The cores this process may run on (its CPU affinity mask), at least 1.
int hostCores();

/// The ranks the MPI launcher started on this host (OpenMPI's
/// OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS, Slurm's
/// SLURM_NTASKS_PER_NODE); 0 when not started by one.
int launcherLocalRanks();

/// How one rank's kernels share the host's cores with the other ranks.
struct ThreadPlacement {
  int cores = 1;          ///< hostCores()
  int ranksOnHost = 1;    ///< ranks sharing those cores
  int threadsPerRank = 1; ///< OpenMP threads of each rank's kernels
  /// Where threadsPerRank comes from: "--threads", "TESSERA_NUM_THREADS",
  /// "OMP_NUM_THREADS" or "cores / ranks".
  std::string source;
  /// OMP_WAIT_POLICY as this process runs ("" when unset: OpenMP's default,
  /// which spins before it sleeps).
  std::string waitPolicy;
  /// GOMP_SPINCOUNT as this process runs ("" when unset).
  std::string spinCount;

  bool oversubscribed() const { return ranksOnHost * threadsPerRank > cores; }
  /// One line: "threads: 1 per rank x 4 ranks on 2 cores (cores / ranks),
  /// oversubscribed, OpenMP waits passive".
  std::string describe() const;
};

/// The placement of a rank among `ranksOnHost` (0: the launcher's local
/// ranks, else 1; where the launcher bound each process to a share of the
/// CPUs, those that share this process's share): `requested` threads when positive, else
/// TESSERA_NUM_THREADS, else OMP_NUM_THREADS, else the cores divided by the
/// ranks. An error names a malformed variable.
Status placeThreads(int requested, int ranksOnHost, ThreadPlacement &out);

/// The spin count chooseOpenMpWaiting sets for teams with a core a thread.
inline constexpr const char *kShortSpinCount = "10000";

/// Unless the user set OMP_WAIT_POLICY, GOMP_SPINCOUNT or
/// TESSERA_KEEP_WAIT_POLICY=1, re-executes this program (`argv`) with
/// OMP_WAIT_POLICY=PASSIVE where `placement` oversubscribes the cores, or
/// with GOMP_SPINCOUNT=kShortSpinCount where each rank has several threads
/// and a core for each; returns when it did not (nothing to change, or exec
/// failed). Call it before any thread is started.
void chooseOpenMpWaiting(const ThreadPlacement &placement, char **argv);

/// The CPU paths the kernels take on this host, one line: "cpu: AMD EPYC
/// (avx512); own kernels: avx2+fma; oneDNN: avx512_core_bf16; OpenBLAS:
/// SkylakeX".
std::string cpuPaths();

/// Validates TESSERA_CPU_ISA and applies its cap to oneDNN before any GEMM
/// is prepared (sessions call it); the error names the variable and the
/// accepted values.
Status configureCpuPaths();

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_HOST_H
