//===- Pipeline.cpp - running a rank of a pipelined package ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Pipeline.h"
#include "tessera/runtime/tpkg_generated.h"

#include <cstdio>
#include <fstream>

namespace tessera::rt {

MeshPosition meshPosition(const Package &package, int rank) {
  MeshPosition p;
  const tpkg::Package *plan = package.plan();
  int size = package.meshSize();
  p.rank = rank;
  p.stages = int(std::max(1u, plan->stages()));
  p.microbatches = int(std::max(1u, plan->microbatches()));
  p.replicas = plan->mesh() && plan->mesh()->size() ? int(plan->mesh()->Get(0)) : 1;
  p.tp = std::max(1, size / std::max(1, p.replicas * p.stages));
  p.replica = rank / (p.stages * p.tp);
  p.stage = (rank / p.tp) % p.stages;
  p.tpIndex = rank % p.tp;
  return p;
}

namespace {

/// Fill-drain: each micro-batch received, run and sent in order. Sends do
/// not wait for the receiver (local mailboxes, MPI buffering), so stage s
/// works on micro-batch i while stage s + 1 works on i - 1.
class GPipeSchedule : public Schedule {
public:
  std::string name() const override { return "gpipe"; }
  std::vector<ScheduleStep> steps(int stage, int stages, int microbatches) const override {
    std::vector<ScheduleStep> out;
    for (int mb = 0; mb < microbatches; ++mb) {
      if (stage > 0)
        out.push_back({ScheduleStep::Kind::Recv, mb});
      out.push_back({ScheduleStep::Kind::Run, mb});
      if (stage + 1 < stages)
        out.push_back({ScheduleStep::Kind::Send, mb});
    }
    return out;
  }
  std::vector<ScheduleStep> trainingSteps(int, int, int microbatches) const override {
    std::vector<ScheduleStep> out;
    for (int mb = 0; mb < microbatches; ++mb)
      out.push_back({ScheduleStep::Kind::Forward, mb});
    for (int mb = 0; mb < microbatches; ++mb)
      out.push_back({ScheduleStep::Kind::Backward, mb});
    return out;
  }
};

/// 1F1B (PipeDream-Flush): warm up with pp - s - 1 forward passes, then one
/// forward and one backward in turn, then the remaining backward passes.
class OneFOneBSchedule : public GPipeSchedule {
public:
  std::string name() const override { return "1f1b"; }
  std::vector<ScheduleStep> trainingSteps(int stage, int stages,
                                          int microbatches) const override {
    std::vector<ScheduleStep> out;
    int warmup = std::min(stages - stage - 1, microbatches);
    int forward = 0, backward = 0;
    for (; forward < warmup; ++forward)
      out.push_back({ScheduleStep::Kind::Forward, forward});
    for (; forward < microbatches; ++forward, ++backward) {
      out.push_back({ScheduleStep::Kind::Forward, forward});
      out.push_back({ScheduleStep::Kind::Backward, backward});
    }
    for (; backward < microbatches; ++backward)
      out.push_back({ScheduleStep::Kind::Backward, backward});
    return out;
  }
};

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20)
      out += c;
  }
  return out;
}

} // namespace

std::unique_ptr<Schedule> makeSchedule(const std::string &name) {
  if (name == "gpipe" || name.empty())
    return std::make_unique<GPipeSchedule>();
  if (name == "1f1b")
    return std::make_unique<OneFOneBSchedule>();
  return nullptr;
}

void traceKernels(const Session &session, const std::vector<KernelSpan> &spans, int rank,
                  double origin, std::vector<TraceEvent> &trace) {
  for (const KernelSpan &k : spans) {
    const std::string &op = session.profile()[k.kernel].op;
    bool collective = op == "all_reduce" || op == "all_gather" || op == "reduce_scatter";
    trace.push_back(
        {op, collective ? "collective" : "kernel", rank, k.start - origin, k.end - k.start});
  }
}

Status writeChromeTrace(const std::string &path, const std::vector<TraceEvent> &events) {
  std::ofstream out(path);
  if (!out)
    return Status(StatusCode::InvalidArgument, "cannot write trace '" + path + "'");
  out << "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n";
  bool first = true;
  std::vector<int> ranks;
  for (const TraceEvent &e : events)
    if (std::find(ranks.begin(), ranks.end(), e.rank) == ranks.end())
      ranks.push_back(e.rank);
  for (int r : ranks) {
    out << (first ? "" : ",\n") << "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 0, \"tid\": "
        << r << ", \"args\": {\"name\": \"rank " << r << "\"}}";
    first = false;
  }
  char buffer[160];
  for (const TraceEvent &e : events) {
    std::snprintf(buffer, sizeof(buffer), "\"ts\": %.3f, \"dur\": %.3f", e.start * 1e6,
                  e.duration * 1e6);
    out << (first ? "" : ",\n") << "{\"name\": \"" << escape(e.name) << "\", \"cat\": \""
        << escape(e.category) << "\", \"ph\": \"X\", \"pid\": 0, \"tid\": " << e.rank << ", "
        << buffer << "}";
    first = false;
  }
  out << "\n]}\n";
  return out ? Status::okStatus()
             : Status(StatusCode::Internal, "cannot write trace '" + path + "'");
}

