//===- Train.cpp - tessera-run's training loop ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "Train.h"

#include "tessera/runtime/Checkpoint.h"
#include "tessera/runtime/Validation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <optional>
#include <tuple>
#include <unistd.h>

namespace tessera::tools {
using namespace rt;
namespace fs = std::filesystem;

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

/// "1h02m", "3m05s", "12s".
std::string duration(double seconds) {
  char text[32];
  long s = long(std::max(0.0, seconds) + 0.5);
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lds", s);
  return text;
}

/// Batch `step`'s windows of `data` as input_ids and labels of `shape`
/// [batch, sequence].
std::pair<HostTensor, HostTensor> windowBatch(const TokenData &data, int64_t step,
                                              const std::vector<int64_t> &shape) {
  HostTensor x{DType::I64, shape, std::vector<uint8_t>(size_t(shape[0] * shape[1]) * 8)};
  HostTensor y = x;
  data.windows(step, shape[0], shape[1], reinterpret_cast<int64_t *>(x.data.data()),
               reinterpret_cast<int64_t *>(y.data.data()));
  return {std::move(x), std::move(y)};
}

/// One training run: the steps, validation, checkpoints and the log.
class TrainLoop {
public:
  TrainLoop(const std::shared_ptr<Package> &package, MeshRunner &mesh,
            std::map<std::string, HostTensor> inputs, const TrainOptions &options)
      : package_(package), mesh_(mesh), inputs_(std::move(inputs)), o_(options),
        session_(*mesh.session(mesh.firstLocal())), leader_(mesh.session(0) != nullptr) {}

  int run();

private:
  int prepare();
  int openData();
  int openValidation();
  /// The validation loss (the mean over the validation batches).
  int validate(double &loss, double &seconds);
  Status save(const std::string &dir) const;
  /// `dir` replaced by a complete checkpoint (written beside, then renamed).
  int saveAtomically(const std::string &dir, const char *what) const;
  int afterStep(double step, std::optional<double> val);
  int finish();

