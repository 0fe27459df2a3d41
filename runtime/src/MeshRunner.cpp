//===- MeshRunner.cpp - every rank of a package in one process ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/MeshRunner.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <thread>

namespace tessera::rt {

/// Elements before and after `axis` of `shape`.
static void aroundAxis(const std::vector<int64_t> &shape, int axis, int64_t &outer,
                       int64_t &inner) {
  outer = inner = 1;
  for (int d = 0; d < axis; ++d)
    outer *= shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d)
    inner *= shape[d];
}

HostTensor sliceAlong(const HostTensor &t, int axis, int parts, int index) {
  HostTensor out;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.shape[size_t(axis)] /= parts;
  size_t size = dtypeSize(t.dtype);
  int64_t outer, inner;
  aroundAxis(t.shape, axis, outer, inner);
  int64_t chunk = out.shape[size_t(axis)] * inner * int64_t(size);
  int64_t row = t.shape[size_t(axis)] * inner * int64_t(size);
  out.data.reserve(size_t(outer * chunk));
  for (int64_t o = 0; o < outer; ++o) {
    const uint8_t *src = t.data.data() + o * row + index * chunk;
    out.data.insert(out.data.end(), src, src + chunk);
  }
  return out;
}

HostTensor concatAlong(const std::vector<HostTensor> &parts, int axis) {
  HostTensor out = parts[0];
  out.shape[size_t(axis)] *= int64_t(parts.size());
  out.data.clear();
  size_t size = dtypeSize(out.dtype);
  int64_t outer, inner;
  aroundAxis(out.shape, axis, outer, inner);
  int64_t chunk = parts[0].shape[size_t(axis)] * inner * int64_t(size);
  out.data.reserve(size_t(outer * chunk) * parts.size());
  for (int64_t o = 0; o < outer; ++o)
    for (const HostTensor &p : parts)
      out.data.insert(out.data.end(), p.data.begin() + o * chunk,
                      p.data.begin() + (o + 1) * chunk);
  return out;
}

Status MeshRunner::describe(const Package &package, std::vector<TensorInfo> &inputs,
                            std::vector<TensorInfo> &outputs, const std::string &role) {
  // Graph inputs enter at stage 0 (rank 0 runs it); outputs leave at the last
  // stage of replica 0, tp index 0.
  MeshPosition origin = meshPosition(package, 0);
  int chunks = origin.replicas * origin.microbatches;
  std::vector<TensorInfo> unused;
  inputs.clear();
  outputs.clear();
  if (role.empty() && !Session::listSegments(package, 0).empty()) {
    // Pipeline training: every stage may take step inputs (the labels at the
    // last) and give results (gathered at rank 0).
    for (int t = 0; t < origin.stages; ++t) {
      std::vector<TensorInfo> in, out;
      if (Status s = Session::describe(package, origin.rankOfStage(t), in, out); !s.ok())
        return s;
      for (const TensorInfo &info : in)
        if (!findInfo(inputs, info.name))
          inputs.push_back(info);
      for (const TensorInfo &info : out)
        if (!findInfo(outputs, info.name))
          outputs.push_back(info);
    }
  } else {
    if (Status s = Session::describe(package, 0, inputs, unused, role); !s.ok())
      return s;
    unused.clear();
    if (Status s = Session::describe(package, origin.rankOfStage(origin.stages - 1), unused,
                                     outputs, role);
        !s.ok())
      return s;
  }
  for (auto *list : {&inputs, &outputs})
    for (TensorInfo &info : *list)
      if (info.splitAxis >= 0 && size_t(info.splitAxis) < info.shape.size())
        info.shape[size_t(info.splitAxis)] *= chunks;
  return Status::okStatus();
}

