//===- CompileOptions.cpp - validating a compile's options ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileOptions.h"
#include "compiler/Generation.h"
#include "passes/partition/MeshSearch.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

using namespace tessera;
using Emit = CompileOptions::Emit;

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "error: " << message << "\n";
  return 2;
}

/// The input, target and mode options.
int checkModes(CompileOptions &o) {
  for (const std::string &spec : o.inputShapes) {
    auto [name, shape] = llvm::StringRef(spec).split('=');
    std::vector<int64_t> values;
    if (name.empty() || !parseDims(shape.str(), values))
      return fail("--input-shape '" + spec + "' is not NAME=DxD... (e.g. input_ids=4x128)");
  }
  for (const std::string &spec : o.dims) {
    auto [name, value] = llvm::StringRef(spec).split('=');
    int64_t v;
    if (name.empty() || value.getAsInteger(10, v) || v < 0)
      return fail("--dim '" + spec + "' is not NAME=N");
  }
  if (o.weights != "embedded" && o.weights != "external")
    return fail("--weights must be 'embedded' or 'external', not '" + o.weights + "'");
  if (o.emit == Emit::Cuda)
    o.target = "cuda";
  if (o.target != "cpu" && o.target != "cuda")
    return fail("--target must be 'cpu' or 'cuda', not '" + o.target + "'");
  if (o.dtype != "fp32" && o.dtype != "bf16" && o.dtype != "fp16")
    return fail("--dtype must be fp32, bf16 or fp16, not '" + o.dtype + "'");
  if (o.dtype != "fp32" && o.target != "cuda")
    return fail("--dtype " + o.dtype + " needs --target=cuda: the CPU backend computes in fp32");
  if (o.generate) {
    // The decode step comes from the forward pass over the whole cache.
    if (o.maxSeq < 2)
      return fail("--generate needs --max-seq N (N >= 2): the positions the KV cache holds, "
                  "prompt and new tokens together");
    if (o.seq >= 0 && o.seq != o.maxSeq)
      return fail("--generate sets the sequence to --max-seq; drop --seq");
    if (o.train)
      return fail("give --generate or --train, not both");
    if (o.target != "cpu")
      return fail("--generate runs on the CPU backend for now (--target=cpu)");
    o.seq = o.maxSeq;
    if (o.batch < 0)
      o.batch = 1;
    std::vector<int64_t> lengths;
    std::string error;
    if (!parsePrefillLengths(o.prefill, o.maxSeq, lengths, error))
      return fail(error);
    if (o.promptProgram && llvm::find(lengths, o.promptProgram) == lengths.end())
      return fail("--prompt-program " + std::to_string(o.promptProgram) +
                  " is not a prompt length of --prefill '" + o.prefill + "'");
    if (o.promptProgram && !o.printPipeline && o.emit != Emit::Tsr &&
        o.emit != Emit::Partitioned)
      return fail("--prompt-program shows a prompt program's IR: with --emit=tsr, "
                  "--emit=partitioned or --print-pipeline");
  } else if (o.maxSeq) {
    return fail("--max-seq needs --generate");
  } else if (o.promptProgram) {
    return fail("--prompt-program needs --generate");
  }
  int64_t seed;
  if (o.train && o.dropoutSeed != "off" && llvm::StringRef(o.dropoutSeed).getAsInteger(10, seed))
    return fail("--dropout-seed '" + o.dropoutSeed + "' is not an integer or off");
  if (o.emit == Emit::None && o.output == "-" && !o.printPipeline)
    return fail("give the package file with -o model.tpkg, or print IR with --emit=tsr / "
                "--emit=tsr-fused");
  if (!o.untie.empty() && !o.train)
    return fail("--untie needs --train");
  if (o.verify && (o.planOnly || o.emit != Emit::None))
    return fail("--verify runs the packages: not with --plan-only (no weights) or --emit (no "
                "package)");
  if (o.train) {
    double beta1, beta2;
    if (!parseBetas(o.betas, beta1, beta2))
      return fail("--betas '" + o.betas + "' is not B1,B2 with 0 <= B < 1");
    if (o.target != "cpu")
      return fail("--train runs on the CPU backend for now (--target=cpu)");
  } else if (o.emit == Emit::TsrTrain) {
    return fail("--emit=tsr-train needs --train");
  }
  if (!o.generate && o.emit == Emit::TsrDecode)
    return fail("--emit=tsr-decode needs --generate");
  return 0;
}

