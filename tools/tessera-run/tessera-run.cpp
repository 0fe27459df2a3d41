//===- tessera-run.cpp - run a compiled package ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
//   tessera-run model.tpkg [--input NAME=FILE.npy]... [--output NAME=FILE.npy]...
//               [--check NAME=FILE.npy]... [--rtol R] [--atol A]
//               [--test-data DIR] [--ranks N] [--repeat N] [--profile]
//
// Tensor files are NumPy .npy or ONNX TensorProto .pb (by extension).
// Without --input, inputs are generated deterministically (integers 1, floats
// a fixed sinusoid). --check compares an output with a reference and fails
// when |out - ref| > atol + rtol * |ref| anywhere.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Npy.h"
#include "tessera/runtime/Session.h"
#include "tessera/runtime/TensorProto.h"

#ifdef TESSERA_HAVE_MPI
#include "tessera/runtime/MpiCommunicator.h"
#endif
#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/NcclCommunicator.h"
#include "tessera/runtime/MeshRunner.h"
#include "tessera/runtime/Pipeline.h"
#include "tessera/runtime/tpkg_generated.h"

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include "tools/ToolArgs.h"
#include "Generate.h"
#include "RunArgs.h"
#include "Train.h"

#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

using namespace tessera::rt;
using tessera::tools::RunArgs;

