//===- CompileLower.cpp - the lower, rewrite and package phases -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// lower: every rank's programs (a pipelined training step: its segments)
// planned from its SPMD module, with the cost model's time per kernel.
// rewrite: the prefill programs beside a decode step, then the plan
// rewrites on every program (GEMM epilogues, attention views, narrowing).
// package: the CUDA images, the prediction, the package file, --verify.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileDriver.h"
#include "tessera/runtime/Roles.h"
#include "dialects/tsr/IR/TsrAttrNames.h"
#include "compiler/CudaTarget.h"
#include "compiler/Generation.h"
#include "compiler/Verify.h"

#include "passes/cost/CostModel.h"
#include "passes/lower/AttentionViews.h"
#include "passes/lower/CudaCodegen.h"
#include "passes/lower/GemmEpilogues.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <set>

using namespace mlir;
using namespace tessera;

namespace {

/// Marks which of `program`'s inputs and outputs the runtime splits over
/// the replicas and micro-batches, and its role in a pipelined step.
void placeProgram(const Compilation &c, func::FuncOp func, int64_t r, int64_t s,
                  lower::ProgramPlan &program) {
  int64_t dp = c.dp, pp = c.pp, m = c.m;
  if (c.trainPipeline) {
    // A segment: the runtime runs it per micro-batch or once per step;
    // the step's inputs are split over replicas and micro-batches, values
    // between segments ("x:N") are not.
    program.role = func->getAttrOfType<StringAttr>(mlir::tsr::kSegmentAttr).str();
    program.predictedSeconds = 0; // its own kernels'
    for (const lower::PlannedKernel &k : program.kernels)
      program.predictedSeconds += k.predictedSeconds;
    program.prefillRank = uint32_t(r); // the rank of a program with a role
    if (dp * m > 1)
      for (auto [i, id] : llvm::enumerate(program.inputs))
        if (auto name = func.getArgAttrOfType<StringAttr>(unsigned(i), mlir::tsr::kNameAttr);
            !name || !roles::isValue(name.getValue().str()))
          program.tensors[id].splitAxis = 0;
  } else if (dp * m > 1) {
    // Graph inputs (first stage) and outputs (last stage) are split over
    // the replicas and micro-batches; values between stages are not.
    if (s == 0)
      for (uint32_t id : program.inputs)
        program.tensors[id].splitAxis = 0;
    if (s == pp - 1) {
      // Results the replicas share (a training step's loss and updated
      // weights) are whole.
      func::FuncOp f = c.stageFunc(c.moduleOf(r), s);
      for (auto [i, id] : llvm::enumerate(program.outputs))
        if (!c.o.train || !f.getResultAttr(unsigned(i), mlir::tsr::kReplicatedAttr))
          program.tensors[id].splitAxis = 0;
    }
  }
  // Training: --tie A=B leaves A out of the program; --export-onnx
  // writes B's trained values there too.
  for (llvm::StringRef tie : c.ties) {
    auto [alias, target] = tie.split('=');
    bool transposed = target.consume_back(".T");
    const tessera::onnx::WeightRecord *a = c.model->weights.find(alias.str());
    const tessera::onnx::WeightRecord *b = c.model->weights.find(target.str());
    if (a && b && a->shape != b->shape)
      transposed = true;
    for (auto [state, value] : program.stateUpdates)
      if (program.tensors[state].weight == target && !program.tensors[state].zeros)
        program.tiedWeights.push_back({alias.str(), state, transposed});
  }
}

/// What a training step holds: weights, optimizer state (zero-initialised
/// weights), and the arena, where activations and gradients live (rank 0's
/// programs: one, or a pipeline stage's segments).
void printTrainingMemory(const Compilation &c) {
  uint64_t weightBytes = 0, stateBytes = 0, arenaBytes = 0;
  size_t updated = 0;
  std::set<std::string> counted;
  for (const lower::ProgramPlan &program : c.programs) {
    if ((c.trainPipeline ? program.prefillRank : uint32_t(&program - &c.programs[0])) != 0)
      continue;
    arenaBytes += program.arenaBytes;
    for (const lower::PlannedTensor &t : program.tensors)
      if (t.kind == lower::PlannedTensor::Kind::Weight && t.aliasOf < 0 &&
          !roles::isAccumulator(t.weight) && counted.insert(t.name).second)
        (t.zeros ? stateBytes : weightBytes) += t.size;
    for (auto [state, value] : program.stateUpdates)
      updated += !roles::isAccumulator(program.tensors[state].weight);
  }
  llvm::errs() << llvm::format("tessera-compile: training step: weights %.2f MiB, optimizer "
                               "state %.2f MiB, activations and gradients %.2f MiB (arena), "
                               "%zu tensors updated per step\n",
                               weightBytes / 1048576.0, stateBytes / 1048576.0,
                               arenaBytes / 1048576.0, updated);
}

/// Splits a batch's predicted time: the busy steps in the slowest stage's
/// compute/communication proportion, the rest pipeline bubble.
PackagePrediction predictionOf(const Compilation &c) {
  const MeshCandidate &best = c.report.best;
  PackagePrediction prediction;
  prediction.cluster = c.report.cluster.name;
  prediction.deviceMemoryBytes = c.report.cluster.device.memoryBytes;
  prediction.sendSeconds = c.pp > 1 ? best.stages.sendSeconds : std::vector<double>{0.0};
  prediction.objective = c.o.objective;
  prediction.batchSeconds = best.seconds;
  const partition::ShardingPlan *slowest = &c.stagePlans[0];
  for (const partition::ShardingPlan &p : c.stagePlans)
    if (p.totalSeconds() > slowest->totalSeconds())
      slowest = &p;
  double busy = c.pp == 1 ? best.seconds : double(c.m) * best.stages.stepSeconds;
  double total =
      std::max(slowest->totalSeconds() + (c.pp == 1 ? best.gradientSeconds : 0.0), 1e-30);
  prediction.computeSeconds = busy * slowest->computeSeconds / total;
  prediction.communicationSeconds = busy - prediction.computeSeconds;
  prediction.bubbleSeconds = best.seconds - busy;
  return prediction;
}

/// The package's summary line.
void printWritten(const Compilation &c, const PackageStats &stats) {
  llvm::errs() << "tessera-compile: wrote " << c.o.output << " (" << stats.fileBytes
               << " bytes: " << stats.kernels << " kernels in " << c.ranks << " rank(s), "
               << stats.weightBytes << " weight bytes; activation arena " << stats.arenaBytes
               << " bytes per rank, " << c.programs[0].unplannedBytes
               << " without memory planning)";
  if (c.o.planOnly) {
    // Only weights whose files are missing are absent; the others are in.
    size_t absent = 0;
    for (const auto &entry : c.model->weights.records())
      absent += entry.second.absent;
    if (absent)
      llvm::errs() << "; plan only, weights absent: " << absent << " of "
                   << c.model->weights.records().size()
                   << " (the package can be inspected, not run)";
    else
      llvm::errs() << "; plan only, but every weight was found: the package runs";
  }
  llvm::errs() << "\n";
}

} // namespace

