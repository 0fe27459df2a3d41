//===- HostTest.cpp - thread placement and CPU paths ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// How a rank's threads are chosen from the host's cores and the ranks on it,
// whichever variable chose them, and the line that reports the CPU paths.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Host.h"

#include "cpu/VectorMath.h"

#include <gtest/gtest.h>

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace tessera::rt;

namespace {

/// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old, had_ = true;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_.c_str(), old_.c_str(), 1);
    else
      unsetenv(name_.c_str());
  }

private:
  std::string name_, old_;
  bool had_ = false;
};

/// No thread variable and no launcher: placement from the cores alone.
struct CleanEnv {
  ScopedEnv a{"TESSERA_NUM_THREADS", nullptr}, b{"OMP_NUM_THREADS", nullptr},
      c{"OMPI_COMM_WORLD_LOCAL_SIZE", nullptr}, d{"MPI_LOCALNRANKS", nullptr},
      e{"PMI_LOCAL_SIZE", nullptr}, f{"SLURM_NTASKS_PER_NODE", nullptr};
};

TEST(Host, DefaultThreadsDivideTheCoresAmongTheRanks) {
  CleanEnv clean;
  int cores = hostCores();
  ASSERT_GE(cores, 1);
  for (int ranks : {1, 2, 3, 4, 2 * cores, 4 * cores}) {
    ThreadPlacement p;
    ASSERT_TRUE(placeThreads(0, ranks, p).ok());
    EXPECT_EQ(p.cores, cores);
    EXPECT_EQ(p.ranksOnHost, ranks);
    EXPECT_EQ(p.threadsPerRank, std::max(1, cores / ranks));
    EXPECT_EQ(p.source, "cores / ranks");
    // Oversubscribed exactly when the ranks outnumber the cores.
    EXPECT_EQ(p.oversubscribed(), ranks > cores) << ranks << " ranks on " << cores;
  }
}

TEST(Host, ExplicitThreadsWinThenTheVariablesInOrder) {
  CleanEnv clean;
  ThreadPlacement p;
  ASSERT_TRUE(placeThreads(3, 2, p).ok());
  EXPECT_EQ(p.threadsPerRank, 3);
  EXPECT_EQ(p.source, "--threads");
  EXPECT_EQ(p.oversubscribed(), 6 > p.cores);
  {
    ScopedEnv omp("OMP_NUM_THREADS", "5,2"); // a nested list: its first level
    ASSERT_TRUE(placeThreads(0, 1, p).ok());
    EXPECT_EQ(p.threadsPerRank, 5);
    EXPECT_EQ(p.source, "OMP_NUM_THREADS");
    ScopedEnv tessera("TESSERA_NUM_THREADS", "7");
    ASSERT_TRUE(placeThreads(0, 1, p).ok());
    EXPECT_EQ(p.threadsPerRank, 7);
    EXPECT_EQ(p.source, "TESSERA_NUM_THREADS");
  }
  {
    // OpenMP ignores a malformed OMP_NUM_THREADS; ours is an error.
    ScopedEnv omp("OMP_NUM_THREADS", "lots");
    ASSERT_TRUE(placeThreads(0, 1, p).ok());
    EXPECT_EQ(p.source, "cores / ranks");
    ScopedEnv tessera("TESSERA_NUM_THREADS", "0");
    Status s = placeThreads(0, 1, p);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("TESSERA_NUM_THREADS='0' is not a thread count"),
              std::string::npos)
        << s.message();
  }
}

TEST(Host, TheLauncherSaysHowManyRanksShareTheHost) {
  CleanEnv clean;
  EXPECT_EQ(launcherLocalRanks(), 0);
  ThreadPlacement p;
  ASSERT_TRUE(placeThreads(0, 0, p).ok());
  EXPECT_EQ(p.ranksOnHost, 1);
  ScopedEnv local("OMPI_COMM_WORLD_LOCAL_SIZE", "4");
  EXPECT_EQ(launcherLocalRanks(), 4);
  ASSERT_TRUE(placeThreads(0, 0, p).ok());
  EXPECT_EQ(p.ranksOnHost, 4);
  EXPECT_EQ(p.threadsPerRank, std::max(1, p.cores / 4));
  // Ranks run as threads are counted by the caller.
  ASSERT_TRUE(placeThreads(0, 2, p).ok());
  EXPECT_EQ(p.ranksOnHost, 2);
}

TEST(Host, RanksTheLauncherBoundElsewhereDoNotShareTheCores) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  if (online < 2 || CPU_COUNT(&saved) < 2 || !CPU_ISSET(0, &saved))
    GTEST_SKIP() << "needs two CPUs to bind to one";
  CleanEnv clean;
  // As OpenMPI binds two ranks on a 2-core host: each to a core of its own.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  ScopedEnv local("OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(online).c_str());
  ThreadPlacement p;
  Status s = placeThreads(0, 0, p);
  sched_setaffinity(0, sizeof saved, &saved);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(p.cores, 1);
  EXPECT_EQ(p.ranksOnHost, 1);
  EXPECT_EQ(p.threadsPerRank, 1);
  EXPECT_FALSE(p.oversubscribed());
  // Unbound, the same ranks share every core.
  if (CPU_COUNT(&saved) == online) {
    ASSERT_TRUE(placeThreads(0, 0, p).ok());
    EXPECT_EQ(p.ranksOnHost, int(online));
  }
}

TEST(Host, DescribeNamesThePlacementAndThePolicy) {
  ThreadPlacement p;
  p.cores = 2;
  p.ranksOnHost = 4;
  p.threadsPerRank = 1;
  p.source = "cores / ranks";
  p.waitPolicy = "passive";
  EXPECT_EQ(p.describe(), "threads: 1 per rank x 4 ranks on 2 cores (cores / ranks), "
                          "oversubscribed, OpenMP waits passive");
  p.ranksOnHost = 1;
  p.waitPolicy.clear();
  EXPECT_EQ(p.describe(), "threads: 1 per rank x 1 rank on 2 cores (cores / ranks), "
                          "not oversubscribed, OpenMP waits spinning, then sleeping");
}

TEST(Host, CpuPathsNameEveryLibraryAndTheOwnKernels) {
  ASSERT_TRUE(configureCpuPaths().ok());
  std::string line = cpuPaths();
  EXPECT_EQ(line.rfind("cpu: ", 0), 0u) << line;
  EXPECT_NE(line.find(tessera::rt::cpu::haveAvx2Fma() ? "own kernels: avx2+fma"
                                                      : "own kernels: portable"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("; oneDNN: "), std::string::npos) << line;
  EXPECT_NE(line.find("; BLAS: "), std::string::npos) << line;
}

} // namespace
