//===- MeshSearch.cpp - choosing dp x tp x pp and micro-batches -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/MeshSearch.h"

#include "passes/partition/BatchSplit.h"
#include "passes/partition/TrainStages.h"

#include "passes/partition/Passes.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace tessera;

llvm::Expected<MeshShape> tessera::parseMesh(llvm::StringRef text) {
  MeshShape shape;
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ',');
  for (llvm::StringRef part : parts) {
    auto [axis, size] = part.split('=');
    int64_t v;
    if (size.getAsInteger(10, v) || v < 1 || (axis != "dp" && axis != "tp" && axis != "pp"))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "--mesh '" + text.str() + "': expected dp=N,tp=M,pp=K");
    (axis == "dp" ? shape.dp : axis == "tp" ? shape.tp : shape.pp) = v;
  }
  return shape;
}

std::vector<MeshShape> tessera::enumerateMeshes(int64_t devices) {
  std::vector<MeshShape> meshes;
  for (int64_t tp = 1; tp <= devices; ++tp)
    for (int64_t pp = 1; tp * pp <= devices; ++pp)
      if (devices % (tp * pp) == 0 && (pp == 1 || tp <= 8))
        meshes.push_back({devices / (tp * pp), tp, pp});
  return meshes;
}

double tessera::peakValueBytes(func::FuncOp func, const partition::ShardingPlan &plan) {
  Block &body = func.getBody().front();
  llvm::DenseMap<Value, size_t> lastUse;
  size_t index = 0;
  for (Operation &op : body) {
    for (Value v : op.getOperands())
      lastUse[v] = index;
    ++index;
  }
  llvm::DenseMap<Value, double> bytes;
  double live = 0, peak = 0;
  auto add = [&](Value v, double b) {
    bytes[v] = b;
    live += b;
  };
  for (BlockArgument arg : body.getArguments())
    if (lastUse.count(arg))
      add(arg, bytesOf(arg));
  peak = live;
  index = 0;
  for (Operation &op : body) {
    if (!isa<tsr::WeightOp>(op)) {
      auto chosen = plan.chosen.find(&op);
      for (auto [i, result] : llvm::enumerate(op.getResults())) {
        if (!lastUse.count(result))
          continue; // nothing reads it (a later pass drops it)
        double b = bytesOf(result);
        if (chosen != plan.chosen.end() && i < chosen->second.results.size() &&
            chosen->second.results[i] >= 0)
          b /= double(plan.tp);
        add(result, b);
      }
      peak = std::max(peak, live);
    }
    if (!isa<func::ReturnOp>(op))
      for (Value v : op.getOperands())
        if (auto it = bytes.find(v); it != bytes.end() && lastUse.lookup(v) == index) {
          live -= it->second;
          bytes.erase(it); // an operand read twice is freed once
        }
    ++index;
  }
  return peak;
}

double MeshCandidate::weightBytesPerRank() const {
  if (shardedStateBytes >= 0)
    return shardedStateBytes;
  return pp > 1 ? *std::max_element(stages.weightBytes.begin(), stages.weightBytes.end())
                : plan->weightBytesPerRank;
}

MeshSearch::MeshSearch(ModuleOp global, const ClusterSpec &cluster, MeshSearchOptions options)
    : global_(global), cluster_(cluster), cost_(cluster_), options_(std::move(options)),
      memoryCap_(cluster.memoryCap()) {
  auto main = global_.lookupSymbol<func::FuncOp>("main");
  for (Type t : main.getArgumentTypes())
    if (auto shape = cast<RankedTensorType>(t).getShape(); !shape.empty())
      globalBatch_ = globalBatch_ < 0 ? shape[0] : std::min(globalBatch_, shape[0]);
}

