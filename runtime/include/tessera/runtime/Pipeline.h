//===- Pipeline.h - running a rank of a pipelined package ------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A package may cut each data-parallel replica into stages (its mesh is
// [dp, stages, tp]) and stream `microbatches` slices of the replica's batch
// through them. A rank runs its stage's program once per micro-batch; a
// Schedule says in which order it receives a micro-batch's inputs from the
// previous stage, runs, and sends the results to the next stage. Graph
// inputs enter at the first stage and outputs leave at the last.
//
// Schedules are named and pluggable: "gpipe" (fill-drain: every micro-batch
// forward in order, which for inference is also what 1F1B reduces to).
//
// Thread safety: one thread per rank.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_PIPELINE_H
#define TESSERA_RUNTIME_PIPELINE_H

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/Package.h"
#include "tessera/runtime/Session.h"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace tessera::rt {

/// Where a rank sits in the mesh.
struct MeshPosition {
  int rank = 0, replica = 0, stage = 0, tpIndex = 0;
  int replicas = 1, stages = 1, tp = 1, microbatches = 1;
  /// The rank of the same replica and tp index in stage `s`.
  int rankOfStage(int s) const { return (replica * stages + s) * tp + tpIndex; }
};
MeshPosition meshPosition(const Package &package, int rank);

struct ScheduleStep {
  /// Inference: receive, run, send. Training: a micro-batch's forward or
  /// backward pass (each with its receives and sends).
  enum class Kind { Recv, Run, Send, Forward, Backward } kind;
  int microbatch;
};

class Schedule {
public:
  virtual ~Schedule() = default;
  virtual std::string name() const = 0;
  /// What stage `stage` of `stages` does, in order, for `microbatches`.
  virtual std::vector<ScheduleStep> steps(int stage, int stages, int microbatches) const = 0;
  /// Training: the order of stage `stage`'s forward and backward passes
  /// over the micro-batches.
  virtual std::vector<ScheduleStep> trainingSteps(int stage, int stages,
                                                  int microbatches) const = 0;
};

/// A schedule by name: "gpipe" (fill-drain: every forward pass, then every
/// backward pass) or "1f1b" (PipeDream-Flush, Megatron's default: stage s
/// runs pp - s - 1 forward passes, then alternates one forward and one
/// backward, so that at most pp - s micro-batches' activations are kept);
/// null for an unknown name. Inference runs both as fill-drain.
std::unique_ptr<Schedule> makeSchedule(const std::string &name);

/// One span of a rank's time, for Chrome/Perfetto traces.
struct TraceEvent {
  std::string name;     ///< kernel op, "send mb 3", "recv mb 3 (idle)"
  std::string category; ///< kernel, collective, run, send, recv, flush
  int rank = 0;
  double start = 0, duration = 0; ///< seconds since the run began
};

/// Appends one event per kernel span of a run of `session` on `rank`.
void traceKernels(const Session &session, const std::vector<KernelSpan> &spans, int rank,
                  double origin, std::vector<TraceEvent> &trace);

/// Writes events as a Chrome trace (one track per rank).
Status writeChromeTrace(const std::string &path, const std::vector<TraceEvent> &events);

/// Runs rank `position`'s program for every micro-batch under `schedule`.
/// `input(mb, name, out)` gives a first-stage input of micro-batch `mb`;
/// `output(mb, name, tensor)` takes a last-stage output. `comm` carries the
/// sends and receives between stages (it may be null with one stage).
/// Events go to `trace` when it is not null.
Status runPipelineRank(
    Session &session, Communicator *comm, const MeshPosition &position,
    const Schedule &schedule,
    const std::function<Status(int, const std::string &, HostTensor &)> &input,
    const std::function<Status(int, const std::string &, HostTensor &&)> &output,
    std::vector<TraceEvent> *trace, double traceOrigin);

/// Pipeline training: who makes and who reads each value "x:N" between the
/// segments of a replica's stages, the last of a rank's segments reading
/// each, and the step results each stage's first rank holds. It depends only
/// on the package and the rank: made once (routeTrainingPipeline) for every
/// step of the rank.
struct TrainingPipelineRoutes {
  struct Value {
    int producer = -1; ///< rank
    bool perMicroBatch = false;
    std::set<int> readers; ///< ranks
  };
  std::map<std::string, Value> values;
  /// Each stage's step results (rank -> infos), gathered at rank 0.
  std::map<int, std::vector<TensorInfo>> results;
  /// The index in session.segments() of the last segment reading each value.
  std::map<std::string, size_t> lastReader;
  int largestId = 0;
};
Status routeTrainingPipeline(const Package &package,
                             const MeshPosition &position,
                             const Session &session,
                             TrainingPipelineRoutes &routes);

/// One training step of a rank whose session runs the step as segments
/// (Session::segments()), along `routes` (routeTrainingPipeline of the same
/// rank). Per phase: the once segments, then every micro-batch's forward and
/// backward passes in `schedule`'s order. A segment's inputs are step inputs
/// (`input(mb, name, out)`: the micro-batch's slice) or values "x:N" another
/// segment made: kept on the rank, or received from the stage that made them
/// (tag N and the micro-batch); its "x:N" results go to the segments and
/// stages that read them. The step's results (the loss, the gradient norm)
/// go to rank 0, which hands them to `output(name, tensor)`. Events go to
/// `trace`: each pass ("F 3", "B 3" on the run track, category forward /
/// backward / once) and its kernels.
Status runTrainingPipelineRank(
    Session &session, Communicator *comm, const TrainingPipelineRoutes &routes,
    const MeshPosition &position, const Schedule &schedule,
    const std::function<Status(int, const std::string &, HostTensor &)> &input,
    const std::function<Status(const std::string &, HostTensor &&)> &output,
    std::vector<TraceEvent> *trace, double traceOrigin);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_PIPELINE_H
