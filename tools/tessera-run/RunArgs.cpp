//===- RunArgs.cpp - tessera-run's command line ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "RunArgs.h"

#include "tools/ToolArgs.h"

#include <cstdio>

using namespace tessera;

namespace {

bool splitSpec(const std::string &spec, std::string &name, std::string &file) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    return false;
  name = spec.substr(0, eq);
  file = spec.substr(eq + 1);
  return true;
}

} // namespace

bool tools::parseRunArgs(const std::vector<std::string> &args, RunArgs &o) {
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
        return false;
      }
      (arg == "--input" ? o.inputs : arg == "--output" ? o.outputs : o.checks)[name] = file;
    } else if (arg == "--test-data") {
      o.testData = next();
    } else if (arg == "--rtol") {
      o.rtol = number(0);
    } else if (arg == "--atol") {
      o.atol = number(0);
    } else if (arg == "--repeat") {
      o.repeat = int(integer(1, 1000000));
    } else if (arg == "--ranks") {
      o.ranks = int(integer(1, 1 << 20));
    } else if (arg == "--trace") {
      o.tracePath = next();
    } else if (arg == "--profile-json") {
      o.profileJson = next();
      o.profile = true;
    } else if (arg == "--die-at") {
      // Testing: rank R stops silently before micro-batch M (a thread just
      // stops; a process exits), so the others must time out or be failed.
      std::string spec = next();
      if (std::sscanf(spec.c_str(), "%d:%d", &o.dieRank, &o.dieMicrobatch) != 2) {
        std::fprintf(stderr, "error: --die-at '%s' is not RANK:MICROBATCH\n", spec.c_str());
        return false;
      }
    } else if (arg == "--schedule") {
      o.scheduleName = next();
    } else if (arg == "--timeout") {
      o.timeoutSeconds = number(0);
    } else if (arg == "--profile") {
      o.profile = true;
    } else if (arg == "--steps") {
      o.train.steps = int(integer(1, 1000000000));
      o.training = true;
    } else if (arg == "--loss-log") {
      o.train.lossLog = next();
      o.training = true;
    } else if (arg == "--data") {
      o.train.data.files.push_back(next());
      o.training = true;
    } else if (arg == "--data-dtype") {
      o.train.data.binDType = next();
      o.training = true;
    } else if (arg == "--shuffle") {
      o.train.data.shuffle = true;
      o.training = true;
    } else if (arg == "--windows-log") {
      o.train.windowsLog = next();
      o.training = true;
    } else if (arg == "--save-checkpoint") {
      o.train.save = next();
      o.training = true;
    } else if (arg == "--resume") {
      o.train.resume = next();
      o.training = true;
    } else if (arg == "--eval-data") {
      o.train.evalData.files.push_back(next());
      o.training = true;
    } else if (arg == "--eval-every") {
      o.train.evalEvery = int(integer(0, 1000000000));
      o.training = true;
    } else if (arg == "--eval-batches") {
      o.train.evalBatches = int(integer(1, 1000000000));
      o.training = true;
    } else if (arg == "--save-every") {
      o.train.saveEvery = int(integer(1, 1000000000));
      o.training = true;
    } else if (arg == "--checkpoint-dir") {
      o.train.checkpointDir = next();
      o.training = true;
    } else if (arg == "--keep") {
      o.train.keep = int(integer(1, 1000000000));
      o.training = true;
    } else if (arg == "--save-best") {
      o.train.saveBest = next();
      o.training = true;
    } else if (arg == "--early-stop") {
      o.train.earlyStop = int(integer(1, 1000000000));
      o.training = true;
    } else if (arg == "--export-onnx") {
      o.train.exportOnnx = next();
      o.training = true;
    } else if (arg == "--prompt-ids") {
      o.generate.promptIds = next();
      o.generating = true;
    } else if (arg == "--prompt") {
      o.generate.prompts.push_back(next());
      o.generating = true;
    } else if (arg == "--tokenizer") { // generation's prompts, or training's text data
      o.generate.tokenizer = o.train.data.tokenizer = o.train.evalData.tokenizer = next();
    } else if (arg == "--max-new-tokens") {
      o.generate.generate.maxNewTokens = integer(1, 1 << 30);
      o.generating = true;
    } else if (arg == "--output-ids") {
      o.generate.outputIds = next();
      o.generating = true;
    } else if (arg == "--temperature") {
      o.generate.generate.sampling.temperature = number(0);
      o.generating = true;
    } else if (arg == "--top-k") {
      o.generate.generate.sampling.topK = integer(0, 1ll << 40);
      o.generating = true;
    } else if (arg == "--top-p") {
      o.generate.generate.sampling.topP = number(0);
      if (!bad && (o.generate.generate.sampling.topP <= 0 ||
                   o.generate.generate.sampling.topP > 1)) {
        std::fprintf(stderr, "error: --top-p must be in (0, 1]\n");
        bad = true;
      }
      o.generating = true;
    } else if (arg == "--seed") { // sampling's, or --shuffle's
      o.generate.generate.sampling.seed = o.train.data.seed = uint64_t(integer(0, (1ll << 62)));
    } else if (arg == "--stop-id") {
      o.generate.generate.stopIds.push_back(integer(0, 1ll << 40));
      o.generating = true;
    } else if (arg == "--backend") {
      o.session.backend = next();
    } else if (arg == "--comm") {
      o.commKind = next();
    } else if (arg == "--bench") {
      o.benchRuns = int(integer(1, 1000000));
    } else if (arg == "--random-weights") {
      o.session.randomWeights = uint64_t(integer(0, (1ll << 62)));
    } else if (arg == "--max-memory") {
      std::string text = next();
      o.session.maxMemoryBytes = bad ? 0 : rt::parseByteSize(text);
      if (!bad && !o.session.maxMemoryBytes) {
        std::fprintf(stderr, "error: --max-memory expects a size like 512M, 64G or bytes, not "
                             "'%s'\n", text.c_str());
        bad = true;
      }
    } else if (arg == "--threads") {
      o.session.threads = int(integer(1, 4096));
    } else if (arg == "--device") {
      o.session.device = int(integer(-1, 1024));
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "error: unknown option '%s' (tessera-run --help lists the options)\n",
                   arg.c_str());
      return false;
    } else if (o.packagePath.empty()) {
      o.packagePath = arg;
    } else {
      std::fprintf(stderr, "error: unexpected argument '%s': one package per run\n", arg.c_str());
      return false;
    }
  }
  if (!bad) {
    o.train.evalData.binDType = o.train.data.binDType;
    const TrainOptions &t = o.train;
    if ((t.evalEvery || t.evalBatches || !t.saveBest.empty() || t.earlyStop) &&
        t.evalData.files.empty()) {
      std::fprintf(stderr, "error: --eval-every, --eval-batches, --save-best and --early-stop "
                           "need --eval-data FILE\n");
      return false;
    }
    if ((t.saveEvery || t.keep) && t.checkpointDir.empty()) {
      std::fprintf(stderr, "error: --save-every and --keep need --checkpoint-dir DIR\n");
      return false;
    }
    if (!t.checkpointDir.empty() && !t.saveEvery) {
      std::fprintf(stderr, "error: --checkpoint-dir needs --save-every K\n");
      return false;
    }
  }
  return !bad;
}