Status runPipelineRank(
    Session &session, Communicator *comm, const MeshPosition &position,
    const Schedule &schedule,
    const std::function<Status(int, const std::string &, HostTensor &)> &input,
    const std::function<Status(int, const std::string &, HostTensor &&)> &output,
    std::vector<TraceEvent> *trace, double traceOrigin) {
  const int stages = position.stages;
  const bool first = position.stage == 0, last = position.stage + 1 == stages;
  auto event = [&](const std::string &name, const char *category, double start) {
    if (trace)
      trace->push_back({name, category, position.rank, start - traceOrigin,
                        Session::now() - start});
  };
  auto tag = [&](int mb, size_t value) { return int(mb * 1024 + int(value)); };
  // Errors of the exchange name the stage, the rank and the micro-batch.
  auto failed = [&](const Status &s, int mb) {
    return Status(s.code(), "stage " + std::to_string(position.stage) + " (rank " +
                                std::to_string(position.rank) + ")" +
                                (mb >= 0 ? ", micro-batch " + std::to_string(mb) : "") +
                                ": " + s.message());
  };
  for (const ScheduleStep &step : schedule.steps(position.stage, stages, position.microbatches)) {
    int mb = step.microbatch;
    std::string suffix = " mb " + std::to_string(mb);
    switch (step.kind) {
    case ScheduleStep::Kind::Recv: {
      double start = Session::now();
      int peer = position.rankOfStage(position.stage - 1);
      for (size_t i = 0; i < session.inputs().size(); ++i) {
        const TensorInfo &info = session.inputs()[i];
        HostTensor t;
        t.dtype = info.dtype;
        t.shape = info.shape;
        t.data.resize(size_t(t.numElements()) * dtypeSize(t.dtype));
        if (Status s = comm->recv(t.data.data(), t.data.size(), peer, tag(mb, i)); !s.ok())
          return failed(s, mb);
        if (Status s = session.setInput(info.name, t); !s.ok())
          return s;
      }
      event("recv" + suffix + " (idle)", "recv", start);
      break;
    }
    case ScheduleStep::Kind::Run: {
      if (first) {
        for (const TensorInfo &info : session.inputs()) {
          HostTensor t;
          if (Status s = input(mb, info.name, t); !s.ok())
            return s;
          if (Status s = session.setInput(info.name, t); !s.ok())
            return s;
        }
        if (Status s = session.selectChunk(position.replica * position.microbatches + mb,
                                           position.replicas * position.microbatches);
            !s.ok())
          return s;
      }
      std::vector<KernelSpan> spans;
      double start = Session::now();
      if (Status s = session.run(trace ? &spans : nullptr); !s.ok())
        return s;
      if (trace) {
        traceKernels(session, spans, position.rank, traceOrigin, *trace);
        event("stage " + std::to_string(position.stage) + suffix, "run", start);
      }
      if (last)
        for (const TensorInfo &info : session.outputs()) {
          HostTensor t;
          if (Status s = session.getOutput(info.name, t); !s.ok())
            return s;
          if (Status s = output(mb, info.name, std::move(t)); !s.ok())
            return s;
        }
      break;
    }
    case ScheduleStep::Kind::Send: {
      double start = Session::now();
      int peer = position.rankOfStage(position.stage + 1);
      for (size_t i = 0; i < session.outputs().size(); ++i) {
        HostTensor t;
        if (Status s = session.getOutput(session.outputs()[i].name, t); !s.ok())
          return s;
        // Asynchronous: the next micro-batch computes while this one travels.
        if (Status s = comm->sendAsync(std::move(t.data), peer, tag(mb, i)); !s.ok())
          return failed(s, mb);
      }
      event("send" + suffix, "send", start);
      break;
    }
    case ScheduleStep::Kind::Forward:
    case ScheduleStep::Kind::Backward:
      // (A training schedule's passes: Schedule::trainingSteps, not steps.)
      return Status(StatusCode::Internal,
                    "an inference pipeline's schedule gave a training "
                    "pass");
    }
  }
  if (comm && position.stage + 1 < stages) {
    double start = Session::now();
    if (Status s = comm->flush(); !s.ok())
      return failed(s, -1);
    event("flush sends", "flush", start);
  }
  return Status::okStatus();
}

} // namespace tessera::rt
