//===- MpiCommunicator.cpp - one process per rank under mpirun ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/MpiCommunicator.h"

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <thread>

namespace tessera::rt {
namespace {

MPI_Datatype mpiType(DType dtype) {
  switch (dtype) {
  case DType::F32: return MPI_FLOAT;
  case DType::F64: return MPI_DOUBLE;
  case DType::I32: return MPI_INT32_T;
  case DType::I64: return MPI_INT64_T;
  case DType::I8: return MPI_INT8_T;
  case DType::Bool: return MPI_UINT8_T;
  default: return MPI_DATATYPE_NULL;
  }
}

class MpiCommunicator : public Communicator {
public:
  MpiCommunicator(std::chrono::milliseconds timeout, MPI_Comm comm)
      : timeout_(timeout), comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Status allReduce(void *buffer, size_t count, DType dtype, ReduceOp op) override {
    MPI_Request request;
    if (Status s = check(dtype, "all_reduce"); !s.ok())
      return s;
    MPI_Iallreduce(MPI_IN_PLACE, buffer, int(count), mpiType(dtype),
                   op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, comm_, &request);
    return wait(request, "all_reduce");
  }

  Status allReduceStart(void *buffer, size_t count, DType dtype,
                        ReduceOp op) override {
    if (Status s = check(dtype, "all_reduce"); !s.ok())
      return s;
    if (Status s = wait(buffer); !s.ok()) // (started again before its wait)
      return s;
    MPI_Iallreduce(MPI_IN_PLACE, buffer, int(count), mpiType(dtype),
                   op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, comm_,
                   &started_[buffer]);
    return Status::okStatus();
  }

  Status wait(const void *buffer) override {
    auto it = started_.find(buffer);
    if (it == started_.end())
      return Status::okStatus();
    Status s = wait(it->second, "all_reduce");
    started_.erase(it);
    return s;
  }

  Status allGather(const void *send, void *recv, size_t count, DType dtype) override {
    MPI_Request request;
    if (Status s = check(dtype, "all_gather"); !s.ok())
      return s;
    MPI_Iallgather(send, int(count), mpiType(dtype), recv, int(count),
                   mpiType(dtype), comm_, &request);
    return wait(request, "all_gather");
  }

  Status reduceScatter(const void *send, void *recv, size_t count, DType dtype,
                       ReduceOp op) override {
    MPI_Request request;
    if (Status s = check(dtype, "reduce_scatter"); !s.ok())
      return s;
    MPI_Ireduce_scatter_block(send, recv, int(count), mpiType(dtype),
                              op == ReduceOp::Sum ? MPI_SUM : MPI_MAX,
                              comm_, &request);
    return wait(request, "reduce_scatter");
  }

  Status send(const void *data, size_t bytes, int peer, int tag) override {
    MPI_Request request;
    MPI_Isend(data, int(bytes), MPI_BYTE, peer, tag, comm_, &request);
    return wait(request, "send to rank " + std::to_string(peer));
  }

  Status recv(void *data, size_t bytes, int peer, int tag) override {
    MPI_Request request;
    MPI_Irecv(data, int(bytes), MPI_BYTE, peer, tag, comm_, &request);
    return wait(request, "recv from rank " + std::to_string(peer));
  }

  Status sendAsync(std::vector<uint8_t> data, int peer, int tag) override {
    pending_.push_back({std::move(data), MPI_REQUEST_NULL, peer});
    Pending &p = pending_.back();
    MPI_Isend(p.data.data(), int(p.data.size()), MPI_BYTE, peer, tag, comm_, &p.request);
    // Complete what has already gone so the list stays short.
    while (!pending_.empty()) {
      int done = 0;
      MPI_Test(&pending_.front().request, &done, MPI_STATUS_IGNORE);
      if (!done)
        break;
      pending_.pop_front();
    }
    return Status::okStatus();
  }

  Status flush() override {
    while (!pending_.empty()) {
      Pending &p = pending_.front();
      if (Status s = wait(p.request, "send to rank " + std::to_string(p.peer)); !s.ok())
        return s;
      pending_.pop_front();
    }
    return Status::okStatus();
  }

  Status subgroup(const std::vector<int> &ranks,
                  std::shared_ptr<Communicator> &out) override {
    MPI_Group world, group;
    MPI_Comm_group(comm_, &world);
    MPI_Group_incl(world, int(ranks.size()), ranks.data(), &group);
    MPI_Comm comm = MPI_COMM_NULL;
    // Collective over the group's members only (MPI 3).
    int rc = MPI_Comm_create_group(comm_, group, /*tag=*/77, &comm);
    MPI_Group_free(&group);
    MPI_Group_free(&world);
    if (rc != MPI_SUCCESS || comm == MPI_COMM_NULL)
      return Status(StatusCode::Internal, "MPI_Comm_create_group failed");
    out = std::make_shared<MpiCommunicator>(timeout_, comm);
    return Status::okStatus();
  }

private:
  Status check(DType dtype, const char *op) const {
    if (mpiType(dtype) == MPI_DATATYPE_NULL)
      return Status(StatusCode::Unimplemented,
                    std::string(op) + ": element type " +
                        std::string(dtypeName(dtype)) + " is not supported over MPI");
    return Status::okStatus();
  }

  /// Polls `request` until it completes or the deadline passes; then the job
  /// is aborted (other ranks may be blocked in the same collective).
  Status wait(MPI_Request &request, const std::string &op) {
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    int done = 0;
    int spins = 0;
    while (true) {
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done)
        return Status::okStatus();
      if (std::chrono::steady_clock::now() > deadline)
        break;
      if (++spins > 1000)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    std::fprintf(stderr,
                 "tessera: rank %d: %s timed out after %lld ms: a rank did not "
                 "take part (died or stuck); aborting the job\n",
                 rank_, op.c_str(), (long long)timeout_.count());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 3);
    return Status(StatusCode::Internal, op + " timed out");
  }

  /// All-reduces started (allReduceStart) by buffer, until waited for.
  std::map<const void *, MPI_Request> started_;
  struct Pending {
    std::vector<uint8_t> data; ///< alive until the send completes
    MPI_Request request;
    int peer;
  };
  std::deque<Pending> pending_;
  std::chrono::milliseconds timeout_;
  MPI_Comm comm_ = MPI_COMM_WORLD;
  int rank_ = 0, size_ = 1;
};

} // namespace

Status createMpiCommunicator(std::chrono::milliseconds timeout,
                             std::unique_ptr<Communicator> &out) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return Status(StatusCode::Internal, "MPI_Init failed");
  }
  out = std::make_unique<MpiCommunicator>(timeout, MPI_COMM_WORLD);
  return Status::okStatus();
}

void finalizeMpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized)
    MPI_Finalize();
}

} // namespace tessera::rt