namespace {

const char *kUsage =
    "usage: tessera-run model.tpkg [options]\n"
    "  Runs a compiled package: one rank, all ranks as threads (--ranks), or one rank\n"
    "  per process under mpirun (mpirun -np N tessera-run model.tpkg ...).\n\n"
    "inputs and outputs:\n"
    "  --input NAME=FILE      an input (.npy or ONNX TensorProto .pb); missing inputs are\n"
    "                         generated deterministically\n"
    "  --output NAME=FILE     write an output (.npy)\n"
    "  --check NAME=FILE      compare an output with FILE (--rtol R, --atol A; 1e-4)\n"
    "  --test-data DIR        inputs and expected outputs of an ONNX test folder\n"
    "running:\n"
    "  --ranks N              run N ranks as threads (default: all the package's ranks)\n"
    "  --timeout SECONDS      fail instead of hanging when a rank stops (default 60)\n"
    "  --schedule gpipe|1f1b  the pipeline schedule (training: fill-drain or one\n"
    "                         forward, one backward; inference runs both as gpipe)\n"
    "  --repeat N             run N times\n"
    "  --backend cpu|cuda|cuda-host   cuda runs a --target=cuda package on the GPU;\n"
    "                         cuda-host emulates its kernels on the CPU\n"
    "  --device N             the GPU of rank 0 (others follow)\n"
    "  --comm nccl            with --backend cuda: NCCL collectives, one GPU per rank\n"
    "  --random-weights SEED  random weights (packages compiled with --plan-only)\n"
    "  --max-memory SIZE      refuse packages needing more (default: physical memory)\n"
    "  --threads N            CPU threads per rank (default: TESSERA_NUM_THREADS,\n"
    "                         else OMP_NUM_THREADS, else the host's cores divided by\n"
    "                         the ranks on it; OpenMP waits passively on\n"
    "                         oversubscribed cores, else spins briefly, unless\n"
    "                         OMP_WAIT_POLICY or GOMP_SPINCOUNT is set)\n"
    "measuring:\n"
    "  --profile              per-kernel times, threads per rank, the CPU paths taken\n"
    "  --cpu-info             (alone) the CPU paths the kernels take on this host and\n"
    "                         one rank's threads, then exit\n"
    "  --profile-json FILE    per-kernel times as JSON (for tessera-inspect --profile)\n"
    "  --trace FILE           a Chrome trace of every rank\n"
    "  --bench N              median time of N runs of a single-rank package, no I/O\n"
    "generation (packages compiled with --generate; each run is one decode step):\n"
    "  --prompt-ids 1,2,3;4,5 prompts (token ids), one per sequence of the batch\n"
    "  --tokenizer T.json --prompt TEXT  text prompts (repeatable), text printed\n"
    "  --max-new-tokens N     tokens to generate per sequence (default 20)\n"
    "  --temperature T        sample from softmax(logits / T) (default 0: greedy)\n"
    "  --top-k K, --top-p P   keep the K most likely tokens / those reaching mass P\n"
    "  --seed S               the sampler's seed (runs repeat)\n"
    "  --stop-id ID           a sequence ends after this token (repeatable)\n"
    "  --output-ids OUT.npy   int64 [sequences, prompt + new], padded with -1\n"
    "  --profile              prefill time, time per decode step, tokens/s\n"
    "training (packages compiled with --train; each run is one step):\n"
    "  --steps N              run N steps (default 1) with the same inputs, or with\n"
    "  --data FILE            windows of a token stream as input_ids/labels (repeatable: one\n"
    "                         stream): .npy, .bin (--data-dtype uint16|uint32), text\n"
    "                         (--tokenizer T.json); --shuffle --seed S: random windows\n"
    "  --windows-log FILE.csv step,row,start,tokens of every window read\n"
    "  --loss-log FILE.csv    step,loss,grad_norm,lr,val_loss,val_ppl per step\n"
    "  --eval-data FILE       validation windows (repeatable; formats as --data): loss\n"
    "                         and perplexity of --eval-batches N batches (default: all)\n"
    "                         every --eval-every K steps (default: after the last)\n"
    "  --save-every K         a checkpoint every K steps in --checkpoint-dir DIR\n"
    "                         (DIR/step-<N>; --keep N: the newest N)\n"
    "  --save-best DIR        the checkpoint of the best validation loss so far\n"
    "  --early-stop P         stop after P validations without a better loss\n"
    "  --save-checkpoint DIR  weights, optimizer state and step after the last step\n"
    "  --resume DIR           start from a checkpoint (continues bit for bit)\n"
    "  --export-onnx OUT.onnx the compiled ONNX model with its trained weights\n"
    "  --help, --version\n";

int usage() {
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}

HostTensor narrowTo(const HostTensor &t, DType to);

HostTensor generated(const TensorInfo &info) {
  if (info.dtype == DType::BF16 || info.dtype == DType::F16) {
    // The f32 values, rounded: the same inputs as an f32 package's.
    TensorInfo wide = info;
    wide.dtype = DType::F32;
    return narrowTo(generated(wide), info.dtype);
  }
  HostTensor t;
  t.dtype = info.dtype;
  t.shape = info.shape;
  int64_t n = t.numElements();
  t.data.resize(size_t(n) * dtypeSize(t.dtype));
  for (int64_t i = 0; i < n; ++i) {
    double v = std::sin(0.37 * double(i)) * 0.5;
    switch (t.dtype) {
    case DType::F32: { float f = float(v); std::memcpy(&t.data[i * 4], &f, 4); break; }
    case DType::F64: std::memcpy(&t.data[i * 8], &v, 8); break;
    case DType::I64: { int64_t x = 1; std::memcpy(&t.data[i * 8], &x, 8); break; }
    case DType::I32: { int32_t x = 1; std::memcpy(&t.data[i * 4], &x, 4); break; }
    default: t.data[size_t(i) * dtypeSize(t.dtype)] = 1; break;
    }
  }
  return t;
}

double element(const HostTensor &t, int64_t i) {
  switch (t.dtype) {
  case DType::F32: { float f; std::memcpy(&f, &t.data[i * 4], 4); return f; }
  case DType::F64: { double d; std::memcpy(&d, &t.data[i * 8], 8); return d; }
  case DType::I64: { int64_t x; std::memcpy(&x, &t.data[i * 8], 8); return double(x); }
  case DType::I32: { int32_t x; std::memcpy(&x, &t.data[i * 4], 4); return double(x); }
  case DType::I8: return double(int8_t(t.data[i]));
  case DType::Bool: return t.data[i] ? 1.0 : 0.0;
  case DType::BF16:
  case DType::F16: {
    uint16_t h;
    std::memcpy(&h, &t.data[size_t(i) * 2], 2);
    return halfBitsToFloat(t.dtype, h);
  }
  default: return std::nan("");
  }
}

/// bf16/fp16 tensors as f32 (what .npy files and references hold).
void widenHalf(HostTensor &t) {
  if (t.dtype != DType::BF16 && t.dtype != DType::F16)
    return;
  HostTensor w;
  w.dtype = DType::F32;
  w.shape = t.shape;
  w.data.resize(size_t(t.numElements()) * 4);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    float f = float(element(t, i));
    std::memcpy(&w.data[size_t(i) * 4], &f, 4);
  }
  t = std::move(w);
}