Step tessera::lowerPhase(Compilation &c) {
  const ClusterSpec &spec = c.report.cluster;
  CostModel cost(spec);
  int64_t dp = c.dp, tp = c.tp, ranks = c.ranks;
  // Each kernel's predicted time, on the rank's local shapes.
  auto costOf = [&](Operation *op) -> double {
    bool across = spec.spansNodes(tp);
    if (auto reduce = dyn_cast<shard::AllReduceOp>(op)) {
      // Over the mesh's first axis: the data-parallel replicas (training).
      bool replicas = reduce.getGridAxes().size() == 1 && reduce.getGridAxes()[0] == 0;
      return cost.collectiveSeconds(Collective::AllReduce, bytesOf(op->getResult(0)),
                                    int(replicas ? dp : tp),
                                    replicas ? spec.spansNodes(dp, ranks / dp) : across);
    }
    if (isa<shard::AllGatherOp>(op))
      return cost.collectiveSeconds(Collective::AllGather, bytesOf(op->getResult(0)), int(tp),
                                    across);
    if (isa<shard::ReduceScatterOp>(op))
      return cost.collectiveSeconds(Collective::ReduceScatter, bytesOf(op->getOperand(0)),
                                    int(tp), across);
    return cost.computeSeconds(workOf(op), computeTypeOf(op));
  };
  for (int64_t r = 0; r < ranks; ++r) {
    int64_t s = (r / tp) % c.pp;
    for (func::FuncOp func : c.stageFuncs(c.moduleOf(r), s)) {
      FailureOr<lower::ProgramPlan> program = lower::planProgram(func, r, costOf);
      if (failed(program))
        return 1;
      program->stage = uint32_t(s);
      program->predictedSeconds = c.stagePlans[size_t(s)].totalSeconds();
      placeProgram(c, func, r, s, *program);
      c.programs.push_back(std::move(*program));
    }
  }
  return std::nullopt;
}

