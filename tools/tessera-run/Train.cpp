//===- Train.cpp - tessera-run's training loop ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "Train.h"

#include "tessera/runtime/Checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unistd.h>

namespace tessera::tools {
using namespace rt;

namespace {

double scalarOf(const HostTensor &t) {
  float v = 0;
  if (t.dtype == DType::F32 && t.data.size() >= sizeof(float))
    std::memcpy(&v, t.data.data(), sizeof(float));
  return v;
}

int fail(const Status &s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

} // namespace

int runTraining(const Package &package, MeshRunner &mesh,
                std::map<std::string, HostTensor> inputs, const TrainOptions &options) {
  // Under mpirun this process runs one rank: rank 0 reports the steps.
  Session &session = *mesh.session(mesh.firstLocal());
  bool leader = mesh.session(0) != nullptr;
  if (!mesh.allLocal() && !options.exportOnnx.empty()) {
    std::fprintf(stderr, "error: --export-onnx of training under mpirun is not built yet "
                         "(ranks as threads export)\n");
    return 2;
  }
  // Checkpoints of ranks as threads hold whole tensors whatever the mesh
  // (every rank's blocks assembled); under mpirun each rank writes its own
  // blocks (a sharded checkpoint). Either resumes on any mesh. --export-onnx
  // reads one rank's weights, which only data-parallel replicas hold whole.
  MeshPosition position = meshPosition(package, 0);
  if ((position.tp > 1 || position.stages > 1) && !options.exportOnnx.empty()) {
    std::fprintf(stderr, "error: --export-onnx of tensor- or pipeline-parallel training is not "
                         "built yet (train on one device or data-parallel replicas)\n");
    return 2;
  }
  std::vector<Session *> all;
  for (int r = 0; r < mesh.ranks(); ++r)
    all.push_back(mesh.session(r));
  if (!options.resume.empty()) {
    if (Status s = loadCheckpoint(all, options.resume); !s.ok())
      return fail(s);
    HostTensor step;
    if (leader && session.getState("train.step", step).ok())
      std::printf("resumed from %s at step %.0f\n", options.resume.c_str(), scalarOf(step));
  }
  // --data: windows of a token stream become input_ids and labels.
  std::unique_ptr<TokenData> data;
  const TensorInfo *ids = nullptr, *labels = nullptr;
  for (const TensorInfo &info : mesh.inputs()) {
    if (info.name == "input_ids")
      ids = &info;
    if (info.name == "labels")
      labels = &info;
  }
  if (!options.data.files.empty()) {
    if (Status s = TokenData::open(options.data, data); !s.ok())
      return fail(s);
    if (!ids || !labels || ids->shape.size() != 2 || labels->shape != ids->shape) {
      std::fprintf(stderr, "error: --data needs inputs input_ids and labels of one shape "
                           "[batch, sequence]\n");
      return 1;
    }
    if (data->size() < ids->shape[1] + 1) {
      std::fprintf(stderr, "error: --data: %lld tokens, a window needs %lld\n",
                   (long long)data->size(), (long long)(ids->shape[1] + 1));
      return 1;
    }
    if (leader && !options.quiet)
      for (const std::string &source : data->sources())
        std::printf("data: %s\n", source.c_str());
  }
  FILE *windowsLog = nullptr;
  if (!options.windowsLog.empty()) {
    windowsLog = std::fopen(options.windowsLog.c_str(), "w");
    if (!windowsLog) {
      std::fprintf(stderr, "error: --windows-log %s: cannot write\n", options.windowsLog.c_str());
      return 1;
    }
    std::fprintf(windowsLog, "step,row,start,tokens\n");
  }
  FILE *log = nullptr;
  if (!options.lossLog.empty()) {
    log = std::fopen(options.lossLog.c_str(), "w");
    if (!log) {
      std::fprintf(stderr, "error: --loss-log %s: cannot write\n", options.lossLog.c_str());
      return 1;
    }
    std::fprintf(log, "step,loss,grad_norm,lr\n");
  }
  bool terminal = isatty(fileno(stdout));
  HostTensor stepState;
  double first = 0;
  if (session.getState("train.step", stepState).ok())
    first = scalarOf(stepState);
  session.enableProfiling(options.profile);
  if (!options.trace.empty() && !mesh.allLocal()) {
    std::fprintf(stderr, "error: --trace of training under mpirun is not built yet (run the "
                         "ranks as threads)\n");
    return 2;
  }
  std::vector<TraceEvent> events;
  auto start = std::chrono::steady_clock::now();
  for (int k = 0; k < options.steps; ++k) {
    if (data) {
      int64_t batch = ids->shape[0], seq = ids->shape[1];
      HostTensor x{DType::I64, ids->shape, std::vector<uint8_t>(size_t(batch * seq) * 8)};
      HostTensor y = x;
      int64_t step = int64_t(first) + k; // counted from the first step ever: resumes continue
      data->windows(step, batch, seq, reinterpret_cast<int64_t *>(x.data.data()),
                    reinterpret_cast<int64_t *>(y.data.data()));
      if (windowsLog)
        for (int64_t b = 0; b < batch; ++b) {
          std::fprintf(windowsLog, "%lld,%lld,%lld,", (long long)step + 1, (long long)b,
                       (long long)data->windowStart(step, b, batch, seq));
          const auto *in = reinterpret_cast<const int64_t *>(x.data.data()) + b * seq;
          for (int64_t s = 0; s < seq; ++s)
            std::fprintf(windowsLog, "%lld ", (long long)in[s]);
          std::fprintf(windowsLog, "%lld\n",
                       (long long)reinterpret_cast<const int64_t *>(y.data.data())[b * seq + seq - 1]);
        }
      inputs["input_ids"] = x;
      inputs["labels"] = y;
    }
    for (const auto &[name, value] : inputs)
      if (Status s = mesh.setInput(name, value); !s.ok())
        return fail(s);
    if (Status s = mesh.run(options.schedule, options.trace.empty() ? nullptr : &events);
        !s.ok())
      return fail(s);
    if (!leader)
      continue;
    HostTensor loss, norm, lr;
    if (Status s = mesh.getOutput("loss", loss); !s.ok())
      return fail(s);
    (void)mesh.getOutput("grad_norm", norm);
    (void)mesh.getOutput("lr", lr);
    double step = first + k + 1;
    if (log)
      std::fprintf(log, "%.0f,%.9g,%.9g,%.9g\n", step, scalarOf(loss), scalarOf(norm),
                   scalarOf(lr));
    if (!options.quiet) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%sstep %.0f/%.0f loss %.6f grad_norm %.4f lr %.3g (%.2f s/step)%s",
                  terminal ? "\r" : "", step, first + options.steps, scalarOf(loss),
                  scalarOf(norm), scalarOf(lr), seconds / (k + 1), terminal ? "" : "\n");
      std::fflush(stdout);
    }
  }
  if (terminal && !options.quiet && leader)
    std::printf("\n");
  if (data && leader && !options.quiet)
    std::printf("data: %lld tokens, %.3f epochs seen (%s windows)\n", (long long)data->size(),
                data->epochs(int64_t(first) + options.steps, ids->shape[0], ids->shape[1]),
                options.data.shuffle ? "shuffled" : "consecutive");
  if (windowsLog)
    std::fclose(windowsLog);
  if (options.profile && leader) {
    std::map<std::string, double> byOp;
    double total = 0;
    for (const KernelProfile &p : session.profile()) {
      byOp[p.op] += p.seconds;
      total += p.seconds;
    }
    std::vector<std::pair<double, std::string>> sorted;
    for (const auto &[op, seconds] : byOp)
      sorted.push_back({seconds, op});
    std::sort(sorted.rbegin(), sorted.rend());
    std::printf("%-16s %12s %7s   (per step)\n", "kernel", "ms", "share");
    for (const auto &[seconds, op] : sorted)
      std::printf("%-16s %12.2f %6.1f%%\n", op.c_str(), seconds * 1e3 / options.steps,
                  total > 0 ? 100 * seconds / total : 0.0);
  }
  if (log)
    std::fclose(log);
  if (!options.trace.empty()) {
    double origin = std::numeric_limits<double>::infinity();
    for (const TraceEvent &e : events)
      origin = std::min(origin, e.start);
    for (TraceEvent &e : events)
      e.start -= origin;
    if (Status s = writeChromeTrace(options.trace, events); !s.ok())
      return fail(s);
  }
  if (!options.save.empty()) {
    std::vector<const Session *> sessions(all.begin(), all.end());
    std::vector<bool> writers = checkpointWriters(package);
    if (Status s = mesh.allLocal() ? saveCheckpoint(sessions, options.save)
                                   : saveCheckpointShards(sessions, writers, options.save);
        !s.ok())
      return fail(s);
    if (leader)
      std::printf("saved checkpoint %s%s\n", options.save.c_str(),
                  mesh.allLocal() ? "" : " (a manifest per rank)");
  }
  if (!options.exportOnnx.empty()) {
    if (Status s = exportTrainedModel(package, session, 0, options.exportOnnx); !s.ok())
      return fail(s);
    std::printf("exported %s\n", options.exportOnnx.c_str());
  }
  return 0;
}

} // namespace tessera::tools