Status MeshRunner::create(const Package &package, std::vector<Session *> sessions,
                          std::vector<Communicator *> comms, std::unique_ptr<MeshRunner> &out,
                          LocalGroup *group, const std::string &role) {
  if (int(sessions.size()) != package.meshSize() || comms.size() != sessions.size() ||
      std::none_of(sessions.begin(), sessions.end(), [](Session *s) { return s; }))
    return Status(StatusCode::InvalidArgument,
                  "the package is planned for " + std::to_string(package.meshSize()) +
                      " rank(s), " + std::to_string(sessions.size()) + " given");
  std::unique_ptr<MeshRunner> runner(new MeshRunner(package));
  runner->sessions_ = std::move(sessions);
  runner->comms_ = std::move(comms);
  runner->group_ = group;
  runner->gpipe_ = makeSchedule("gpipe");
  // A pipelined training step's routes between segments, once per rank.
  runner->routes_.resize(runner->sessions_.size());
  for (size_t k = 0; k < runner->sessions_.size(); ++k)
    if (runner->sessions_[k] && runner->sessions_[k]->segmented())
      if (Status s =
              routeTrainingPipeline(package, meshPosition(package, int(k)),
                                    *runner->sessions_[k], runner->routes_[k]);
          !s.ok())
        return s;
  if (Status s = describe(package, runner->inputs_, runner->outputs_, role); !s.ok())
    return s;
  MeshPosition origin = meshPosition(package, 0);
  runner->chunkCount_ = origin.replicas * origin.microbatches;
  out = std::move(runner);
  return Status::okStatus();
}

Status MeshRunner::setInput(const std::string &name, const HostTensor &value) {
  const TensorInfo *info = findInfo(inputs_, name);
  if (!info) {
    std::string names;
    for (const TensorInfo &i : inputs_)
      names += (names.empty() ? "" : ", ") + i.name;
    return Status(StatusCode::NotFound, "no input named '" + name + "' (inputs: " + names + ")");
  }
  if (value.dtype != info->dtype || value.shape != info->shape)
    return Status(StatusCode::InvalidArgument,
                  "input '" + name + "' must be " + std::string(dtypeName(info->dtype)) + " " +
                      formatShape(info->shape) + ", got " + std::string(dtypeName(value.dtype)) +
                      " " + formatShape(value.shape));
  in_[name] = value;
  return Status::okStatus();
}

namespace {

/// A schedule's steps before micro-batch `stop` (fault injection).
class TruncatedSchedule : public Schedule {
public:
  TruncatedSchedule(const Schedule &inner, int stop) : inner_(inner), stop_(stop) {}
  std::string name() const override { return inner_.name() + " (truncated)"; }
  std::vector<ScheduleStep> steps(int stage, int stages, int microbatches) const override {
    return before(inner_.steps(stage, stages, microbatches));
  }
  std::vector<ScheduleStep> trainingSteps(int stage, int stages,
                                          int microbatches) const override {
    return before(inner_.trainingSteps(stage, stages, microbatches));
  }

private:
  std::vector<ScheduleStep> before(std::vector<ScheduleStep> steps) const {
    std::vector<ScheduleStep> out;
    for (const ScheduleStep &s : steps)
      if (s.microbatch < stop_)
        out.push_back(s);
    return out;
  }
  const Schedule &inner_;
  int stop_;
};

} // namespace

void MeshRunner::dieAt(int rank, int microbatch, std::function<void(int)> died) {
  dieRank_ = rank;
  dieMicrobatch_ = microbatch;
  died_ = std::move(died);
}

Status MeshRunner::run(const Schedule *schedule, std::vector<TraceEvent> *trace) {
  for (const TensorInfo &info : inputs_)
    if (!in_.count(info.name))
      return Status(StatusCode::InvalidArgument,
                    "no value for input '" + info.name + "' (" +
                        std::string(dtypeName(info.dtype)) + " " + formatShape(info.shape) + ")");
  const Schedule &plan = schedule ? *schedule : *gpipe_;
  chunks_.clear();
  std::mutex lock;
  std::vector<Status> results(sessions_.size());
  std::vector<std::vector<TraceEvent>> traces(sessions_.size());
  auto runRank = [&](size_t k) {
    if (!sessions_[k])
      return; // another process runs it
    MeshPosition p = meshPosition(package_, int(k));
    auto slice = [&, p](int mb, const std::string &name, HostTensor &t) {
      const TensorInfo *info = findInfo(inputs_, name);
      if (!info)
        return Status(StatusCode::NotFound, "no input named '" + name + "'");
      const HostTensor &whole = in_.at(name);
      t = info->splitAxis >= 0 && chunkCount_ > 1
              ? sliceAlong(whole, info->splitAxis, chunkCount_, p.replica * p.microbatches + mb)
              : whole;
      return Status::okStatus();
    };
    if (sessions_[k]->segmented()) {
      results[k] = runTrainingPipelineRank(
          *sessions_[k], comms_[k], routes_[k], p, plan, slice,
          [&](const std::string &name, HostTensor &&t) {
            std::lock_guard<std::mutex> guard(lock);
            chunks_[{name, 0}] = std::move(t);
            return Status::okStatus();
          },
          trace ? &traces[k] : nullptr, 0);
      if (!results[k].ok() && group_)
        group_->abort(int(k), results[k].message());
      return;
    }
    if (int(k) == dieRank_) {
      // Fault injection: this rank stops where the truncated schedule ends.
      TruncatedSchedule dying(plan, dieMicrobatch_);
      (void)runPipelineRank(*sessions_[k], comms_[k], p, dying, slice,
                            [](int, const std::string &, HostTensor &&) {
                              return Status::okStatus();
                            },
                            nullptr, 0);
      if (died_)
        died_(int(k));
      return;
    }
    results[k] = runPipelineRank(
        *sessions_[k], comms_[k], p, plan, slice,
        [&, p](int mb, const std::string &name, HostTensor &&t) {
          if (p.tpIndex != 0)
            return Status::okStatus();
          std::lock_guard<std::mutex> guard(lock);
          chunks_[{name, p.replica * p.microbatches + mb}] = std::move(t);
          return Status::okStatus();
        },
        trace ? &traces[k] : nullptr, 0);
    if (!results[k].ok() && group_)
      group_->abort(int(k), results[k].message());
  };
  std::vector<std::thread> threads;
  int first = firstLocal();
  for (size_t k = 0; k < sessions_.size(); ++k)
    if (sessions_[k] && int(k) != first)
      threads.emplace_back(runRank, k);
  runRank(size_t(first));
  for (std::thread &t : threads)
    t.join();
  if (trace)
    for (auto &t : traces)
      trace->insert(trace->end(), t.begin(), t.end());
  for (const Status &s : results)
    if (!s.ok())
      return s;
  return Status::okStatus();
}