MeshSearch::Replica &MeshSearch::replicaFor(int64_t parts, int64_t tp, int64_t accumulate) {
  auto [it, fresh] = replicas_.try_emplace({parts, tp > 1, accumulate});
  Replica &r = it->second;
  if (!fresh)
    return r;
  // A replica computes batch / parts samples: the function's batch split in
  // tsr (tsr-partition-split-batch), whatever the exporter fixed in the file.
  MLIRContext *context = global_.getContext();
  r.module = OwningOpRef<ModuleOp>(cast<ModuleOp>(global_->clone()));
  // Fused QKV projections split into one weight view each (head-aligned
  // blocks); a training step updates each weight as one tensor, so it keeps
  // them fused.
  if (tp > 1 && !options_.training && !options_.evaluation)
    partition::splitFusedProjections(r.module->lookupSymbol<func::FuncOp>("main"));
  // (A pipelined training step, accumulate 0, marks its sums even whole.)
  if (parts == 1 && accumulate != 0)
    return r;
  ScopedDiagnosticHandler capture(context, [&](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Error)
      return success();
    if (!r.error.empty())
      r.error += "; ";
    if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
      r.error += "node '" + name.getName().str() + "': ";
    r.error += diag.str();
    return success();
  });
  PassManager pm(context);
  partition::SplitBatchPassOptions split;
  split.parts = parts;
  split.reduceOverBatch = options_.training || options_.evaluation;
  pm.addNestedPass<func::FuncOp>(partition::createSplitBatchPass(split));
  if (accumulate > 1) {
    partition::AccumulatePassOptions accumulation;
    accumulation.microbatches = accumulate;
    accumulation.replicaSums = parts > accumulate;
    pm.addNestedPass<func::FuncOp>(partition::createAccumulatePass(accumulation));
  }
  if (failed(pm.run(*r.module))) {
    if (r.error.empty())
      r.error = "the batch does not split " + std::to_string(parts) + " ways";
    r.module = nullptr;
  }
  return r;
}

MeshSearch::Search &MeshSearch::searchFor(int64_t parts, int64_t tp, bool pipelined,
                                          int64_t accumulate, ModuleOp replica) {
  auto [it, fresh] = searches_.try_emplace({parts, tp, pipelined, accumulate});
  Search &result = it->second;
  if (!fresh)
    return result;
  auto func = replica.lookupSymbol<func::FuncOp>("main");
  partition::PartitionOptions po;
  po.tp = tp;
  po.hints = options_.hints;
  // A pipelined replica spreads its weights over its stages; the slicer
  // holds each stage to one device.
  po.memoryCap = pipelined ? std::numeric_limits<double>::infinity() : memoryCap_;
  ScopedDiagnosticHandler quiet(replica.getContext(), [&](Diagnostic &d) {
    result.error = d.str();
    return success();
  });
  FailureOr<partition::ShardingPlan> plan = partition::searchSharding(func, cost_, po);
  if (succeeded(plan))
    result.plan = std::move(*plan);
  else if (result.error.empty())
    result.error = "no plan";
  return result;
}

namespace {

/// ZeRO on one planned candidate: the stages to try (the one given, or with
/// --zero auto every stage when the replicas can share their state), and the
/// weight and optimizer-state bytes a rank holds at each: its plan's, less
/// the replicas' shares of the optimizer state (stage 1 on) and of the
/// parameters (stage 3) it no longer keeps.
struct ZeroShares {
  std::vector<int64_t> stages;
  double weightBytes = 0, optState = 0, params = 0;
  int64_t dp = 1;
  bool training = false;

  ZeroShares(MeshCandidate &c, int64_t given, bool training)
      : weightBytes(c.plan->weightBytesPerRank), dp(c.dp), training(training) {
    stages = {given};
    if (given < 0)
      stages = training && dp > 1 ? std::vector<int64_t>{0, 1, 2, 3}
                                  : std::vector<int64_t>{0};
    c.replica.walk([&](tsr::WeightOp w) {
      (w.getZeros() ? optState : params) += c.plan->opWeightBytes.lookup(w);
    });
  }
  bool sharded(int64_t z) const { return training && z > 0 && dp > 1; }
  double held(int64_t z) const {
    if (!sharded(z))
      return weightBytes;
    double others = 1 - 1.0 / double(dp);
    return weightBytes - optState * others - (z >= 3 ? params * others : 0.0);
  }
};

} // namespace