/// f32 values as the package's bf16/fp16 input (round to nearest even).
HostTensor narrowTo(const HostTensor &t, DType to) {
  HostTensor n;
  n.dtype = to;
  n.shape = t.shape;
  n.data.resize(size_t(t.numElements()) * 2);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    float f;
    std::memcpy(&f, &t.data[size_t(i) * 4], 4);
    uint16_t h = floatToHalfBits(to, f);
    std::memcpy(&n.data[size_t(i) * 2], &h, 2);
  }
  return n;
}

} // namespace


namespace {

bool check(const Status &s) {
  if (s.ok())
    return true;
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return false;
}

/// The ranks this process runs (all of them as threads, or under mpirun its
/// own), their communicators and sessions.
struct Ranks {
  int meshSize = 1;
  std::vector<int> mine;
  std::unique_ptr<Communicator> mpiWorld;
  std::unique_ptr<LocalGroup> localGroup;
  std::vector<std::unique_ptr<Communicator>> nccl;
  std::vector<std::unique_ptr<Session>> sessions;

  bool leader() const { return mine[0] == 0; }
  Communicator *world(size_t k) const {
    if (!nccl.empty())
      return nccl[k].get();
    return mpiWorld ? mpiWorld.get() : localGroup ? &localGroup->communicator(mine[k]) : nullptr;
  }
  /// Under mpirun only rank 0 prints; every rank fails loudly on its own.
  int finish(int code) const {
#ifdef TESSERA_HAVE_MPI
    if (mpiWorld)
      finalizeMpi();
#endif
    return code;
  }
};

/// Starts the ranks this process runs: threads placed on the host's cores,
/// MPI or a local group, NCCL where asked, one session each. Returns an exit
/// code, or -1 to go on.
int setUpRanks(RunArgs &a, const std::shared_ptr<Package> &package, char **argv, Ranks &r) {
  r.meshSize = package->meshSize();
  auto timeout = std::chrono::milliseconds(int64_t(a.timeoutSeconds * 1000));
  const char *mpiSize = std::getenv("OMPI_COMM_WORLD_SIZE");
  bool underMpi = mpiSize && std::atoi(mpiSize) > 1;
  // The ranks sharing this host's cores, and each one's threads; where they
  // oversubscribe the cores, OpenMP waits passively, else with several
  // threads a rank it spins only briefly (a re-exec, before any
  // thread or MPI starts).
  // (Under mpirun: the launcher's local ranks, those bound elsewhere left out.)
  a.session.ranksOnHost = underMpi ? 0 : (a.ranks ? a.ranks : r.meshSize);
  {
    ThreadPlacement placement;
    if (!check(placeThreads(a.session.threads, a.session.ranksOnHost, placement)))
      return 2;
    if (a.session.backend == "cpu" || a.session.backend == "cuda-host")
      chooseOpenMpWaiting(placement, argv);
  }
  if (underMpi) {
#ifdef TESSERA_HAVE_MPI
    if (!check(createMpiCommunicator(timeout, r.mpiWorld)))
      return 1;
    if (r.mpiWorld->size() != r.meshSize) {
      std::fprintf(stderr, "error: the package is planned for %d rank(s), mpirun started %d\n",
                   r.meshSize, r.mpiWorld->size());
      finalizeMpi();
      return 1;
    }
    r.mine.push_back(r.mpiWorld->rank());
#else
    std::fprintf(stderr, "error: started by mpirun, but this tessera-run was built without MPI\n");
    return 1;
#endif
  } else {
    if (a.ranks == 0)
      a.ranks = r.meshSize;
    if (a.ranks != r.meshSize) {
      std::fprintf(stderr, "error: the package is planned for %d rank(s), --ranks gives %d\n",
                   r.meshSize, a.ranks);
      return 1;
    }
    for (int k = 0; k < a.ranks; ++k)
      r.mine.push_back(k);
    if (r.meshSize > 1)
      r.localGroup = std::make_unique<LocalGroup>(r.meshSize, timeout);
  }
  // --comm nccl: NCCL for the collectives (one GPU per rank), bootstrapped
  // over MPI or the local group, which keep the point-to-point traffic.
  if (a.commKind == "nccl") {
    if (a.session.backend != "cuda") {
      std::fprintf(stderr, "error: --comm nccl needs --backend cuda\n");
      return r.finish(2);
    }
    for (size_t i = 0; i < r.mine.size(); ++i) {
      Communicator *bootstrap = r.mpiWorld     ? r.mpiWorld.get()
                                : r.localGroup ? &r.localGroup->communicator(r.mine[i])
                                               : nullptr;
      r.nccl.emplace_back();
      if (!check(createNcclCommunicator(bootstrap, r.nccl.back())))
        return r.finish(1);
    }
  } else if (a.commKind != "default") {
    std::fprintf(stderr, "error: unknown --comm '%s' (nccl)\n", a.commKind.c_str());
    return r.finish(2);
  }
  r.sessions.resize(r.mine.size());
  for (size_t i = 0; i < r.mine.size(); ++i) {
    SessionOptions options = a.session;
    if (!check(Session::create(package, r.mine[i], r.sessions[i], options)))
      return r.finish(1);
    Communicator *world = r.world(i);
    if (world && !check(r.sessions[i]->bindCommunicator(*world)))
      return r.finish(1);
  }
  return -1;
}

/// A package compiled with --generate: each run is one decode step.
int runGenerationPackage(RunArgs &a, const std::shared_ptr<Package> &package, Ranks &r) {
  if (int(r.mine.size()) != r.meshSize) {
    std::fprintf(stderr, "error: generation runs all ranks in one process for now (ranks as "
                         "threads, not under mpirun)\n");
    return r.finish(2);
  }
  if (a.training || !a.inputs.empty() || !a.testData.empty()) {
    std::fprintf(stderr, "error: a generation package takes --prompt-ids, not --input, "
                         "--test-data or training options\n");
    return r.finish(2);
  }
  a.generate.profile = a.profile;
  a.generate.stream = isatty(fileno(stdout));
  std::vector<Session *> all;
  std::vector<Communicator *> comms;
  for (size_t k = 0; k < r.sessions.size(); ++k) {
    all.push_back(r.sessions[k].get());
    comms.push_back(r.world(k));
  }
  // The prompt programs beside the decode step (--prefill at compile time).
  std::unique_ptr<PromptPrograms> prompts;
  if (!check(PromptPrograms::create(package, a.session, comms, prompts)))
    return r.finish(1);
  std::unique_ptr<DecodeRunner> runner = makeDecodeRunner(*package, all, comms);
  if (!runner) {
    std::fprintf(stderr, "error: generation runs tensor- and pipeline-parallel packages with "
                         "one micro-batch (no data parallelism yet)\n");
    return r.finish(2);
  }
  return r.finish(tessera::tools::runGeneration(*package, *runner, *r.sessions[0], a.generate,
                                                prompts->list(), prompts->encoder()));
}

/// The whole input `name` as the package takes it (f32 values narrowed to a
/// bf16/fp16 input), checked against its description.
Status wholeInput(const std::vector<TensorInfo> &infos, const std::string &name,
                  const HostTensor &t, std::map<std::string, HostTensor> &into) {
  const TensorInfo *info = findInfo(infos, name);
  if (!info) {
    std::string names;
    for (const TensorInfo &i : infos)
      names += (names.empty() ? "" : ", ") + i.name;
    return Status(StatusCode::NotFound, "no input named '" + name + "' (inputs: " + names + ")");
  }
  if ((info->dtype == DType::BF16 || info->dtype == DType::F16) && t.dtype == DType::F32 &&
      t.shape == info->shape) {
    into[name] = narrowTo(t, info->dtype);
    return Status::okStatus();
  }
  if (t.dtype != info->dtype || t.shape != info->shape)
    return Status(StatusCode::InvalidArgument,
                  "input '" + name + "' must be " + std::string(dtypeName(info->dtype)) + " " +
                      formatShape(info->shape) + ", got " + std::string(dtypeName(t.dtype)) +
                      " " + formatShape(t.shape));
  into[name] = t;
  return Status::okStatus();
}

/// The inputs: files (--input, --test-data), else generated; the outputs
/// asked for must exist. Returns an exit code, or -1 to go on.
int loadInputs(RunArgs &a, const MeshRunner &mesh, std::map<std::string, HostTensor> &inputs) {
  const std::vector<TensorInfo> &inputInfos = mesh.inputs(), &outputInfos = mesh.outputs();
  // ONNX test data: input_N.pb / output_N.pb, matched by the tensor's name
  // or else by position.
  if (!a.testData.empty()) {
    for (int kind = 0; kind < 2; ++kind) {
      const std::vector<TensorInfo> &infos = kind == 0 ? inputInfos : outputInfos;
      for (size_t n = 0; n < infos.size(); ++n) {
        std::string file = a.testData + (kind == 0 ? "/input_" : "/output_") +
                           std::to_string(n) + ".pb";
        HostTensor t;
        std::string protoName;
        if (!check(readTensorProto(file, t, protoName)))
          return 1;
        std::string name = infos[n].name;
        for (const TensorInfo &info : infos)
          if (info.name == protoName)
            name = protoName;
        (kind == 0 ? a.inputs : a.checks)[name] = file;
      }
    }
  }
  for (const auto &[name, file] : a.inputs) {
    HostTensor t;
    if (!check(readTensorFile(file, t)) || !check(wholeInput(inputInfos, name, t, inputs)))
      return 1;
  }
  for (const TensorInfo &info : inputInfos)
    if (!a.inputs.count(info.name)) {
      if (!a.train.data.files.empty() && (info.name == "input_ids" || info.name == "labels"))
        continue; // windows of the token stream, step by step
      int64_t elements = 1;
      for (int64_t d : info.shape)
        elements *= d;
      if (elements == 0) { // an empty input (a past of 0 positions): nothing to read
        HostTensor empty;
        empty.dtype = info.dtype;
        empty.shape = info.shape;
        if (!check(wholeInput(inputInfos, info.name, empty, inputs)))
          return 1;
        continue;
      }
      if (!a.inputs.empty()) {
        std::fprintf(stderr, "error: no --input for '%s' (%s %s)\n", info.name.c_str(),
                     std::string(dtypeName(info.dtype)).c_str(),
                     formatShape(info.shape).c_str());
        return 1;
      }
      if (!check(wholeInput(inputInfos, info.name, generated(info), inputs)))
        return 1;
    }
  for (const auto &[name, file] : a.outputs)
    if (!findInfo(outputInfos, name)) {
      std::fprintf(stderr, "error: no output named '%s'\n", name.c_str());
      return 1;
    }
  return -1;
}

/// Per-op totals of rank 0's kernels (--profile).
void printProfile(Session &session, const Package &package) {
  std::vector<KernelProfile> rows = session.profile();
  std::map<std::string, std::pair<double, int64_t>> byOp;
  double total = 0;
  for (const KernelProfile &p : rows) {
    byOp[p.op].first += p.seconds;
    byOp[p.op].second += p.calls;
    total += p.seconds;
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> sorted(byOp.begin(),
                                                                          byOp.end());
  std::sort(sorted.begin(), sorted.end(),
            [](auto &x, auto &y) { return x.second.first > y.second.first; });
  std::printf("%-14s %10s %8s %7s\n", "kernel", "total ms", "calls", "share");
  for (auto &[op, v] : sorted)
    std::printf("%-14s %10.3f %8lld %6.1f%%\n", op.c_str(), v.first * 1e3, (long long)v.second,
                total > 0 ? 100 * v.first / total : 0.0);
  tessera::tools::printPackedWeights(package);
}

/// --bench: the device time of run() alone, inputs set once, outputs never
/// read (single-rank packages).
int runBench(const RunArgs &a, const Package &package, Ranks &r,
             const std::map<std::string, HostTensor> &inputs) {
  if (r.mine.size() != 1 || r.meshSize != 1) {
    std::fprintf(stderr, "error: --bench times single-rank packages\n");
    return r.finish(2);
  }
  Session &session = *r.sessions[0];
  for (const auto &[name, value] : inputs)
    if (!check(session.setInput(name, value)))
      return r.finish(1);
  session.enableProfiling(false); // timed without per-kernel synchronisation
  std::vector<double> runs;
  for (int k = 0; k < a.benchRuns + 2; ++k) {
    double start = Session::now();
    if (!check(session.run()))
      return r.finish(1);
    if (k >= 2) // two warm-up runs
      runs.push_back(Session::now() - start);
  }
  std::sort(runs.begin(), runs.end());
  std::printf("bench %s%s: median %.4f ms, min %.4f ms, max %.4f ms over %d runs\n",
              a.packagePath.c_str(),
              session.deviceName().empty() ? "" : (" on " + session.deviceName()).c_str(),
              runs[runs.size() / 2] * 1e3, runs.front() * 1e3, runs.back() * 1e3, a.benchRuns);
  if (a.profile) { // one more run, synchronised after each kernel
    session.enableProfiling(true);
    if (!check(session.run()))
      return r.finish(1);
    printProfile(session, package);
  }
  return r.finish(0);
}

/// Under mpirun: every rank's trace events go to rank 0 as text lines.
Status gatherTrace(Communicator &world, const Ranks &r, std::vector<TraceEvent> &all) {
  std::string text;
  for (const TraceEvent &e : all) {
    char times[64];
    std::snprintf(times, sizeof(times), "%.9f\t%.9f", e.start, e.duration);
    text += e.name + "\t" + e.category + "\t" + std::to_string(e.rank) + "\t" + times + "\n";
  }
  uint64_t size = text.size();
  std::vector<uint64_t> sizes(static_cast<size_t>(r.meshSize));
  if (Status s = world.allGather(&size, sizes.data(), 1, DType::I64); !s.ok())
    return s;
  for (int k = 1; k < r.meshSize; ++k) {
    if (r.leader()) {
      std::string in(sizes[size_t(k)], '\0');
      if (Status s = world.recv(in.data(), in.size(), k, 1 << 21); !s.ok())
        return s;
      std::istringstream lines(in);
      std::string line;
      while (std::getline(lines, line)) {
        std::istringstream f(line);
        TraceEvent e;
        std::string rank, begin, duration;
        std::getline(f, e.name, '\t');
        std::getline(f, e.category, '\t');
        std::getline(f, rank, '\t');
        std::getline(f, begin, '\t');
        std::getline(f, duration, '\t');
        e.rank = std::atoi(rank.c_str());
        e.start = std::atof(begin.c_str());
        e.duration = std::atof(duration.c_str());
        all.push_back(e);
      }
    } else if (r.mine[0] == k) {
      if (Status s = world.send(text.data(), text.size(), 0, 1 << 21); !s.ok())
        return s;
    }
  }
  return Status::okStatus();
}

/// The outputs (rank 0): printed, written (--output), compared (--check).
/// Returns the exit code.
int reportOutputs(const RunArgs &a, const MeshRunner &mesh) {
  int status = 0;
  for (const TensorInfo &info : mesh.outputs()) {
    HostTensor out;
    if (!check(mesh.getOutput(info.name, out)))
      return 1;
    widenHalf(out);
    std::printf("output %s: %s %s", info.name.c_str(), std::string(dtypeName(out.dtype)).c_str(),
                formatShape(out.shape).c_str());
    for (int64_t i = 0; i < std::min<int64_t>(4, out.numElements()); ++i)
      std::printf("%s%g", i ? " " : " [", element(out, i));
    std::printf("%s\n", out.numElements() ? " ...]" : "");
    if (a.outputs.count(info.name) && !check(writeNpy(a.outputs.at(info.name), out)))
      return 1;
    if (!a.checks.count(info.name))
      continue;
    HostTensor ref;
    if (!check(readTensorFile(a.checks.at(info.name), ref)))
      return 1;
    if (ref.shape != out.shape || ref.dtype != out.dtype) {
      std::fprintf(stderr, "error: %s: reference %s %s, output %s %s\n", info.name.c_str(),
                   std::string(dtypeName(ref.dtype)).c_str(), formatShape(ref.shape).c_str(),
                   std::string(dtypeName(out.dtype)).c_str(), formatShape(out.shape).c_str());
      return 1;
    }
    double maxAbs = 0, maxRel = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < out.numElements(); ++i) {
      double o = element(out, i), e = element(ref, i), d = std::fabs(o - e);
      if (o == e) // (equal infinities too)
        continue;
      maxAbs = std::max(maxAbs, d);
      maxRel = std::max(maxRel, d / std::max(std::fabs(e), 1e-30));
      if (!(d <= a.atol + a.rtol * std::fabs(e)) && !(std::isnan(o) && std::isnan(e)))
        ++bad;
    }
    std::printf("check %s: %s (max |diff| %.3g, max rel %.3g, %lld of %lld outside "
                "rtol %g atol %g)\n",
                info.name.c_str(), bad ? "FAIL" : "ok", maxAbs, maxRel, (long long)bad,
                (long long)out.numElements(), a.rtol, a.atol);
    if (bad)
      status = 1;
  }
  return status;
}

/// --profile-json: every local rank's kernels, mean seconds per call (under
/// mpirun each rank writes its own file, suffixed .rankN).
bool writeProfileJson(const RunArgs &a, const Ranks &r) {
  std::string path = r.mpiWorld && !r.leader()
                         ? a.profileJson + ".rank" + std::to_string(r.mine[0])
                         : a.profileJson;
  std::FILE *f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "error: cannot write '%s'\n", path.c_str());
    return false;
  }
  std::fprintf(f, "{\"schema\": \"tessera-profile/1\", \"package\": \"%s\", \"kernels\": [\n",
               a.packagePath.c_str());
  bool first = true;
  for (size_t i = 0; i < r.mine.size(); ++i) {
    const std::vector<KernelProfile> &rows = r.sessions[i]->profile();
    for (size_t k = 0; k < rows.size(); ++k) {
      if (!rows[k].calls)
        continue;
      std::fprintf(f, "%s{\"rank\": %d, \"kernel\": %zu, \"op\": \"%s\", \"seconds\": %.9g}",
                   first ? "" : ",\n", r.mine[i], k, rows[k].op.c_str(),
                   rows[k].seconds / double(rows[k].calls));
      first = false;
    }
  }
  std::fprintf(f, "\n]}\n");
  std::fclose(f);
  return true;
}

