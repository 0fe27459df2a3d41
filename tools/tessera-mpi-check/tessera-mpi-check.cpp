//===- tessera-mpi-check.cpp - MPI communicator check under mpirun --------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
//   mpirun -np 4 tessera-mpi-check            all collectives, values checked
//   mpirun -np 4 tessera-mpi-check --hang R   rank R skips the collective:
//                                             the others must abort in time
//   mpirun -np 4 tessera-mpi-check --die R    rank R exits: the job must fail
//
// Prints "rank R: ok" per rank, or an error and a non-zero exit.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/MpiCommunicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using namespace tessera::rt;

int main(int argc, char **argv) {
  int hang = -1, die = -1;
  if (argc == 3 && std::strcmp(argv[1], "--hang") == 0)
    hang = std::atoi(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "--die") == 0)
    die = std::atoi(argv[2]);
  std::unique_ptr<Communicator> comm;
  auto timeout = std::chrono::milliseconds(hang >= 0 || die >= 0 ? 2000 : 30000);
  if (Status s = createMpiCommunicator(timeout, comm);
      !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  int r = comm->rank(), n = comm->size();
  auto fail = [&](const char *what) {
    std::fprintf(stderr, "rank %d: wrong %s\n", r, what);
    return 1;
  };
  if (die == r) {
    std::fprintf(stderr, "rank %d: dying before the collective\n", r);
    std::_Exit(7); // mpirun must fail the job, not leave the others hanging
  }
  if (hang == r) {
    std::this_thread::sleep_for(std::chrono::seconds(30)); // stuck; mpirun kills us
    return 0;
  }
  std::vector<float> x = {float(r), 1.0f};
  if (!comm->allReduce(x.data(), 2, DType::F32, ReduceOp::Sum).ok())
    return 1;
  if (x[0] != float(n * (n - 1) / 2) || x[1] != float(n))
    return fail("all_reduce");
  std::vector<int64_t> mine = {r}, all(static_cast<size_t>(n), 0);
  if (!comm->allGather(mine.data(), all.data(), 1, DType::I64).ok())
    return 1;
  for (int k = 0; k < n; ++k)
    if (all[size_t(k)] != k)
      return fail("all_gather");
  std::vector<double> chunks(size_t(n) * 2, double(r)), out(2);
  if (!comm->reduceScatter(chunks.data(), out.data(), 2, DType::F64, ReduceOp::Max).ok())
    return 1;
  if (out[0] != double(n - 1))
    return fail("reduce_scatter");
  int next = (r + 1) % n, prev = (r + n - 1) % n, got = -1;
  if (!comm->send(&r, sizeof(r), next, 5).ok() || !comm->recv(&got, sizeof(got), prev, 5).ok())
    return 1;
  if (got != prev)
    return fail("send/recv");
  std::printf("rank %d: ok\n", r);
  finalizeMpi();
  return 0;
}