/// A mesh without pipelines: the replicas' gradient sums, the activations,
/// and the ZeRO stage (given, or the fastest that fits).
void MeshSearch::evaluateUnpipelined(MeshCandidate &c) {
  // Training: the replicas sum their gradients (tsr.replica_sum), one
  // all-reduce each over the dp ranks, which span nodes when the mesh does.
  c.gradientSeconds = 0;
  if (c.dp > 1)
    c.replica.walk([&](tsr::ReplicaSumOp op) {
      c.gradientSeconds += cost_.collectiveSeconds(
          Collective::AllReduce, bytesOf(op.getResult()), int(c.dp),
          cluster_.spansNodes(c.dp, c.tp));
    });
  if (options_.training)
    c.activationBytes = peakValueBytes(c.replica.lookupSymbol<func::FuncOp>("main"), *c.plan);
  // ZeRO: the optimizer state (stage 1 on), the parameters (stage 3) a
  // block per replica; the new weights gathered each step (stage 3:
  // gathered before the forward and the backward pass). Given, or (--zero
  // auto) the fastest stage that fits.
  ZeroShares zero(c, options_.zero, options_.training);
  const double sums = c.gradientSeconds;
  bool chosen = false;
  double held = 0;
  for (int64_t z : zero.stages) {
    double h = zero.held(z), gather = 0;
    if (zero.sharded(z))
      gather = double(z >= 3 ? 2 : 1) *
               cost_.collectiveSeconds(
                   Collective::AllGather, zero.params, int(c.dp),
                   cluster_.spansNodes(c.dp, c.tp));
    bool fits = h + c.activationBytes <= memoryCap_;
    double seconds = c.plan->totalSeconds() + sums + gather;
    // The first stage tried, then any faster one that fits (while none
    // fits, the one that needs least).
    if (!chosen || (fits && (c.overMemory || seconds < c.seconds)) ||
        (!fits && c.overMemory && h < held)) {
      chosen = true;
      held = h;
      c.zero = z;
      c.overMemory = !fits;
      c.seconds = seconds;
      c.gradientSeconds = sums + gather;
      c.shardedStateBytes = zero.sharded(z) ? h : -1;
    }
  }

  if (c.overMemory)
    c.ruledOut =
        options_.training
            ? llvm::formatv("weights and optimizer state need {0:f1} MiB and activations "
                            "and gradients {1:f1} MiB per rank, over the cap of {2:f1} MiB",
                            held / 1048576.0, c.activationBytes / 1048576.0,
                            memoryCap_ / 1048576.0)
                  .str()
            : "weights need " +
                  std::to_string(int64_t(c.plan->weightBytesPerRank / 1048576)) +
                  " MiB per rank";
}