/// Inference: --repeat runs of every rank through the mesh runner, outputs
/// gathered at rank 0, the trace written.
int runInference(const RunArgs &a, const Package &package, Ranks &r, MeshRunner &mesh,
                 const std::map<std::string, HostTensor> &inputs, const Schedule &plan) {
  for (auto &s : r.sessions)
    s->enableProfiling(a.profile);
  for (const auto &[name, value] : inputs)
    if (!check(mesh.setInput(name, value)))
      return r.finish(1);
  if (a.dieRank >= 0)
    mesh.dieAt(a.dieRank, a.dieMicrobatch, [&](int rank) {
      std::fprintf(stderr, "tessera-run: rank %d dies before micro-batch %d (--die-at)\n", rank,
                   a.dieMicrobatch);
      std::fflush(stderr);
      if (r.mpiWorld)
        std::_Exit(3);
    });
  std::vector<double> times;
  std::vector<TraceEvent> events;
  for (int k = 0; k < a.repeat; ++k) {
    auto start = std::chrono::steady_clock::now();
    // Events keep the steady clock (one clock for every process of a
    // machine); the earliest becomes 0 when the trace is written.
    events.clear();
    if (!check(mesh.run(&plan, a.tracePath.empty() ? nullptr : &events)))
      return r.finish(1);
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // Under mpirun the last stages send their output chunks to rank 0.
  if (r.mpiWorld && !check(mesh.collectOutputs(*r.mpiWorld)))
    return r.finish(1);
  if (!a.tracePath.empty()) {
    if (r.mpiWorld && !check(gatherTrace(*r.mpiWorld, r, events)))
      return r.finish(1);
    double first = std::numeric_limits<double>::infinity();
    for (const TraceEvent &e : events)
      first = std::min(first, e.start);
    for (TraceEvent &e : events)
      e.start -= first;
    if (r.leader() && !check(writeChromeTrace(a.tracePath, events)))
      return r.finish(1);
  }
  std::sort(times.begin(), times.end());
  Session &session = *r.sessions[0];
  int status = 0;
  if (r.leader()) { // rank 0 reports, writes and checks
    std::printf("ran %s: %d rank(s)%s%s, %d run(s), median %.3f ms, arena %llu bytes per rank\n",
                a.packagePath.c_str(), r.meshSize, r.mpiWorld ? " under mpirun" : "",
                session.deviceName().empty() ? "" : (" on " + session.deviceName()).c_str(),
                a.repeat, times[times.size() / 2] * 1e3,
                (unsigned long long)session.arenaBytes());
    status = reportOutputs(a, mesh);
  }
  if (!a.profileJson.empty() && !writeProfileJson(a, r))
    return r.finish(1);
  if (a.profile && r.leader())
    printProfile(session, package);
  return r.finish(status);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args = tessera::tools::expandArgs(argc, argv);
  if (auto code = tessera::tools::helpOrVersion(args, "tessera-run", kUsage, kPackageFormatVersion))
    return *code;
  if (args.empty())
    return usage();
  if (args.size() == 1 && args[0] == "--cpu-info") {
    // The CPU paths and one rank's threads on this host (no package).
    ThreadPlacement placement;
    Status s = configureCpuPaths();
    if (s.ok())
      s = placeThreads(0, 0, placement);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 2;
    }
    std::printf("%s\n%s\n", cpuPaths().c_str(), placement.describe().c_str());
    return 0;
  }
  RunArgs a;
  if (!tessera::tools::parseRunArgs(args, a))
    return 2;
  if (a.packagePath.empty()) {
    std::fprintf(stderr, "error: no package given\n");
    return usage();
  }
  std::shared_ptr<Package> package;
  if (!check(Package::open(a.packagePath, package)))
    return 1;
  Ranks r;
  if (int code = setUpRanks(a, package, argv, r); code >= 0)
    return code;
  Session *session = r.sessions[0].get();
  if (a.profile && r.leader())
    std::printf("%s\n%s\n", session->threadPlacement().describe().c_str(), cpuPaths().c_str());
  if (isGenerationPackage(*package))
    return runGenerationPackage(a, package, r);
  if (a.generating) {
    std::fprintf(stderr, "error: --prompt-ids, --max-new-tokens and sampling options need a "
                         "package compiled with --generate\n");
    return r.finish(2);
  }
  // One runner over every rank (under mpirun, this process's): the user sees
  // global tensors, inputs split over the data-parallel replicas and
  // micro-batches, outputs joined from the last stage's tp index 0.
  std::vector<Session *> all(size_t(r.meshSize), nullptr);
  std::vector<Communicator *> comms(size_t(r.meshSize), nullptr);
  for (size_t k = 0; k < r.sessions.size(); ++k) {
    all[size_t(r.mine[k])] = r.sessions[k].get();
    comms[size_t(r.mine[k])] = r.world(k);
  }
  std::unique_ptr<MeshRunner> mesh;
  if (!check(MeshRunner::create(*package, all, comms, mesh, r.localGroup.get())))
    return r.finish(1);
  std::map<std::string, HostTensor> inputs;
  if (int code = loadInputs(a, *mesh, inputs); code >= 0)
    return r.finish(code);
  std::unique_ptr<Schedule> plan = makeSchedule(a.scheduleName);
  if (!plan) {
    std::fprintf(stderr, "error: unknown --schedule '%s' (schedules: gpipe, 1f1b)\n",
                 a.scheduleName.c_str());
    return r.finish(2);
  }
  // A package compiled with --train: each run is a training step.
  if (!session->stateNames().empty() || session->segmented() || a.training) {
    if (session->stateNames().empty() && !session->segmented()) {
      std::fprintf(stderr, "error: --steps, --loss-log, --data, checkpoints and --export-onnx "
                           "need a package compiled with --train\n");
      return r.finish(2);
    }
    a.train.profile = a.profile;
    a.train.schedule = plan.get();
    a.train.trace = a.tracePath;
    a.train.session = a.session;
    return r.finish(tessera::tools::runTraining(package, *mesh, inputs, a.train));
  }
  if (a.benchRuns > 0)
    return runBench(a, *package, r, inputs);
  return runInference(a, *package, r, *mesh, inputs, *plan);
}