  std::shared_ptr<Package> package_;
  MeshRunner &mesh_;
  std::map<std::string, HostTensor> inputs_;
  const TrainOptions &o_;
  Session &session_;
  bool leader_;
  std::vector<Session *> all_;
  const TensorInfo *ids_ = nullptr, *labels_ = nullptr;
  std::unique_ptr<TokenData> data_, evalData_;
  std::unique_ptr<Validation> validation_;
  int64_t evalBatches_ = 0;
  FILE *log_ = nullptr, *windowsLog_ = nullptr;
  double first_ = 0;
  double best_ = std::numeric_limits<double>::infinity();
  double bestStep_ = 0;
  int sinceBest_ = 0;
  bool stopped_ = false;
  int stepsRun_ = 0;
  std::vector<TraceEvent> events_;
};

int TrainLoop::prepare() {
  if (!mesh_.allLocal() && !o_.exportOnnx.empty()) {
    std::fprintf(stderr, "error: --export-onnx of training under mpirun is not built yet "
                         "(ranks as threads export)\n");
    return 2;
  }
  // Checkpoints of ranks as threads hold whole tensors whatever the mesh
  // (every rank's blocks assembled); under mpirun each rank writes its own
  // blocks (a sharded checkpoint). Either resumes on any mesh. --export-onnx
  // reads one rank's weights, which only data-parallel replicas hold whole.
  MeshPosition position = meshPosition(*package_, 0);
  if ((position.tp > 1 || position.stages > 1) && !o_.exportOnnx.empty()) {
    std::fprintf(stderr, "error: --export-onnx of tensor- or pipeline-parallel training is not "
                         "built yet (train on one device or data-parallel replicas)\n");
    return 2;
  }
  if (!o_.trace.empty() && !mesh_.allLocal()) {
    std::fprintf(stderr, "error: --trace of training under mpirun is not built yet (run the "
                         "ranks as threads)\n");
    return 2;
  }
  for (int r = 0; r < mesh_.ranks(); ++r)
    all_.push_back(mesh_.session(r));
  if (!o_.resume.empty()) {
    if (Status s = loadCheckpoint(all_, o_.resume); !s.ok())
      return fail(s);
    HostTensor step;
    if (leader_ && session_.getState("train.step", step).ok())
      std::printf("resumed from %s at step %.0f\n", o_.resume.c_str(), scalarOf(step));
  }
  for (const TensorInfo &info : mesh_.inputs()) {
    if (info.name == "input_ids")
      ids_ = &info;
    if (info.name == "labels")
      labels_ = &info;
  }
  if (int code = openData())
    return code;
  if (int code = openValidation())
    return code;
  if (!o_.windowsLog.empty()) {
    windowsLog_ = std::fopen(o_.windowsLog.c_str(), "w");
    if (!windowsLog_) {
      std::fprintf(stderr, "error: --windows-log %s: cannot write\n", o_.windowsLog.c_str());
      return 1;
    }
    std::fprintf(windowsLog_, "step,row,start,tokens\n");
  }
  if (!o_.lossLog.empty() && leader_) {
    log_ = std::fopen(o_.lossLog.c_str(), "w");
    if (!log_) {
      std::fprintf(stderr, "error: --loss-log %s: cannot write\n", o_.lossLog.c_str());
      return 1;
    }
    std::fprintf(log_, "step,loss,grad_norm,lr,val_loss,val_ppl\n");
  }
  HostTensor stepState;
  if (session_.getState("train.step", stepState).ok())
    first_ = scalarOf(stepState);
  // The best validation loss so far: --save-best's record, when resumed.
  if (!o_.saveBest.empty()) {
    std::ifstream in(o_.saveBest + "/best.txt");
    std::string key;
    double value = 0;
    while (in >> key >> value)
      (key == "val_loss" ? best_ : key == "step" ? bestStep_ : value) = value;
  }
  session_.enableProfiling(o_.profile);
  return 0;
}

int TrainLoop::openData() {
  // --data: windows of a token stream become input_ids and labels.
  bool wanted = !o_.data.files.empty() || !o_.evalData.files.empty();
  if (wanted && (!ids_ || !labels_ || ids_->shape.size() != 2 || labels_->shape != ids_->shape)) {
    std::fprintf(stderr, "error: --data and --eval-data need inputs input_ids and labels of "
                         "one shape [batch, sequence]\n");
    return 1;
  }
  if (o_.data.files.empty())
    return 0;
  if (Status s = TokenData::open(o_.data, data_); !s.ok())
    return fail(s);
  if (data_->size() < ids_->shape[1] + 1) {
    std::fprintf(stderr, "error: --data: %lld tokens, a window needs %lld\n",
                 (long long)data_->size(), (long long)(ids_->shape[1] + 1));
    return 1;
  }
  if (leader_ && !o_.quiet)
    for (const std::string &source : data_->sources())
      std::printf("data: %s\n", source.c_str());
  return 0;
}

int TrainLoop::openValidation() {
  if (o_.evalData.files.empty())
    return 0;
  TokenDataOptions options = o_.evalData;
  options.shuffle = false; // the same batches at every validation
  if (Status s = TokenData::open(options, evalData_); !s.ok())
    return fail(s);
  int64_t batch = ids_->shape[0], seq = ids_->shape[1];
  // Consecutive windows inside the stream (no wrapping): whole batches.
  int64_t available = (evalData_->size() - 1) / seq / batch;
  if (available < 1) {
    std::fprintf(stderr,
                 "error: --eval-data: %lld tokens, a validation batch needs %lld (%lld windows "
                 "of %lld + 1)\n",
                 (long long)evalData_->size(), (long long)(batch * seq + 1), (long long)batch,
                 (long long)seq);
    return 1;
  }
  evalBatches_ = o_.evalBatches ? std::min<int64_t>(o_.evalBatches, available) : available;
  if (Status s = Validation::create(package_, mesh_, o_.session, validation_); !s.ok())
    return fail(s);
  if (leader_ && !o_.quiet)
    for (const std::string &source : evalData_->sources())
      std::printf("validation data: %s; %lld batch(es) of %lldx%lld%s\n", source.c_str(),
                  (long long)evalBatches_, (long long)batch, (long long)seq,
                  o_.evalBatches > available ? " (all it holds)" : "");
  return 0;
}

int TrainLoop::validate(double &loss, double &seconds) {
  auto start = std::chrono::steady_clock::now();
  std::map<std::string, HostTensor> feed = inputs_;
  double sum = 0;
  for (int64_t b = 0; b < evalBatches_; ++b) {
    std::tie(feed["input_ids"], feed["labels"]) = windowBatch(*evalData_, b, ids_->shape);
    double value = 0;
    if (Status s = validation_->loss(feed, value); !s.ok())
      return fail(s);
    sum += value;
  }
  loss = sum / double(evalBatches_);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 0;
}

Status TrainLoop::save(const std::string &dir) const {
  std::vector<const Session *> sessions(all_.begin(), all_.end());
  return mesh_.allLocal() ? saveCheckpoint(sessions, dir)
                          : saveCheckpointShards(sessions, checkpointWriters(*package_), dir);
}

int TrainLoop::saveAtomically(const std::string &dir, const char *what) const {
  // Under mpirun each process writes its ranks' manifests into the folder
  // itself (no process sees the others finish).
  if (!mesh_.allLocal()) {
    if (Status s = save(dir); !s.ok())
      return fail(s);
    return 0;
  }
  std::error_code error;
  // "best/" names the folder "best": written beside it as best.partial.
  fs::path folder = fs::path(dir).lexically_normal();
  if (!folder.has_filename())
    folder = folder.parent_path();
  std::string target = folder.string(), partial = target + ".partial", old = target + ".old";
  fs::remove_all(partial, error);
  if (Status s = save(partial); !s.ok())
    return fail(s);
  fs::remove_all(old, error);
  if (fs::exists(target))
    fs::rename(target, old, error);
  if (!error)
    fs::rename(partial, target, error);
  if (error) {
    std::fprintf(stderr, "error: %s checkpoint %s: %s\n", what, dir.c_str(),
                 error.message().c_str());
    return 1;
  }
  fs::remove_all(old, error);
  return 0;
}

int TrainLoop::afterStep(double step, std::optional<double> val) {
  // Periodic checkpoints: DIR/step-<N>, the newest --keep.
  if (o_.saveEvery && int64_t(step) % o_.saveEvery == 0) {
    std::error_code error;
    fs::create_directories(o_.checkpointDir, error);
    std::string dir = o_.checkpointDir + "/step-" + std::to_string(int64_t(step));
    if (int code = saveAtomically(dir, "--save-every"))
      return code;
    if (leader_ && !o_.quiet)
      std::printf("saved checkpoint %s\n", dir.c_str());
    if (o_.keep && leader_) {
      std::vector<std::pair<int64_t, fs::path>> saved;
      for (const fs::directory_entry &e : fs::directory_iterator(o_.checkpointDir, error)) {
        std::string name = e.path().filename().string();
        if (name.rfind("step-", 0) == 0 && name.size() > 5 &&
            name.find_first_not_of("0123456789", 5) == std::string::npos && e.is_directory())
          saved.push_back({std::stoll(name.substr(5)), e.path()});
      }
      std::sort(saved.begin(), saved.end());
      for (size_t i = 0; i + size_t(o_.keep) < saved.size(); ++i)
        fs::remove_all(saved[i].second, error);
    }
  }
  if (!val)
    return 0;
  if (*val < best_) {
    best_ = *val;
    bestStep_ = step;
    sinceBest_ = 0;
    if (!o_.saveBest.empty()) {
      if (int code = saveAtomically(o_.saveBest, "--save-best"))
        return code;
      if (leader_) {
        std::ofstream out(o_.saveBest + "/best.txt");
        out << "step " << int64_t(step) << "\nval_loss " << std::setprecision(9) << *val << "\n";
        if (!o_.quiet)
          std::printf("saved best checkpoint %s (validation loss %.6f at step %.0f)\n",
                      o_.saveBest.c_str(), *val, step);
      }
    }
  } else if (o_.earlyStop && ++sinceBest_ >= o_.earlyStop) {
    if (leader_)
      std::printf("early stop at step %.0f: no better validation loss in %d validation(s) "
                  "(best %.6f at step %.0f)\n",
                  step, o_.earlyStop, best_, bestStep_);
    stopped_ = true;
  }
  return 0;
}

int TrainLoop::run() {
  if (int code = prepare())
    return code;
  bool terminal = isatty(fileno(stdout));
  double tokensPerStep = ids_ ? double(ids_->shape[0] * ids_->shape[1]) : 0;
  double trainSeconds = 0;
  for (int k = 0; k < o_.steps && !stopped_; ++k) {
    auto start = std::chrono::steady_clock::now();
    int64_t step = int64_t(first_) + k; // counted from the first step ever: resumes continue
    if (data_) {
      int64_t batch = ids_->shape[0], seq = ids_->shape[1];
      auto [x, y] = windowBatch(*data_, step, ids_->shape);
      if (windowsLog_)
        for (int64_t b = 0; b < batch; ++b) {
          std::fprintf(windowsLog_, "%lld,%lld,%lld,", (long long)step + 1, (long long)b,
                       (long long)data_->windowStart(step, b, batch, seq));
          const auto *in = reinterpret_cast<const int64_t *>(x.data.data()) + b * seq;
          for (int64_t s = 0; s < seq; ++s)
            std::fprintf(windowsLog_, "%lld ", (long long)in[s]);
          std::fprintf(windowsLog_, "%lld\n",
                       (long long)reinterpret_cast<const int64_t *>(y.data.data())[b * seq + seq - 1]);
        }
      inputs_["input_ids"] = std::move(x);
      inputs_["labels"] = std::move(y);
    }
    for (const auto &[name, value] : inputs_)
      if (Status s = mesh_.setInput(name, value); !s.ok())
        return fail(s);
    if (Status s = mesh_.run(o_.schedule, o_.trace.empty() ? nullptr : &events_); !s.ok())
      return fail(s);
    trainSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++stepsRun_;
    double done = first_ + k + 1;
    bool last = k + 1 == o_.steps;
    std::optional<double> val;
    double valSeconds = 0;
    if (validation_ && (last || (o_.evalEvery && int64_t(done) % o_.evalEvery == 0))) {
      double value = 0;
      if (int code = validate(value, valSeconds))
        return code;
      val = value;
    }
    HostTensor loss, norm, lr;
    if (leader_) {
      if (Status s = mesh_.getOutput("loss", loss); !s.ok())
        return fail(s);
      (void)mesh_.getOutput("grad_norm", norm);
      (void)mesh_.getOutput("lr", lr);
    }
    if (log_) {
      std::fprintf(log_, "%.0f,%.9g,%.9g,%.9g,", done, scalarOf(loss), scalarOf(norm),
                   scalarOf(lr));
      if (val)
        std::fprintf(log_, "%.9g,%.9g\n", *val, std::exp(*val));
      else
        std::fprintf(log_, ",\n");
      std::fflush(log_);
    }
    if (leader_ && !o_.quiet) {
      double perStep = trainSeconds / (k + 1);
      std::string line = "step " + std::to_string(int64_t(done)) + "/" +
                         std::to_string(int64_t(first_ + o_.steps));
      char text[256];
      std::snprintf(text, sizeof text, " loss %.6f grad_norm %.4f lr %.3g", scalarOf(loss),
                    scalarOf(norm), scalarOf(lr));
      line += text;
      if (tokensPerStep > 0) {
        std::snprintf(text, sizeof text, " | %.0f tok/s", tokensPerStep / perStep);
        line += text;
      }
      std::snprintf(text, sizeof text, " (%.2f s/step) ETA %s", perStep,
                    duration(perStep * (o_.steps - k - 1)).c_str());
      line += text;
      if (val) {
        std::snprintf(text, sizeof text, " | val_loss %.6f ppl %.4g (%lld batches, %.2f s)",
                      *val, std::exp(*val), (long long)evalBatches_, valSeconds);
        line += text;
      }
      // On a terminal one live line; a validation stays on the screen.
      std::printf("%s%s%s", terminal ? "\r\033[K" : "", line.c_str(),
                  terminal && !val ? "" : "\n");
      std::fflush(stdout);
    }
    if (int code = afterStep(done, val))
      return code;
  }
  return finish();
}

int TrainLoop::finish() {
  bool terminal = isatty(fileno(stdout));
  if (terminal && !o_.quiet && leader_)
    std::printf("\n");
  if (data_ && leader_ && !o_.quiet)
    std::printf("data: %lld tokens, %.3f epochs seen (%s windows)\n", (long long)data_->size(),
                data_->epochs(int64_t(first_) + stepsRun_, ids_->shape[0], ids_->shape[1]),
                o_.data.shuffle ? "shuffled" : "consecutive");
  if (windowsLog_)
    std::fclose(windowsLog_);
  if (o_.profile && leader_) {
    std::map<std::string, double> byOp;
    double total = 0;
    for (const KernelProfile &p : session_.profile()) {
      byOp[p.op] += p.seconds;
      total += p.seconds;
    }
    std::vector<std::pair<double, std::string>> sorted;
    for (const auto &[op, seconds] : byOp)
      sorted.push_back({seconds, op});
    std::sort(sorted.rbegin(), sorted.rend());
    std::printf("%-16s %12s %7s   (per step)\n", "kernel", "ms", "share");
    for (const auto &[seconds, op] : sorted)
      std::printf("%-16s %12.2f %6.1f%%\n", op.c_str(), seconds * 1e3 / std::max(1, stepsRun_),
                  total > 0 ? 100 * seconds / total : 0.0);
  }
  if (log_)
    std::fclose(log_);
  if (!o_.trace.empty()) {
    double origin = std::numeric_limits<double>::infinity();
    for (const TraceEvent &e : events_)
      origin = std::min(origin, e.start);
    for (TraceEvent &e : events_)
      e.start -= origin;
    if (Status s = writeChromeTrace(o_.trace, events_); !s.ok())
      return fail(s);
  }
  if (!o_.save.empty()) {
    if (Status s = save(o_.save); !s.ok())
      return fail(s);
    if (leader_)
      std::printf("saved checkpoint %s%s\n", o_.save.c_str(),
                  mesh_.allLocal() ? "" : " (a manifest per rank)");
  }
  if (!o_.exportOnnx.empty()) {
    if (Status s = exportTrainedModel(*package_, session_, 0, o_.exportOnnx); !s.ok())
      return fail(s);
    std::printf("exported %s\n", o_.exportOnnx.c_str());
  }
  return 0;
}

} // namespace

int runTraining(const std::shared_ptr<Package> &package, MeshRunner &mesh,
                std::map<std::string, HostTensor> inputs, const TrainOptions &options) {
  TrainLoop loop(package, mesh, std::move(inputs), options);
  return loop.run();
}

} // namespace tessera::tools