/// A training pipeline: each stage's backward pass and share of the
/// optimizer, the activations kept per micro-batch in flight, and the
/// (ZeRO stage, recomputation) that is fastest and fits. False (ruled out)
/// when none fits.
bool MeshSearch::evaluateTrainingPipeline(MeshCandidate &c, func::FuncOp func,
                                          size_t forwardEnd) {
  // Each stage's backward pass and its share of the optimizer in the
  // proportion of the whole step to its forward pass. Activations: one
  // micro-batch's working set, and what each of the other micro-batches
  // in flight keeps for its backward pass (1F1B keeps at most pp): every
  // forward value the backward pass reads (none), only products - matmul,
  // attention - (selective), or the stage's input (full, which computes
  // the forward pass again: time for memory).
  double forward = 0, forwardOther = 0, kept = 0, keptProducts = 0;
  size_t i = 0;
  llvm::DenseSet<Operation *> forwardOps;
  for (Operation &op : func.getBody().front().without_terminator()) {
    if (i++ >= forwardEnd)
      break;
    forwardOps.insert(&op);
    double t = c.plan->opSeconds.lookup(&op);
    forward += t;
    if (!isa<tsr::MatmulOp, tsr::AttentionOp>(op))
      forwardOther += t;
  }
  for (Operation *op : forwardOps)
    for (Value r : op->getResults()) {
      bool readBack = llvm::any_of(r.getUsers(), [&](Operation *u) {
        return !forwardOps.contains(u) && !isa<func::ReturnOp>(u);
      });
      if (!readBack || isa<tsr::WeightOp, tsr::ConstantOp>(op))
        continue;
      double bytes = bytesOf(r) / double(c.tp);
      kept += bytes;
      if (isa<tsr::MatmulOp, tsr::AttentionOp>(op))
        keptProducts += bytes;
    }
  double stageInput = 0; // the most a stage receives (full recomputation keeps it)
  for (double bytes : c.stages.sendBytes)
    stageInput = std::max(stageInput, bytes / double(c.tp));
  // Per micro-batch: the forward and backward passes; once per step: the
  // optimizer (each stage its own weights', at once) and the replicas'
  // sums of each stage's gradients (an all-reduce over dp, each stage's at
  // once, across nodes when the replica spans them).
  double perMicroBatch = 0;
  FailureOr<partition::MicroBatchPhases> phases = partition::microBatchPhases(func);
  if (succeeded(phases))
    for (Operation &op : func.getBody().front().without_terminator())
      if (phases->kind[&op] == partition::MicroBatchPhases::Kind::PerPart)
        perMicroBatch += c.plan->opSeconds.lookup(&op);
  double once = std::max(0.0, c.plan->totalSeconds() - perMicroBatch) / double(c.pp);
  if (c.dp > 1)
    c.replica.walk([&](tsr::ReplicaSumOp op) {
      once += cost_.collectiveSeconds(Collective::AllReduce, bytesOf(op.getResult()) /
                                                                 double(c.tp * c.pp),
                                      int(c.dp), cluster_.spansNodes(c.dp, c.tp * c.pp));
    });
  c.gradientSeconds = once;
  double scale = forward > 0 && perMicroBatch > 0 ? perMicroBatch / forward : 3.0;
  double working = peakValueBytes(func, *c.plan) / double(c.pp);
  double inFlight = double(std::min(c.m, c.pp) - 1);
  std::vector<std::string> choices = {"none", "selective", "full"};
  if (!options_.recompute.empty())
    choices = {options_.recompute};
  // Weights and optimizer state per rank by ZeRO stage (given, or with
  // --zero auto each stage tried): a stage's share; the parameters
  // gathered over dp once per step (1, 2) or before each pass (3).
  ZeroShares zero(c, options_.zero, /*training=*/true);
  // The fastest (ZeRO stage, recomputation) that fits; while none fits,
  // the one that needs least.
  bool chosen = false;
  double bestSeconds = 0, bestBytes = 0, bestExtra = 0, bestGather = 0,
         state = 0;
  for (int64_t z : zero.stages) {
    double held = zero.held(z) / double(c.pp);
    double gather =
        !zero.sharded(z)
            ? 0.0
            : double(z >= 3 ? 2 * c.m : 1) *
                  cost_.collectiveSeconds(
                      Collective::AllGather, zero.params / double(c.pp),
                      int(c.dp), cluster_.spansNodes(c.dp, c.tp * c.pp));
    for (const std::string &choice : choices) {
      double extra = choice == "full" ? 1.0
                     : choice == "selective"
                         ? (forward > 0 ? forwardOther / forward : 0)
                         : 0.0;
      double perMicroBatch = choice == "full" ? stageInput
                             : choice == "selective"
                                 ? keptProducts / double(c.pp)
                                 : kept / double(c.pp);
      double bytes = working + inFlight * perMicroBatch;
      bool fits = held + bytes <= memoryCap_;
      double seconds =
          double(c.m + c.pp - 1) * c.stages.stepSeconds * (scale + extra) +
          gather;
      if (!chosen || (fits && (c.overMemory || seconds < bestSeconds)) ||
          (!fits && c.overMemory && held + bytes < state + bestBytes)) {
        chosen = true;
        c.overMemory = !fits;
        c.recompute = choice;
        c.zero = z;
        state = held;
        bestSeconds = seconds;
        bestBytes = bytes;
        bestExtra = extra;
        bestGather = gather;
      }
    }
  }
  c.activationBytes = bestBytes;
  c.gradientSeconds += bestGather;
  if (c.overMemory) {
    c.ruledOut = llvm::formatv("weights and optimizer state need {0:f1} MiB and "
                               "activations {1:f1} MiB per rank (recomputation {2}), over "
                               "the cap of {3:f1} MiB",
                               state / 1048576.0, c.activationBytes / 1048576.0,
                               c.recompute, memoryCap_ / 1048576.0)
                     .str();
    return false;
  }
  c.stages.stepSeconds *= scale + bestExtra;
  for (double &t : c.stages.stageSeconds)
    t *= scale + bestExtra;
  return true;
}