/// The partitioning options.
int checkPlan(const CompileOptions &o) {
  if (!o.mesh.empty() && o.devices > 0)
    return fail("give --mesh or --devices, not both");
  if (!o.mesh.empty())
    if (llvm::Expected<MeshShape> shape = parseMesh(o.mesh); !shape)
      return fail(llvm::toString(shape.takeError()));
  if (o.objective != "latency" && o.objective != "throughput")
    return fail("--objective must be latency or throughput");
  if (o.pipelineSplit != "balanced" && o.pipelineSplit != "even")
    return fail("--pipeline-split must be balanced or even");
  if (!o.recompute.empty() && o.recompute != "none" && o.recompute != "selective" &&
      o.recompute != "full")
    return fail("--recompute must be none, selective or full");
  if (!o.recompute.empty() && !o.train)
    return fail("--recompute is for training (--train)");
  if (o.microbatchSize < 0 || (o.microbatchSize > 0 && o.microbatches > 0))
    return fail("--microbatch-size must be at least 1, without --microbatches");
  if (o.gradBucketMb < 0)
    return fail("--grad-bucket-mb must be 0 or more");
  int64_t stage = -1;
  if (o.zero != "auto" &&
      (llvm::StringRef(o.zero).getAsInteger(10, stage) || stage < 0 || stage > 3))
    return fail("--zero must be 0, 1, 2, 3 or auto, not '" + o.zero + "'");
  if (stage != 0 && !o.train)
    return fail("--zero is for training (--train)");
  if (o.microbatches < 0)
    return fail("--microbatches must be at least 1");
  for (const std::string &h : o.shardHints) {
    auto [name, layout] = llvm::StringRef(h).split('=');
    if (name.empty() || layout.empty())
      return fail("--shard '" + h + "' is not NAME=LAYOUT");
  }
  return 0;
}

} // namespace

bool tessera::parseDims(const std::string &text, std::vector<int64_t> &dims) {
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(text).split(parts, 'x');
  for (llvm::StringRef part : parts) {
    int64_t v;
    if (part.getAsInteger(10, v) || v < 0)
      return false;
    dims.push_back(v);
  }
  return !dims.empty() || text.empty();
}

bool tessera::parseBetas(const std::string &text, double &beta1, double &beta2) {
  auto [b1, b2] = llvm::StringRef(text).split(',');
  return !b1.trim().getAsDouble(beta1) && !b2.trim().getAsDouble(beta2) && beta1 >= 0 &&
         beta1 < 1 && beta2 >= 0 && beta2 < 1;
}

int tessera::checkCompileOptions(CompileOptions &o) {
  if (int code = checkModes(o))
    return code;
  return checkPlan(o);
}

CompileOptions tessera::referenceOptions(const CompileOptions &o, const std::string &output,
                                         int64_t batch, int64_t maxSeq) {
  CompileOptions r = o;
  // What shapes the plan, the target or the output goes; the model, its
  // shapes and the training step stay.
  CompileOptions defaults;
  r.mesh = defaults.mesh;
  r.devices = defaults.devices;
  r.cluster = defaults.cluster;
  r.clusterGiven = false;
  r.microbatches = defaults.microbatches;
  r.microbatchSize = defaults.microbatchSize;
  r.zero = defaults.zero;
  r.shardHints.clear();
  r.pipelineSplit = defaults.pipelineSplit;
  r.objective = defaults.objective;
  r.recompute = defaults.recompute;
  r.gradBucketMb = defaults.gradBucketMb;
  r.target = defaults.target;
  r.dtype = defaults.dtype;
  r.emit = defaults.emit;
  r.cudaArchs = defaults.cudaArchs;
  r.rank = defaults.rank;
  r.verifyRtol = defaults.verifyRtol;
  r.verifyAtol = defaults.verifyAtol;
  r.weights = defaults.weights;
  r.verify = r.explain = r.noGemmEpilogues = r.noAttentionViews = false;
  if (o.generate) {
    // The forward pass over the whole cache.
    r.generate = false;
    r.maxSeq = defaults.maxSeq;
    r.prefill = defaults.prefill;
    r.idsInput = defaults.idsInput;
    r.maskInput = defaults.maskInput;
    r.positionIdsInput = defaults.positionIdsInput;
    r.batch = batch;
    r.seq = maxSeq;
  }
  r.noGraphFusion = true;
  r.output = output;
  return r;
}