int MeshRunner::firstLocal() const {
  for (size_t k = 0; k < sessions_.size(); ++k)
    if (sessions_[k])
      return int(k);
  return 0;
}

bool MeshRunner::allLocal() const {
  return std::all_of(sessions_.begin(), sessions_.end(), [](Session *s) { return s; });
}

Status MeshRunner::getOutput(const std::string &name, HostTensor &out) const {
  const TensorInfo *info = findInfo(outputs_, name);
  if (!info)
    return Status(StatusCode::NotFound, "no output named '" + name + "'");
  std::vector<HostTensor> parts;
  int count = info->splitAxis >= 0 ? chunkCount_ : 1;
  for (int c = 0; c < count; ++c) {
    auto it = chunks_.find({name, c});
    if (it == chunks_.end())
      return Status(StatusCode::NotFound, "output '" + name + "' chunk " + std::to_string(c) +
                                              " was not produced (run first)");
    parts.push_back(it->second);
  }
  out = count > 1 ? concatAlong(parts, info->splitAxis) : parts[0];
  return Status::okStatus();
}

Status MeshRunner::collectOutputs(Communicator &world) {
  const int kTag = 1 << 20;
  MeshPosition origin = meshPosition(package_, 0);
  int own = firstLocal();
  MeshPosition mine = meshPosition(package_, own);
  bool producer = mine.stage + 1 == mine.stages && mine.tpIndex == 0;
  for (int d = 0; d < origin.replicas; ++d) {
    MeshPosition p = meshPosition(package_, (d * origin.stages + origin.stages - 1) * origin.tp);
    if (p.rank == 0)
      continue; // rank 0 holds its chunks already
    for (const TensorInfo &info : outputs_)
      for (int mb = 0; mb < origin.microbatches; ++mb) {
        if (info.splitAxis < 0 && (d > 0 || mb > 0))
          continue;
        int chunk = d * origin.microbatches + mb;
        if (producer && own == p.rank) {
          auto it = chunks_.find({info.name, chunk});
          if (it == chunks_.end())
            return Status(StatusCode::Internal,
                          "output chunk missing on rank " + std::to_string(p.rank));
          if (Status s = world.send(it->second.data.data(), it->second.data.size(), 0,
                                    kTag + chunk);
              !s.ok())
            return s;
        } else if (own == 0) {
          HostTensor t;
          t.dtype = info.dtype;
          t.shape = info.shape;
          if (info.splitAxis >= 0)
            t.shape[size_t(info.splitAxis)] /= chunkCount_;
          t.data.resize(size_t(t.numElements()) * dtypeSize(t.dtype));
          if (Status s = world.recv(t.data.data(), t.data.size(), p.rank, kTag + chunk); !s.ok())
            return s;
          chunks_[{info.name, chunk}] = std::move(t);
        }
      }
  }
  return Status::okStatus();
}

} // namespace tessera::rt