void MeshSearch::evaluate(MeshCandidate &c) {
  if (options_.limitToCluster && c.dp * c.tp * c.pp > cluster_.devices())
    c.ruledOut = "more ranks than the cluster's " + std::to_string(cluster_.devices()) +
                 " devices (--cluster names another)";
  // Training without pipelines: micro-batches accumulate their gradients
  // within the step.
  int64_t accumulate = !options_.training ? 1 : c.pp == 1 ? c.m : 0;
  if (c.ruledOut.empty() && options_.training && c.pp > 1 && c.dp * c.m == 1)
    c.ruledOut = "a training pipeline of one micro-batch keeps every stage but one idle "
                 "(give --microbatches 2 or more)";
  if (c.ruledOut.empty()) {
    Replica &replica = replicaFor(c.dp * c.m, c.tp, accumulate);
    c.replica = replica.module ? *replica.module : nullptr;
    c.ruledOut = replica.error;
  }
  if (c.ruledOut.empty() && options_.training) {
    // Before searching: the weights and optimizer state split as finely as
    // the mesh can (tp x pp ways, and dp with ZeRO) must fit.
    double params = 0, state = 0;
    llvm::StringSet<> seen;
    c.replica.walk([&](tsr::WeightOp w) {
      if (!w.getOffsets() && seen.insert(w.getName()).second)
        (w.getZeros() ? state : params) += bytesOf(w.getResult());
    });
    double ways = double(c.tp * c.pp);
    int64_t most =
        options_.zero < 0 ? 3 : options_.zero; // the most sharding allowed
    double least = params / (most >= 3 ? ways * double(c.dp) : ways) +
                   state / (most >= 1 ? ways * double(c.dp) : ways);
    if (least > memoryCap_)
      c.ruledOut = llvm::formatv("weights and optimizer state need at least {0:f1} MiB per "
                                 "rank, over the cap of {1:f1} MiB",
                                 least / 1048576.0, memoryCap_ / 1048576.0)
                       .str();
  }
  if (c.ruledOut.empty()) {
    Search &found = searchFor(c.dp * c.m, c.tp, c.pp > 1, accumulate, c.replica);
    c.plan = found.plan ? &*found.plan : nullptr;
    c.ruledOut = found.error;
  }
  if (!c.ruledOut.empty())
    return;
  if (c.pp == 1)
    return evaluateUnpipelined(c);
  std::string why;
  auto func = c.replica.lookupSymbol<func::FuncOp>("main");
  // A training step is cut in its forward pass; the backward pass and the
  // optimizer follow their stages (tsr-partition-cut-train-stages).
  size_t forwardEnd = SIZE_MAX;
  if (options_.training) {
    ScopedDiagnosticHandler quiet(func.getContext(), [&](Diagnostic &d) {
      why = d.str();
      return success();
    });
    FailureOr<size_t> end = partition::trainingForwardEnd(func);
    if (failed(end)) {
      c.ruledOut = why;
      return;
    }
    forwardEnd = *end;
  }
  FailureOr<partition::PipelineStages> stages = partition::sliceStages(
      func, *c.plan, c.pp, cost_, memoryCap_, why, options_.evenStages, forwardEnd);
  if (failed(stages)) {
    c.ruledOut = why;
    return;
  }
  c.stages = *stages;
  if (options_.training && !evaluateTrainingPipeline(c, func, forwardEnd))
    return;
  // GPipe fill-drain (and 1F1B): a batch takes m + pp - 1 steps of the
  // slowest stage; batches streamed back to back leave one every m steps.
  c.seconds = double(options_.throughput ? c.m : c.m + c.pp - 1) * c.stages.stepSeconds +
              (options_.training ? c.gradientSeconds : 0.0);
}

