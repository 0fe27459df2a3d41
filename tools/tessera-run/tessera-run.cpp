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
#include "Train.h"

#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

using namespace tessera::rt;

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
    "  --data TOKENS.npy      consecutive windows of a 1-D token stream as input_ids/labels\n"
    "  --loss-log FILE.csv    step,loss,grad_norm,lr per step\n"
    "  --save-checkpoint DIR  weights, optimizer state and step after the last step\n"
    "  --resume DIR           start from a checkpoint (continues bit for bit)\n"
    "  --export-onnx OUT.onnx the compiled ONNX model with its trained weights\n"
    "  --help, --version\n";

int usage() {
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}

bool splitSpec(const std::string &spec, std::string &name, std::string &file) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return false;
  name = spec.substr(0, eq);
  file = spec.substr(eq + 1);
  return true;
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

/// A schedule's steps before micro-batch `stop` (fault injection).
class TruncatedSchedule : public Schedule {
public:
  TruncatedSchedule(const Schedule &inner, int stop) : inner_(inner), stop_(stop) {}
  std::string name() const override { return inner_.name() + " (truncated)"; }
  std::vector<ScheduleStep> steps(int stage, int stages, int microbatches) const override {
    std::vector<ScheduleStep> out;
    for (const ScheduleStep &s : inner_.steps(stage, stages, microbatches))
      if (s.microbatch < stop_)
        out.push_back(s);
    return out;
  }
  std::vector<ScheduleStep> trainingSteps(int stage, int stages,
                                          int microbatches) const override {
    std::vector<ScheduleStep> out;
    for (const ScheduleStep &s : inner_.trainingSteps(stage, stages, microbatches))
      if (s.microbatch < stop_)
        out.push_back(s);
    return out;
  }

private:
  const Schedule &inner_;
  int stop_;
};

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
  std::string packagePath;
  std::map<std::string, std::string> inputs, outputs, checks;
  double rtol = 1e-4, atol = 1e-4;
  int repeat = 1, benchRuns = 0;
  std::string commKind = "default";
  bool profile = false;
  std::string testData;
  int ranks = 0;
  double timeoutSeconds = 60;
  std::string tracePath, scheduleName = "gpipe";
  int dieRank = -1, dieMicrobatch = 0;
  std::string profileJson;
  SessionOptions sessionOptions; // device -1: rank r on GPU r modulo the GPUs
  tessera::tools::TrainOptions trainOptions;
  bool training = false;
  tessera::tools::GenerateCliOptions genOptions;
  bool generating = false;
  bool bad = false;
  for (size_t i = 0; i < args.size() && !bad; ++i) {
    std::string arg = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 < args.size())
        return args[++i];
      std::fprintf(stderr, "error: %s needs a value (tessera-run --help)\n", arg.c_str());
      bad = true;
      return "";
    };
    auto integer = [&](long long min, long long max) -> long long {
      long long v = min;
      std::string text = next();
      if (!bad && !tessera::tools::parseInt(arg, text, min, max, v))
        bad = true;
      return v;
    };
    auto number = [&](double min) -> double {
      double v = min;
      std::string text = next();
      if (!bad && !tessera::tools::parseNumber(arg, text, min, v))
        bad = true;
      return v;
    };
    std::string name, file;
    if (arg == "--input" || arg == "--output" || arg == "--check") {
      std::string spec = next();
      if (!splitSpec(spec, name, file)) {
        std::fprintf(stderr, "error: %s '%s' is not NAME=FILE\n", arg.c_str(), spec.c_str());
        return 2;
      }
      (arg == "--input" ? inputs : arg == "--output" ? outputs : checks)[name] = file;
    } else if (arg == "--test-data") {
      testData = next();
    } else if (arg == "--rtol") {
      rtol = number(0);
    } else if (arg == "--atol") {
      atol = number(0);
    } else if (arg == "--repeat") {
      repeat = int(integer(1, 1000000));
    } else if (arg == "--ranks") {
      ranks = int(integer(1, 1 << 20));
    } else if (arg == "--trace") {
      tracePath = next();
    } else if (arg == "--profile-json") {
      profileJson = next();
      profile = true;
    } else if (arg == "--die-at") {
      // Testing: rank R stops silently before micro-batch M (a thread just
      // stops; a process exits), so the others must time out or be failed.
      std::string spec = next();
      if (std::sscanf(spec.c_str(), "%d:%d", &dieRank, &dieMicrobatch) != 2) {
        std::fprintf(stderr, "error: --die-at '%s' is not RANK:MICROBATCH\n", spec.c_str());
        return 2;
      }
    } else if (arg == "--schedule") {
      scheduleName = next();
    } else if (arg == "--timeout") {
      timeoutSeconds = number(0);
    } else if (arg == "--profile") {
      profile = true;
    } else if (arg == "--steps") {
      trainOptions.steps = int(integer(1, 1000000000));
      training = true;
    } else if (arg == "--loss-log") {
      trainOptions.lossLog = next();
      training = true;
    } else if (arg == "--data") {
      trainOptions.data = next();
      training = true;
    } else if (arg == "--save-checkpoint") {
      trainOptions.save = next();
      training = true;
    } else if (arg == "--resume") {
      trainOptions.resume = next();
      training = true;
    } else if (arg == "--export-onnx") {
      trainOptions.exportOnnx = next();
      training = true;
    } else if (arg == "--prompt-ids") {
      genOptions.promptIds = next();
      generating = true;
    } else if (arg == "--prompt") {
      genOptions.prompts.push_back(next());
      generating = true;
    } else if (arg == "--tokenizer") {
      genOptions.tokenizer = next();
      generating = true;
    } else if (arg == "--max-new-tokens") {
      genOptions.generate.maxNewTokens = integer(1, 1 << 30);
      generating = true;
    } else if (arg == "--output-ids") {
      genOptions.outputIds = next();
      generating = true;
    } else if (arg == "--temperature") {
      genOptions.generate.sampling.temperature = number(0);
      generating = true;
    } else if (arg == "--top-k") {
      genOptions.generate.sampling.topK = integer(0, 1ll << 40);
      generating = true;
    } else if (arg == "--top-p") {
      genOptions.generate.sampling.topP = number(0);
      if (!bad && (genOptions.generate.sampling.topP <= 0 ||
                   genOptions.generate.sampling.topP > 1)) {
        std::fprintf(stderr, "error: --top-p must be in (0, 1]\n");
        bad = true;
      }
      generating = true;
    } else if (arg == "--seed") {
      genOptions.generate.sampling.seed = uint64_t(integer(0, (1ll << 62)));
      generating = true;
    } else if (arg == "--stop-id") {
      genOptions.generate.stopIds.push_back(integer(0, 1ll << 40));
      generating = true;
    } else if (arg == "--backend") {
      sessionOptions.backend = next();
    } else if (arg == "--comm") {
      commKind = next();
    } else if (arg == "--bench") {
      benchRuns = int(integer(1, 1000000));
    } else if (arg == "--random-weights") {
      sessionOptions.randomWeights = uint64_t(integer(0, (1ll << 62)));
    } else if (arg == "--max-memory") {
      std::string text = next();
      sessionOptions.maxMemoryBytes = bad ? 0 : parseByteSize(text);
      if (!bad && !sessionOptions.maxMemoryBytes) {
        std::fprintf(stderr, "error: --max-memory expects a size like 512M, 64G or bytes, not "
                             "'%s'\n", text.c_str());
        bad = true;
      }
    } else if (arg == "--threads") {
      sessionOptions.threads = int(integer(1, 4096));
    } else if (arg == "--device") {
      sessionOptions.device = int(integer(-1, 1024));
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "error: unknown option '%s' (tessera-run --help lists the options)\n",
                   arg.c_str());
      return 2;
    } else if (packagePath.empty()) {
      packagePath = arg;
    } else {
      std::fprintf(stderr, "error: unexpected argument '%s': one package per run\n", arg.c_str());
      return 2;
    }
  }
  if (bad)
    return 2;
  if (packagePath.empty()) {
    std::fprintf(stderr, "error: no package given\n");
    return usage();
  }

  auto check = [](const Status &s) {
    if (s.ok())
      return true;
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return false;
  };
  std::shared_ptr<Package> package;
  if (!check(Package::open(packagePath, package)))
    return 1;
  // The ranks this process runs: all of them as threads, or, under mpirun,
  // its own. The user sees global tensors: inputs are split along their
  // split axis over the data-parallel axis (the mesh's first), outputs
  // gathered from the first rank of each data-parallel replica.
  int meshSize = package->meshSize();
  auto timeout = std::chrono::milliseconds(int64_t(timeoutSeconds * 1000));
  std::unique_ptr<Communicator> mpiWorld;
  std::unique_ptr<LocalGroup> localGroup;
  std::vector<int> mine;
  const char *mpiSize = std::getenv("OMPI_COMM_WORLD_SIZE");
  bool underMpi = mpiSize && std::atoi(mpiSize) > 1;
  // The ranks sharing this host's cores, and each one's threads; where they
  // oversubscribe the cores, OpenMP waits passively, else with several
  // threads a rank it spins only briefly (a re-exec, before any
  // thread or MPI starts).
  // (Under mpirun: the launcher's local ranks, those bound elsewhere left out.)
  sessionOptions.ranksOnHost = underMpi ? 0 : (ranks ? ranks : meshSize);
  {
    ThreadPlacement placement;
    if (!check(placeThreads(sessionOptions.threads, sessionOptions.ranksOnHost, placement)))
      return 2;
    if (sessionOptions.backend == "cpu" || sessionOptions.backend == "cuda-host")
      chooseOpenMpWaiting(placement, argv);
  }
  if (underMpi) {
#ifdef TESSERA_HAVE_MPI
    if (!check(createMpiCommunicator(timeout, mpiWorld)))
      return 1;
    if (mpiWorld->size() != meshSize) {
      std::fprintf(stderr, "error: the package is planned for %d rank(s), mpirun started %d\n",
                   meshSize, mpiWorld->size());
      finalizeMpi();
      return 1;
    }
    mine.push_back(mpiWorld->rank());
#else
    std::fprintf(stderr, "error: started by mpirun, but this tessera-run was built without MPI\n");
    return 1;
#endif
  } else {
    if (ranks == 0)
      ranks = meshSize;
    if (ranks != meshSize) {
      std::fprintf(stderr, "error: the package is planned for %d rank(s), --ranks gives %d\n",
                   meshSize, ranks);
      return 1;
    }
    for (int r = 0; r < ranks; ++r)
      mine.push_back(r);
    if (meshSize > 1)
      localGroup = std::make_unique<LocalGroup>(meshSize, timeout);
  }
  bool leader = mine[0] == 0;
  // Under mpirun only rank 0 prints; every rank fails loudly on its own.
  auto finish = [&](int code) {
#ifdef TESSERA_HAVE_MPI
    if (mpiWorld)
      finalizeMpi();
#endif
    return code;
  };
  // --comm nccl: NCCL for the collectives (one GPU per rank), bootstrapped
  // over MPI or the local group, which keep the point-to-point traffic.
  std::vector<std::unique_ptr<Communicator>> ncclWorlds;
  if (commKind == "nccl") {
    if (sessionOptions.backend != "cuda") {
      std::fprintf(stderr, "error: --comm nccl needs --backend cuda\n");
      return finish(2);
    }
    for (size_t i = 0; i < mine.size(); ++i) {
      Communicator *bootstrap = mpiWorld     ? mpiWorld.get()
                                : localGroup ? &localGroup->communicator(mine[i])
                                             : nullptr;
      ncclWorlds.emplace_back();
      if (!check(createNcclCommunicator(bootstrap, ncclWorlds.back())))
        return finish(1);
    }
  } else if (commKind != "default") {
    std::fprintf(stderr, "error: unknown --comm '%s' (nccl)\n", commKind.c_str());
    return finish(2);
  }
  auto worldOf = [&](size_t k) -> Communicator * {
    if (!ncclWorlds.empty())
      return ncclWorlds[k].get();
    return mpiWorld ? mpiWorld.get() : localGroup ? &localGroup->communicator(mine[k]) : nullptr;
  };
  std::vector<std::unique_ptr<Session>> sessions(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    SessionOptions options = sessionOptions;
    if (!check(Session::create(package, mine[i], sessions[i], options)))
      return finish(1);
    Communicator *world = worldOf(i);
    if (world && !check(sessions[i]->bindCommunicator(*world)))
      return finish(1);
  }
  Session *session = sessions[0].get();
  if (profile && leader)
    std::printf("%s\n%s\n", session->threadPlacement().describe().c_str(), cpuPaths().c_str());
  // A package compiled with --generate: each run is one decode step.
  if (isGenerationPackage(*package)) {
    if (int(mine.size()) != meshSize) {
      std::fprintf(stderr, "error: generation runs all ranks in one process for now (ranks as "
                           "threads, not under mpirun)\n");
      return finish(2);
    }
    if (training || !inputs.empty() || !testData.empty()) {
      std::fprintf(stderr, "error: a generation package takes --prompt-ids, not --input, "
                           "--test-data or training options\n");
      return finish(2);
    }
    genOptions.profile = profile;
    genOptions.stream = isatty(fileno(stdout));
    // The prompt programs beside the decode step (--prefill at compile time).
    std::vector<std::unique_ptr<Session>> prefillSessions;
    std::vector<PrefillSession> prefills;
    for (int64_t length : prefillLengths(*package, 0)) {
      SessionOptions options = sessionOptions;
      options.role = "prefill:" + std::to_string(length);
      prefillSessions.emplace_back();
      if (!check(Session::create(package, 0, prefillSessions.back(), options)))
        return finish(1);
      prefills.push_back({length, prefillSessions.back().get()});
    }
    std::vector<Session *> all;
    std::vector<Communicator *> comms;
    for (size_t k = 0; k < sessions.size(); ++k) {
      all.push_back(sessions[k].get());
      comms.push_back(worldOf(k));
    }
    std::unique_ptr<DecodeRunner> runner = makeDecodeRunner(*package, all, comms);
    if (!runner) {
      std::fprintf(stderr, "error: generation runs tensor- and pipeline-parallel packages with "
                           "one micro-batch (no data parallelism yet)\n");
      return finish(2);
    }
    return finish(
        tessera::tools::runGeneration(*package, *runner, *session, genOptions, prefills));
  }
  if (generating) {
    std::fprintf(stderr, "error: --prompt-ids, --max-new-tokens and sampling options need a "
                         "package compiled with --generate\n");
    return finish(2);
  }
  // Graph inputs enter at stage 0 (rank 0 runs it); outputs leave at the
  // last stage of replica 0, tp index 0. Their descriptions come from the
  // package, whichever ranks this process runs.
  MeshPosition origin = meshPosition(*package, 0);
  int chunks = origin.replicas * origin.microbatches; // of every split tensor
  std::vector<TensorInfo> inputInfos, outputInfos;
  if (!check(MeshRunner::describe(*package, inputInfos, outputInfos)))
    return finish(1);
  std::map<std::string, HostTensor> globalInputs;
  auto setInput = [&](const std::string &name, const HostTensor &t) -> Status {
    for (const TensorInfo &info : inputInfos) {
      if (info.name != name)
        continue;
      if ((info.dtype == DType::BF16 || info.dtype == DType::F16) && t.dtype == DType::F32 &&
          t.shape == info.shape) {
        globalInputs[name] = narrowTo(t, info.dtype);
        return Status::okStatus();
      }
      if (t.dtype != info.dtype || t.shape != info.shape)
        return Status(StatusCode::InvalidArgument,
                      "input '" + name + "' must be " + std::string(dtypeName(info.dtype)) +
                          " " + formatShape(info.shape) + ", got " +
                          std::string(dtypeName(t.dtype)) + " " + formatShape(t.shape));
      globalInputs[name] = t;
      return Status::okStatus();
    }
    std::string names;
    for (const TensorInfo &info : inputInfos)
      names += (names.empty() ? "" : ", ") + info.name;
    return Status(StatusCode::NotFound,
                  "no input named '" + name + "' (inputs: " + names + ")");
  };
  // Micro-batch mb of replica d is chunk d * microbatches + mb of the batch.
  auto inputFor = [&](const MeshPosition &p) {
    return [&, p](int mb, const std::string &name, HostTensor &out) -> Status {
      for (const TensorInfo &info : inputInfos)
        if (info.name == name) {
          const HostTensor &t = globalInputs.at(name);
          out = info.splitAxis >= 0
                    ? sliceAlong(t, info.splitAxis, chunks, p.replica * p.microbatches + mb)
                    : t;
          return Status::okStatus();
        }
      return Status(StatusCode::NotFound, "no input named '" + name + "'");
    };
  };
  // Outputs by (name, chunk), from the last stages' tp index 0.
  std::mutex outputsMutex;
  std::map<std::pair<std::string, int>, HostTensor> outputChunks;
  auto outputFor = [&](const MeshPosition &p) {
    return [&, p](int mb, const std::string &name, HostTensor &&t) -> Status {
      if (p.tpIndex != 0)
        return Status::okStatus();
      std::lock_guard<std::mutex> lock(outputsMutex);
      outputChunks[{name, p.replica * p.microbatches + mb}] = std::move(t);
      return Status::okStatus();
    };
  };
  auto getOutput = [&](const TensorInfo &info, HostTensor &out) -> Status {
    std::vector<HostTensor> parts;
    int count = info.splitAxis >= 0 ? chunks : 1;
    for (int c = 0; c < count; ++c) {
      auto it = outputChunks.find({info.name, c});
      if (it == outputChunks.end())
        return Status(StatusCode::Internal, "output '" + info.name + "' chunk " +
                                                std::to_string(c) + " never arrived");
      parts.push_back(it->second);
    }
    out = info.splitAxis >= 0 ? concatAlong(parts, info.splitAxis) : parts[0];
    return Status::okStatus();
  };
  // Under mpirun the last stages send their output chunks to rank 0.
  auto collectOutputs = [&]() -> Status {
    if (!mpiWorld)
      return Status::okStatus();
    const int kTag = 1 << 20;
    MeshPosition own = meshPosition(*package, mine[0]);
    bool producer = own.stage + 1 == own.stages && own.tpIndex == 0;
    for (int d = 0; d < origin.replicas; ++d) {
      MeshPosition p = meshPosition(*package, (d * origin.stages + origin.stages - 1) * origin.tp);
      if (p.rank == 0)
        continue;
      for (const TensorInfo &info : outputInfos)
        for (int mb = 0; mb < origin.microbatches; ++mb) {
          if (info.splitAxis < 0 && (d > 0 || mb > 0))
            continue;
          int chunk = d * origin.microbatches + mb;
          TensorInfo local = info;
          if (info.splitAxis >= 0)
            local.shape[size_t(info.splitAxis)] /= chunks;
          HostTensor t;
          t.dtype = local.dtype;
          t.shape = local.shape;
          t.data.resize(size_t(t.numElements()) * dtypeSize(t.dtype));
          if (producer && mine[0] == p.rank) {
            auto it = outputChunks.find({info.name, chunk});
            if (it == outputChunks.end())
              return Status(StatusCode::Internal, "output chunk missing on rank " +
                                                      std::to_string(p.rank));
            if (Status s = mpiWorld->send(it->second.data.data(), it->second.data.size(), 0,
                                          kTag + chunk);
                !s.ok())
              return s;
          } else if (leader) {
            if (Status s = mpiWorld->recv(t.data.data(), t.data.size(), p.rank, kTag + chunk);
                !s.ok())
              return s;
            outputChunks[{info.name, chunk}] = std::move(t);
          }
        }
    }
    return Status::okStatus();
  };
  // ONNX test data: input_N.pb / output_N.pb, matched by the tensor's name
  // or else by position.
  if (!testData.empty()) {
    for (int kind = 0; kind < 2; ++kind) {
      const std::vector<TensorInfo> &infos = kind == 0 ? inputInfos : outputInfos;
      for (size_t n = 0; n < infos.size(); ++n) {
        std::string file = testData + (kind == 0 ? "/input_" : "/output_") +
                           std::to_string(n) + ".pb";
        HostTensor t;
        std::string protoName;
        if (!check(readTensorProto(file, t, protoName)))
          return finish(1);
        std::string name = infos[n].name;
        for (const TensorInfo &info : infos)
          if (info.name == protoName)
            name = protoName;
        (kind == 0 ? inputs : checks)[name] = file;
      }
    }
  }
  for (const auto &[name, file] : inputs) {
    HostTensor t;
    if (!check(readTensorFile(file, t)) || !check(setInput(name, t)))
      return finish(1);
  }
  for (const TensorInfo &info : inputInfos)
    if (!inputs.count(info.name)) {
      if (!trainOptions.data.empty() && (info.name == "input_ids" || info.name == "labels"))
        continue; // windows of the token stream, step by step
      if (!inputs.empty()) {
        std::fprintf(stderr, "error: no --input for '%s' (%s %s)\n", info.name.c_str(),
                     std::string(dtypeName(info.dtype)).c_str(),
                     formatShape(info.shape).c_str());
        return finish(1);
      }
      if (!check(setInput(info.name, generated(info))))
        return finish(1);
    }
  for (const auto &[name, file] : outputs) {
    bool known = false;
    for (const TensorInfo &info : outputInfos)
      known |= info.name == name;
    if (!known) {
      std::fprintf(stderr, "error: no output named '%s'\n", name.c_str());
      return finish(1);
    }
  }
  // A package compiled with --train: each run is a training step.
  if (!isGenerationPackage(*package) &&
      (!session->stateNames().empty() || session->segmented() || training)) {
    if (session->stateNames().empty() && !session->segmented()) {
      std::fprintf(stderr, "error: --steps, --loss-log, --data, checkpoints and --export-onnx need a package "
                           "compiled with --train\n");
      return finish(2);
    }
    // Every rank as threads, or under mpirun this process's one.
    std::vector<Session *> all(size_t(meshSize), nullptr);
    std::vector<Communicator *> comms(size_t(meshSize), nullptr);
    for (size_t k = 0; k < sessions.size(); ++k) {
      all[size_t(mine[k])] = sessions[k].get();
      comms[size_t(mine[k])] = worldOf(k);
    }
    std::unique_ptr<MeshRunner> mesh;
    if (!check(MeshRunner::create(*package, all, comms, mesh, localGroup.get())))
      return finish(1);
    trainOptions.profile = profile;
    std::unique_ptr<Schedule> order = makeSchedule(scheduleName);
    if (!order) {
      std::fprintf(stderr, "error: unknown --schedule '%s' (schedules: gpipe, 1f1b)\n",
                   scheduleName.c_str());
      return finish(2);
    }
    trainOptions.schedule = order.get();
    trainOptions.trace = tracePath;
    return finish(tessera::tools::runTraining(*package, *mesh, globalInputs, trainOptions));
  }
  for (auto &s : sessions)
    s->enableProfiling(profile);
  std::unique_ptr<Schedule> plan = makeSchedule(scheduleName);
  if (!plan) {
    std::fprintf(stderr, "error: unknown --schedule '%s' (schedules: gpipe, 1f1b)\n",
                 scheduleName.c_str());
    return finish(2);
  }
  // Per-op totals of rank 0's kernels (--profile).
  auto printProfile = [&]() {
    std::vector<KernelProfile> rows = session->profile();
    std::map<std::string, std::pair<double, int64_t>> byOp;
    double total = 0;
    for (const KernelProfile &p : rows) {
      byOp[p.op].first += p.seconds;
      byOp[p.op].second += p.calls;
      total += p.seconds;
    }
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> sorted(byOp.begin(), byOp.end());
    std::sort(sorted.begin(), sorted.end(),
              [](auto &a, auto &b) { return a.second.first > b.second.first; });
    std::printf("%-14s %10s %8s %7s\n", "kernel", "total ms", "calls", "share");
    for (auto &[op, v] : sorted)
      std::printf("%-14s %10.3f %8lld %6.1f%%\n", op.c_str(), v.first * 1e3,
                  (long long)v.second, total > 0 ? 100 * v.first / total : 0.0);
    tessera::tools::printPackedWeights(*package);
  };
  if (benchRuns > 0) {
    // The device time of run() alone: inputs set once, outputs never read.
    if (mine.size() != 1 || meshSize != 1) {
      std::fprintf(stderr, "error: --bench times single-rank packages\n");
      return finish(2);
    }
    for (const TensorInfo &info : inputInfos)
      if (!check(session->setInput(info.name, globalInputs.at(info.name))))
        return finish(1);
    session->enableProfiling(false); // timed without per-kernel synchronisation
    std::vector<double> runs;
    for (int r = 0; r < benchRuns + 2; ++r) {
      double start = Session::now();
      if (!check(session->run()))
        return finish(1);
      if (r >= 2) // two warm-up runs
        runs.push_back(Session::now() - start);
    }
    std::sort(runs.begin(), runs.end());
    std::printf("bench %s%s: median %.4f ms, min %.4f ms, max %.4f ms over %d runs\n",
                packagePath.c_str(),
                session->deviceName().empty() ? "" : (" on " + session->deviceName()).c_str(),
                runs[runs.size() / 2] * 1e3, runs.front() * 1e3, runs.back() * 1e3, benchRuns);
    if (profile) { // one more run, synchronised after each kernel
      session->enableProfiling(true);
      if (!check(session->run()))
        return finish(1);
      printProfile();
    }
    return finish(0);
  }
  std::vector<double> times;
  std::vector<std::vector<TraceEvent>> traces(mine.size());
  double traceOrigin = 0;
  for (int r = 0; r < repeat; ++r) {
    auto start = std::chrono::steady_clock::now();
    // Events keep the steady clock (one clock for every process of a
    // machine); the earliest becomes 0 when the trace is written.
    traceOrigin = 0;
    for (auto &t : traces)
      t.clear();
    std::vector<Status> results(mine.size());
    auto runRank = [&](size_t k) {
      MeshPosition p = meshPosition(*package, mine[k]);
      Communicator *comm = worldOf(k);
      if (mine[k] == dieRank) {
        TruncatedSchedule dying(*plan, dieMicrobatch);
        (void)runPipelineRank(*sessions[k], comm, p, dying, inputFor(p), outputFor(p),
                              nullptr, traceOrigin);
        std::fprintf(stderr, "tessera-run: rank %d dies before micro-batch %d (--die-at)\n",
                     mine[k], dieMicrobatch);
        std::fflush(stderr);
        if (mpiWorld)
          std::_Exit(3);
        results[k] = Status::okStatus();
        return;
      }
      results[k] = runPipelineRank(*sessions[k], comm, p, *plan, inputFor(p), outputFor(p),
                                   tracePath.empty() ? nullptr : &traces[k], traceOrigin);
      if (!results[k].ok() && localGroup) // the others must not wait for it
        localGroup->abort(mine[k], results[k].message());
    };
    std::vector<std::thread> threads;
    for (size_t k = 1; k < mine.size(); ++k)
      threads.emplace_back(runRank, k);
    runRank(0);
    for (std::thread &t : threads)
      t.join();
    for (const Status &s : results)
      if (!check(s))
        return finish(1);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (!check(collectOutputs()))
    return finish(1);
  if (!tracePath.empty()) {
    std::vector<TraceEvent> all;
    for (auto &t : traces)
      all.insert(all.end(), t.begin(), t.end());
    if (mpiWorld) {
      // Every rank's events go to rank 0 as text lines.
      std::string text;
      for (const TraceEvent &e : all) {
        char times[64];
        std::snprintf(times, sizeof(times), "%.9f\t%.9f", e.start, e.duration);
        text += e.name + "\t" + e.category + "\t" + std::to_string(e.rank) + "\t" + times + "\n";
      }
      uint64_t size = text.size();
      std::vector<uint64_t> sizes(static_cast<size_t>(meshSize));
      if (!check(mpiWorld->allGather(&size, sizes.data(), 1, DType::I64)))
        return finish(1);
      for (int r = 1; r < meshSize; ++r) {
        if (leader) {
          std::string in(sizes[size_t(r)], '\0');
          if (!check(mpiWorld->recv(in.data(), in.size(), r, 1 << 21)))
            return finish(1);
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
        } else if (mine[0] == r) {
          if (!check(mpiWorld->send(text.data(), text.size(), 0, 1 << 21)))
            return finish(1);
        }
      }
    }
    double first = std::numeric_limits<double>::infinity();
    for (const TraceEvent &e : all)
      first = std::min(first, e.start);
    for (TraceEvent &e : all)
      e.start -= first;
    if (leader && !check(writeChromeTrace(tracePath, all)))
      return finish(1);
  }
  std::sort(times.begin(), times.end());
  if (leader)
  std::printf("ran %s: %d rank(s)%s%s, %d run(s), median %.3f ms, arena %llu bytes per rank\n",
              packagePath.c_str(), meshSize, mpiWorld ? " under mpirun" : "",
              session->deviceName().empty() ? "" : (" on " + session->deviceName()).c_str(),
              repeat, times[times.size() / 2] * 1e3,
              (unsigned long long)session->arenaBytes());
  int status = 0;
  for (const TensorInfo &info : outputInfos) {
    if (!leader)
      continue; // rank 0 reports, writes and checks
    HostTensor out;
    if (!check(getOutput(info, out)))
      return finish(1);
    widenHalf(out);
    std::printf("output %s: %s %s", info.name.c_str(),
                std::string(dtypeName(out.dtype)).c_str(), formatShape(out.shape).c_str());
    for (int64_t i = 0; i < std::min<int64_t>(4, out.numElements()); ++i)
      std::printf("%s%g", i ? " " : " [", element(out, i));
    std::printf("%s\n", out.numElements() ? " ...]" : "");
    if (outputs.count(info.name) && !check(writeNpy(outputs[info.name], out)))
      return finish(1);
    if (checks.count(info.name)) {
      HostTensor ref;
      if (!check(readTensorFile(checks[info.name], ref)))
        return finish(1);
      if (ref.shape != out.shape || ref.dtype != out.dtype) {
        std::fprintf(stderr, "error: %s: reference %s %s, output %s %s\n", info.name.c_str(),
                     std::string(dtypeName(ref.dtype)).c_str(), formatShape(ref.shape).c_str(),
                     std::string(dtypeName(out.dtype)).c_str(), formatShape(out.shape).c_str());
        return finish(1);
      }
      double maxAbs = 0, maxRel = 0;
      int64_t bad = 0;
      for (int64_t i = 0; i < out.numElements(); ++i) {
        double o = element(out, i), e = element(ref, i), d = std::fabs(o - e);
        if (o == e) // (equal infinities too)
          continue;
        maxAbs = std::max(maxAbs, d);
        maxRel = std::max(maxRel, d / std::max(std::fabs(e), 1e-30));
        if (!(d <= atol + rtol * std::fabs(e)) && !(std::isnan(o) && std::isnan(e)))
          ++bad;
      }
      std::printf("check %s: %s (max |diff| %.3g, max rel %.3g, %lld of %lld outside "
                  "rtol %g atol %g)\n",
                  info.name.c_str(), bad ? "FAIL" : "ok", maxAbs, maxRel, (long long)bad,
                  (long long)out.numElements(), rtol, atol);
      if (bad)
        status = 1;
    }
  }
  if (!profileJson.empty()) {
    // Every local rank's kernels: mean seconds per call (under mpirun each
    // rank writes its own file, suffixed .rankN).
    std::string path = mpiWorld && !leader ? profileJson + ".rank" + std::to_string(mine[0])
                                           : profileJson;
    std::FILE *f = std::fopen(path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "error: cannot write '%s'\n", path.c_str());
      return finish(1);
    }
    std::fprintf(f, "{\"schema\": \"tessera-profile/1\", \"package\": \"%s\", \"kernels\": [\n",
                 packagePath.c_str());
    bool first = true;
    for (size_t i = 0; i < mine.size(); ++i) {
      const std::vector<KernelProfile> &rows = sessions[i]->profile();
      for (size_t k = 0; k < rows.size(); ++k) {
        if (!rows[k].calls)
          continue;
        std::fprintf(f, "%s{\"rank\": %d, \"kernel\": %zu, \"op\": \"%s\", \"seconds\": %.9g}",
                     first ? "" : ",\n", mine[i], k, rows[k].op.c_str(),
                     rows[k].seconds / double(rows[k].calls));
        first = false;
      }
    }
    std::fprintf(f, "\n]}\n");
    std::fclose(f);
  }
  if (profile && leader)
    printProfile();
  return finish(status);
}
