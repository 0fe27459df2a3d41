//===- PipelineTraining.cpp - one training step of a pipelined rank -------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A pipelined training step is a rank's segments (Session::segments()), run
// per phase: the once segments by level, then the micro-batches' forward and
// backward passes in the schedule's order. What a segment reads that another
// made ("x:N") is kept on the rank until its last reader has run, or sent as
// soon as it is made to the stages that read it (asynchronous sends, tagged
// by N and the micro-batch, so that a stage never waits on its own sends).
// Every stage runs its segments in an order in which what it waits for was
// made earlier by a stage that does not wait for it, so the step cannot
// deadlock (the compiler checks the forward/backward order per op).
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Pipeline.h"
#include "tessera/runtime/Roles.h"

#include <cstdlib>
#include <map>
#include <set>

namespace tessera::rt {

namespace {

bool isValueName(const std::string &name) { return roles::isValue(name); }

} // namespace

Status routeTrainingPipeline(const Package &package,
                             const MeshPosition &position,
                             const Session &session,
                             TrainingPipelineRoutes &routes) {
  routes = TrainingPipelineRoutes();
  for (int t = 0; t < position.stages; ++t) {
    int rank = position.rankOfStage(t);
    for (const Session::Segment &seg : Session::listSegments(package, rank)) {
      std::vector<TensorInfo> in, out;
      if (Status s = Session::describe(package, rank, in, out, seg.role); !s.ok())
        return s;
      for (const TensorInfo &info : out)
        if (isValueName(info.name)) {
          TrainingPipelineRoutes::Value &v = routes.values[info.name];
          v.producer = rank;
          v.perMicroBatch = seg.kind != Session::Segment::Kind::Once;
          routes.largestId =
              std::max(routes.largestId, std::atoi(info.name.c_str() + 2));
        }
      for (const TensorInfo &info : in)
        if (isValueName(info.name))
          routes.values[info.name].readers.insert(rank);
    }
    if (position.replica == 0 && position.tpIndex == 0) {
      std::vector<TensorInfo> in, out;
      if (Status s = Session::describe(package, rank, in, out); !s.ok())
        return s;
      routes.results[rank] = out;
    }
  }
  const std::vector<Session::Segment> &segments = session.segments();
  for (size_t k = 0; k < segments.size(); ++k)
    for (const TensorInfo &info : segments[k].session->inputs())
      if (isValueName(info.name))
        routes.lastReader[info.name] = k;
  return Status::okStatus();
}

Status runTrainingPipelineRank(
    Session &session, Communicator *comm, const TrainingPipelineRoutes &routes,
    const MeshPosition &position, const Schedule &schedule,
    const std::function<Status(int, const std::string &, HostTensor &)> &input,
    const std::function<Status(const std::string &, HostTensor &&)> &output,
    std::vector<TraceEvent> *trace, double traceOrigin) {
  const int m = position.microbatches;
  auto failed = [&](const Status &s, const std::string &what) {
    return Status(s.code(), "stage " + std::to_string(position.stage) + " (rank " +
                                std::to_string(position.rank) + "), " + what + ": " +
                                s.message());
  };
  auto tagOf = [&](const std::string &name, int mb) {
    return std::atoi(name.c_str() + 2) * (m + 1) + (mb + 1);
  };
  const std::vector<Session::Segment> &segments = session.segments();
  std::map<std::pair<std::string, int>, HostTensor> kept;
  std::map<std::string, HostTensor> results;
  session.zeroAccumulators();

  auto runSegment = [&](size_t k, int mb) -> Status {
    const Session::Segment &seg = segments[k];
    Session &s = *seg.session;
    const char *kind = seg.kindName();
    std::string what = std::string(kind) + " pass" +
                       (mb >= 0 ? " of micro-batch " + std::to_string(mb) : std::string());
    double waited = Session::now();
    for (const TensorInfo &info : s.inputs()) {
      if (!isValueName(info.name)) {
        HostTensor t;
        if (mb < 0)
          return failed(Status(StatusCode::Internal, "step input '" + info.name +
                                                         "' read once per step"),
                        what);
        if (Status st = input(mb, info.name, t); !st.ok())
          return st;
        if (Status st = s.setInput(info.name, t); !st.ok())
          return st;
        continue;
      }
      auto found = routes.values.find(info.name);
      if (found == routes.values.end() || found->second.producer < 0)
        return failed(Status(StatusCode::DataLoss, "no stage makes '" + info.name + "'"), what);
      const TrainingPipelineRoutes::Value &v = found->second;
      std::pair<std::string, int> key{info.name, v.perMicroBatch ? mb : -1};
      auto it = kept.find(key);
      if (it == kept.end()) {
        if (v.producer == position.rank)
          return failed(Status(StatusCode::Internal, "'" + info.name + "' was not made yet"),
                        what);
        HostTensor t;
        t.dtype = info.dtype;
        t.shape = info.shape;
        t.data.resize(size_t(t.numElements()) * dtypeSize(t.dtype));
        if (Status st = comm->recv(t.data.data(), t.data.size(), v.producer,
                                   tagOf(info.name, key.second));
            !st.ok())
          return failed(st, what);
        it = kept.emplace(key, std::move(t)).first;
      }
      if (Status st = s.setInput(info.name, it->second); !st.ok())
        return st;
    }
    if (s.holdsInputs()) {
      if (mb < 0)
        return failed(Status(StatusCode::Internal, "held inputs read once per step"), what);
      if (Status st = s.selectChunk(position.replica * m + mb, position.replicas * m); !st.ok())
        return failed(st, what);
    }
    double start = Session::now();
    if (trace && start - waited > 1e-5)
      trace->push_back({"wait", "recv", position.rank, waited - traceOrigin, start - waited});
    std::vector<KernelSpan> spans;
    if (Status st = s.run(trace ? &spans : nullptr); !st.ok())
      return failed(st, what);
    if (trace) {
      traceKernels(s, spans, position.rank, traceOrigin, *trace);
      // "F 3" / "B 3" per micro-batch, "once <role>".
      std::string name = mb >= 0 ? std::string(1, char(kind[0] - 'a' + 'A')) +
                                       " " + std::to_string(mb)
                                 : std::string(kind) + " " + seg.role;
      trace->push_back({name, kind, position.rank, start - traceOrigin,
                        Session::now() - start});
    }
    for (const TensorInfo &info : s.outputs()) {
      if (!isValueName(info.name)) {
        if (roles::isUpdate(info.name))
          continue; // state the session wrote back
        HostTensor t;
        if (Status st = s.getOutput(info.name, t); !st.ok())
          return st;
        results[info.name] = std::move(t);
        continue;
      }
      auto found = routes.values.find(info.name);
      if (found == routes.values.end())
        return failed(
            Status(StatusCode::Internal, "'" + info.name + "' has no route"),
            what);
      const TrainingPipelineRoutes::Value &v = found->second;
      HostTensor t;
      if (Status st = s.getOutput(info.name, t); !st.ok())
        return st;
      for (int reader : v.readers)
        if (reader != position.rank)
          if (Status st = comm->sendAsync(t.data, reader, tagOf(info.name, mb)); !st.ok())
            return failed(st, what);
      if (v.readers.count(position.rank))
        kept[{info.name, mb}] = std::move(t);
    }
    // Values no later segment of this rank reads (a micro-batch's
    // activations once its backward pass has run) are dropped.
    for (const TensorInfo &info : s.inputs())
      if (auto last = routes.lastReader.find(info.name);
          last != routes.lastReader.end() && last->second == k &&
          routes.values.at(info.name).perMicroBatch)
        kept.erase({info.name, mb});
    return Status::okStatus();
  };

  for (size_t k = 0; k < segments.size();) {
    int phase = segments[k].phase;
    // The phase's once segments, then its micro-batch passes.
    int forward = -1, backward = -1;
    for (; k < segments.size() && segments[k].phase == phase; ++k) {
      if (segments[k].kind == Session::Segment::Kind::Forward)
        forward = int(k);
      else if (segments[k].kind == Session::Segment::Kind::Backward)
        backward = int(k);
      else if (Status s = runSegment(k, -1); !s.ok())
        return s;
    }
    if (forward < 0 && backward < 0)
      continue;
    for (const ScheduleStep &step :
         schedule.trainingSteps(position.stage, position.stages, m)) {
      int which = step.kind == ScheduleStep::Kind::Forward ? forward : backward;
      if (which >= 0)
        if (Status s = runSegment(size_t(which), step.microbatch); !s.ok())
          return s;
    }
  }
  if (comm)
    if (Status s = comm->flush(); !s.ok())
      return failed(s, "sends");
  // The step's results go to rank 0 (replica 0's tp index 0 of each stage).
  if (position.replica != 0 || position.tpIndex != 0)
    return Status::okStatus();
  const int base = (routes.largestId + 1) * (m + 1);
  if (position.rank != 0) {
    int i = 0;
    for (const TensorInfo &info : routes.results.at(position.rank)) {
      auto it = results.find(info.name);
      if (it == results.end())
        return Status(StatusCode::Internal, "step result '" + info.name + "' was not made");
      if (Status s = comm->send(it->second.data.data(), it->second.data.size(), 0, base + i++);
          !s.ok())
        return failed(s, "sending the step's results");
    }
    return Status::okStatus();
  }
  for (auto &[rank, infos] : routes.results) {
    int i = 0;
    for (const TensorInfo &info : infos) {
      HostTensor t;
      if (rank == 0) {
        t = std::move(results[info.name]);
      } else {
        t.dtype = info.dtype;
        t.shape = info.shape;
        t.data.resize(size_t(t.numElements()) * dtypeSize(t.dtype));
        if (Status s = comm->recv(t.data.data(), t.data.size(), rank, base + i); !s.ok())
          return failed(s, "receiving the step's results");
      }
      ++i;
      if (Status s = output(info.name, std::move(t)); !s.ok())
        return s;
    }
  }
  return Status::okStatus();
}

} // namespace tessera::rt