const MeshCandidate *MeshSearch::run(llvm::raw_ostream &log) {
  candidates_.clear();
  for (const MeshShape &mesh : options_.meshes) {
    // With pipelines, every micro-batch count that divides the replica's
    // batch unless --microbatches fixes it.
    std::vector<int64_t> counts;
    if (mesh.pp == 1)
      counts = {options_.training && options_.microbatches > 0 ? options_.microbatches : 1};
    else if (options_.microbatches > 0)
      counts = {options_.microbatches};
    else if (options_.microbatchSize > 0 && globalBatch_ > 0)
      counts = {std::max<int64_t>(1, globalBatch_ / mesh.dp / options_.microbatchSize)};
    else
      for (int64_t m = 1; globalBatch_ > 0 && m <= globalBatch_ / mesh.dp; ++m)
        if ((globalBatch_ / mesh.dp) % m == 0)
          counts.push_back(m);
    if (counts.empty())
      counts = {1};
    // Training without pipelines, micro-batches not given: one, and more only
    // while the step's activations do not fit (gradient accumulation trades
    // smaller GEMMs for memory).
    bool accumulateToFit = options_.training && mesh.pp == 1 && options_.microbatches == 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      int64_t m = counts[i];
      MeshCandidate c;
      c.dp = mesh.dp;
      c.tp = mesh.tp;
      c.pp = mesh.pp;
      c.m = m;
      evaluate(c);
      if (accumulateToFit && c.overMemory && c.activationBytes > 0 && globalBatch_ > 0)
        for (int64_t more = m + 1; more <= globalBatch_ / mesh.dp; ++more)
          if ((globalBatch_ / mesh.dp) % more == 0) {
            counts.push_back(more);
            break;
          }
      if (options_.limitToCluster || options_.meshes.size() > 1 || counts.size() > 1) {
        log << "tessera-compile: mesh dp=" << c.dp << " tp=" << c.tp;
        if (c.pp > 1)
          log << " pp=" << c.pp << " microbatches=" << m;
        else if (m > 1)
          log << " microbatches=" << m << " (accumulated)";
        log << ": ";
        if (c.ruledOut.empty()) {
          log << llvm::format("predicted %.4f ms", c.seconds * 1e3);
          if (c.pp > 1)
            log << llvm::format(" (bubble %.0f%%%s%s)",
                                100.0 * double(c.pp - 1) / double(m + c.pp - 1),
                                options_.training ? ", recomputation " : "",
                                options_.training ? c.recompute.c_str() : "");
          else
            log << llvm::format(" (compute %.4f, communication %.4f)",
                                c.plan->computeSeconds * 1e3,
                                (c.plan->commSeconds + c.gradientSeconds) * 1e3);
          log << llvm::format(", weights %.1f MiB per rank", c.weightBytesPerRank() / 1048576.0);
          if (options_.training)
            log << llvm::format(", activations and gradients %.1f MiB",
                                c.activationBytes / 1048576.0);
          if (options_.training && c.dp > 1 && c.zero > 0)
            log << ", ZeRO-" << c.zero;
          log << "\n";
        } else {
          log << "ruled out: " << c.ruledOut << "\n";
        }
      }
      candidates_.push_back(std::move(c));
    }
  }
  // Latency: the time of one batch. Throughput: the time per batch when
  // batches stream back to back (pipelines overlap them).
  const MeshCandidate *best = nullptr;
  for (const MeshCandidate &c : candidates_)
    if (c.ruledOut.empty() && (!best || c.seconds < best->seconds - 1e-15))
      best = &c;
  return best;
}

void MeshSearch::printRuledOut(llvm::raw_ostream &os) const {
  for (const MeshCandidate &c : candidates_)
    if (!c.ruledOut.empty())
      os << "error: mesh dp=" << c.dp << " tp=" << c.tp
         << (c.pp > 1 ? " pp=" + std::to_string(c.pp) : std::string()) << ": " << c.ruledOut
         << "\n";
}

void MeshSearch::explain(llvm::raw_ostream &os, const MeshCandidate &best) const {
  std::vector<const MeshCandidate *> order;
  for (const MeshCandidate &c : candidates_)
    if (c.ruledOut.empty())
      order.push_back(&c);
  std::stable_sort(order.begin(), order.end(),
                   [](const MeshCandidate *a, const MeshCandidate *b) {
                     return a->seconds < b->seconds;
                   });
  os << llvm::format("%-6s %-24s %14s %10s %16s", "", "mesh (dp x tp x pp / m)",
                     "predicted ms", "vs chosen", "weights MiB/rank");
  os << (options_.training ? "  activations MiB/rank\n" : "\n");
  for (const MeshCandidate *c : order) {
    std::string meshText = std::to_string(c->dp) + " x " + std::to_string(c->tp) + " x " +
                           std::to_string(c->pp) + " / " + std::to_string(c->m);
    os << llvm::format("%-6s %-24s %14.4f %9.2fx %16.1f", c == &best ? "chosen" : "",
                       meshText.c_str(), c->seconds * 1e3, c->seconds / best.seconds,
                       c->weightBytesPerRank() / 1048576.0);
    if (options_.training)
      os << llvm::format(" %21.1f", c->activationBytes / 1048576.0);
    os << "\n";
  }
  for (const MeshCandidate &c : candidates_)
    if (!c.ruledOut.empty())
      os << "ruled out: " << c.dp << " x " << c.tp << " x " << c.pp << " / " << c.m << ": "
         << c.ruledOut << "\n";
  os << llvm::format("memory cap per device: %.1f MiB of %s (90%% of %s's %.0f GB)\n",
                     memoryCap_ / 1048576.0,
                     options_.training ? "weights, optimizer state, activations and gradients"
                                       : "weights",
                     cluster_.device.name.c_str(),
                     cluster_.device.memoryBytes / 1e9);
}
