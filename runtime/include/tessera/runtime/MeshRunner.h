//===- MeshRunner.h - every rank of a package in one process -----*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Runs all ranks of a partitioned package in this process, one thread each,
// through the pipeline executor, and lets the caller see whole tensors: an
// input split over data-parallel replicas and micro-batches is sliced for
// each (micro-batch m of replica d is chunk d * microbatches + m), outputs are
// joined from the last stage's tp index 0 (a pipelined training step's
// results come from rank 0, which gathers them). One rank is the same with no
// threads. What `tessera-run --ranks N`, the decode loop and the Python
// package share.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_MESHRUNNER_H
#define TESSERA_RUNTIME_MESHRUNNER_H

#include "tessera/runtime/Pipeline.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

/// Part `index` of `parts` equal slices of `t` along `axis`.
HostTensor sliceAlong(const HostTensor &t, int axis, int parts, int index);
/// The concatenation of `parts` (equal shapes) along `axis`.
HostTensor concatAlong(const std::vector<HostTensor> &parts, int axis);

class MeshRunner {
public:
  /// A runner over `sessions` (rank k's session and communicator at index
  /// k, every rank of `package`); they stay owned by the caller. A null
  /// session is a rank another process runs (under mpirun): run() runs the
  /// others, and outputs are those this process's ranks produce. With
  /// `group`, a rank that fails aborts the group so the others stop waiting.
  /// `role` is the programs' (SessionOptions::role) the sessions run: ""
  /// the ranks' main ones, "prefill:<length>" a generation package's prompt
  /// programs.
  static Status create(const Package &package, std::vector<Session *> sessions,
                       std::vector<Communicator *> comms, std::unique_ptr<MeshRunner> &out,
                       LocalGroup *group = nullptr, const std::string &role = "");

  /// The whole tensors a runner of `package`'s programs of `role` takes and
  /// gives, from the package alone.
  static Status describe(const Package &package, std::vector<TensorInfo> &inputs,
                         std::vector<TensorInfo> &outputs, const std::string &role = "");

  /// The whole tensors the caller gives and gets.
  const std::vector<TensorInfo> &inputs() const { return inputs_; }
  const std::vector<TensorInfo> &outputs() const { return outputs_; }

  /// Keeps `value` for the input `name`: its dtype and shape must be the
  /// whole tensor's.
  Status setInput(const std::string &name, const HostTensor &value);
  /// One run of every rank (every micro-batch); fails with the first rank's
  /// error, the others released. With `trace`, every rank's events.
  Status run(const Schedule *schedule = nullptr, std::vector<TraceEvent> *trace = nullptr);
  /// Testing: rank `rank` stops silently before micro-batch `microbatch` of
  /// each run (its schedule truncated there), then calls `died` (which may
  /// end the process, as a crashed MPI rank would); the others must time
  /// out or be failed by the group.
  void dieAt(int rank, int microbatch, std::function<void(int rank)> died);
  /// Under mpirun: the output chunks of the last run, sent by the processes
  /// that produced them to world rank 0, which getOutput then reads whole.
  Status collectOutputs(Communicator &world);
  /// The whole output `name` of the last run.
  Status getOutput(const std::string &name, HostTensor &out) const;

  int ranks() const { return int(sessions_.size()); }
  /// Rank `rank`'s session, or null when another process runs it.
  Session *session(int rank) { return sessions_[size_t(rank)]; }
  /// Rank `rank`'s communicator (null for a mesh of one rank), and the
  /// group that fails the ranks together (ranks as threads): what a runner
  /// of other programs of the same ranks binds to (MeshRunner::create).
  Communicator *comm(int rank) { return comms_[size_t(rank)]; }
  LocalGroup *group() { return group_; }
  /// The first rank this process runs.
  int firstLocal() const;
  /// Whether this process runs every rank.
  bool allLocal() const;

private:
  MeshRunner(const Package &package) : package_(package) {}
  const Package &package_;
  std::vector<Session *> sessions_;
  std::vector<Communicator *> comms_;
  std::vector<TrainingPipelineRoutes> routes_; ///< per rank, when segmented
  LocalGroup *group_ = nullptr;
  std::unique_ptr<Schedule> gpipe_;
  std::vector<TensorInfo> inputs_, outputs_;
  std::map<std::string, HostTensor> in_;
  std::map<std::pair<std::string, int>, HostTensor> chunks_; ///< (name, chunk)
  int chunkCount_ = 1;
  int dieRank_ = -1, dieMicrobatch_ = 0;
  std::function<void(int)> died_;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_MESHRUNNER_H
