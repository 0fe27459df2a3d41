//===- Communicator.h - collectives and point-to-point between ranks -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// What partitioned programs need from the ranks around them: all-reduce,
// all-gather, reduce-scatter, and send/recv. Every call either completes on
// all ranks or fails on all of them: a rank that does not arrive within the
// timeout (it died, or it is stuck) makes the whole group fail with an error
// that names the collective and the missing ranks, never a hang.
//
// Implementations: LocalGroup (ranks as threads of one process); MPI and
// NCCL communicators follow the same interface.
//
// Thread safety: each Communicator is used by its own rank's thread.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_COMMUNICATOR_H
#define TESSERA_RUNTIME_COMMUNICATOR_H

#include "tessera/runtime/DType.h"
#include "tessera/runtime/Status.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

enum class ReduceOp { Sum, Max };

class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  /// In place: `count` elements of `buffer` become the reduction over ranks.
  virtual Status allReduce(void *buffer, size_t count, DType dtype,
                           ReduceOp op) = 0;
  /// `recv` (size() * count elements) receives every rank's `send`, in rank
  /// order.
  virtual Status allGather(const void *send, void *recv, size_t count,
                           DType dtype) = 0;
  /// `send` holds size() * count elements; rank r receives the reduction of
  /// chunk r.
  virtual Status reduceScatter(const void *send, void *recv, size_t count,
                               DType dtype, ReduceOp op) = 0;
  virtual Status send(const void *data, size_t bytes, int peer, int tag) = 0;
  virtual Status recv(void *data, size_t bytes, int peer, int tag) = 0;
  /// Starts sending `data` (owned until it is delivered) and returns; the
  /// caller goes on computing. flush() waits for every started send. The
  /// default sends at once.
  virtual Status sendAsync(std::vector<uint8_t> data, int peer, int tag) {
    return send(data.data(), data.size(), peer, tag);
  }
  virtual Status flush() { return Status::okStatus(); }
  /// Starts an all-reduce of `buffer` in place and returns: the caller goes
  /// on computing and must not touch the buffer until wait(buffer) returns
  /// (with the all-reduce's status). Started all-reduces complete in the
  /// order started, and a blocking collective on this communicator comes
  /// after them. The default runs it at once.
  virtual Status allReduceStart(void *buffer, size_t count, DType dtype,
                                ReduceOp op) {
    return allReduce(buffer, count, dtype, op);
  }
  virtual Status wait(const void *buffer) {
    (void)buffer;
    return Status::okStatus();
  }
  /// Whether allReduce, allGather and reduceScatter take device memory (NCCL)
  /// rather than host memory. Point-to-point calls always take host memory.
  virtual bool deviceCollectives() const { return false; }

  /// The communicator of the group of `ranks` (ranks of this communicator,
  /// in the order that becomes the group's rank order), which must include
  /// this rank. Every member calls it; members that share several groups
  /// create them in the same order.
  virtual Status subgroup(const std::vector<int> &ranks,
                          std::shared_ptr<Communicator> &out) = 0;
};

/// Ranks as threads of one process, sharing memory.
class LocalGroup {
public:
  /// A group of `size` ranks whose calls fail after `timeout` without the
  /// others.
  LocalGroup(int size, std::chrono::milliseconds timeout);
  ~LocalGroup();

  int size() const;
  /// Rank `rank`'s communicator (owned by the group).
  Communicator &communicator(int rank);
  /// Fails every pending and future call of the group with `reason` (a rank
  /// that is going away says so instead of letting the others time out).
  void abort(int rank, const std::string &reason);

  struct State;

private:
  std::shared_ptr<State> state_;
  std::vector<std::unique_ptr<Communicator>> comms_;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_COMMUNICATOR_H