Step tessera::rewritePhase(Compilation &c) {
  const CompileOptions &o = c.o;
  // The prompt programs beside the decode step's: the plan rewrites below
  // (epilogues, attention views) apply to them too.
  if (failed(lowerPrompts(c)))
    return 1;
  if (!o.noGemmEpilogues && !o.noGraphFusion) {
    lower::GemmEpilogueOptions epilogues;
    epilogues.cpu = o.target != "cuda";
    int fused = 0;
    for (lower::ProgramPlan &plan : c.programs)
      fused += lower::fuseGemmEpilogues(plan, epilogues);
    if (fused && o.target == "cuda")
      llvm::errs() << "tessera-compile: " << fused
                   << " GEMM(s) take their bias (and GELU) as a cuBLASLt epilogue\n";
    else if (fused)
      llvm::errs() << "tessera-compile: " << fused
                   << " GEMM(s) take their bias, activation or residual add as an epilogue\n";
  }
  if (!o.noAttentionViews && !o.noGraphFusion) {
    int folded = 0;
    for (lower::ProgramPlan &plan : c.programs)
      folded += lower::foldAttentionViews(plan);
    if (folded)
      llvm::errs() << "tessera-compile: attention reads and writes strided views: " << folded
                   << " transpose/split kernel(s) fewer\n";
  }
  if (o.dtype == "bf16")
    narrowPrograms(c.programs, lower::ElementType::BF16);
  else if (o.dtype == "fp16")
    narrowPrograms(c.programs, lower::ElementType::F16);
  if (o.train && !c.programs.empty())
    printTrainingMemory(c);
  using Emit = CompileOptions::Emit;
  if ((o.emit == Emit::Plan || o.emit == Emit::Cuda) && (o.rank < 0 || o.rank >= c.ranks)) {
    llvm::errs() << "error: --rank " << o.rank << " is not a rank of the " << c.ranks
                 << "-rank mesh\n";
    return 2;
  }
  if (o.emit == Emit::Plan)
    return writeText(o.output, [&](llvm::raw_ostream &os) {
      lower::printPlan(c.programs[size_t(o.rank)], os);
    });
  if (o.emit == Emit::Cuda) {
    lower::CudaModule module;
    std::string error;
    if (!lower::generateCuda(c.programs[size_t(o.rank)], module, error)) {
      llvm::errs() << "error: --target=cuda: " << error << "\n";
      return 1;
    }
    return writeText(o.output, [&](llvm::raw_ostream &os) { os << module.source; });
  }
  return std::nullopt;
}

Step tessera::packagePhase(Compilation &c) {
  const CompileOptions &o = c.o;
  std::optional<PackageCuda> cuda;
  if (o.target == "cuda") {
    std::string error, warning;
    std::vector<std::string> archs;
    for (llvm::StringRef a : llvm::split(o.cudaArchs, ','))
      if (!a.trim().empty())
        archs.push_back(a.trim().str());
    cuda.emplace();
    if (!buildCuda(c.programs, archs, *cuda, error, warning)) {
      llvm::errs() << "error: --target=cuda: " << error << "\n";
      return 1;
    }
    if (!warning.empty())
      llvm::errs() << "warning: " << warning << "\n";
  }
  std::vector<unsigned> meshShape = {unsigned(c.dp)};
  if (c.pp > 1)
    meshShape.push_back(unsigned(c.pp));
  if (c.tp > 1 || c.pp > 1)
    meshShape.push_back(unsigned(c.tp));
  PackagePrediction prediction = predictionOf(c);
  llvm::Expected<PackageStats> stats = writePackage(
      o.output, c.programs, meshShape, *c.model, o.producer + " from " + o.input,
      /*progress=*/true, o.weights == "external", unsigned(c.pp), unsigned(c.m), &prediction,
      cuda ? &*cuda : nullptr, c.generation ? &*c.generation : nullptr);
  if (!stats) {
    llvm::errs() << "error: " << llvm::toString(stats.takeError()) << "\n";
    return 1;
  }
  printWritten(c, *stats);
  if (!o.verify)
    return std::nullopt;
  if (c.generation)
    return verifyGenerationAgainstReference(o, o.output, c.verifyBounds, c.generation->batch,
                                            c.generation->maxSeq);
  return verifyAgainstReference(o, o.output, c.verifyBounds);
}
