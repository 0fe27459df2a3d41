//===- tessera-inspect.cpp - what a package holds and will do -------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
//   tessera-inspect model.tpkg [--json] [--tensor NAME]
//
// The mesh, pipeline stages (their ranks and the first and last layer they
// run) and micro-batches, the compiler's predicted time split into compute,
// communication and pipeline bubble, and per rank: inputs and outputs (with
// their split), parameter bytes, the activation arena (the memory plan's
// peak), FLOPs of the matrix products and attention, bytes each collective
// kind and each stage send moves per batch, and the kernels by op.
// --tensor NAME shows which rank holds which block of a weight; --html writes
// the same as a self-contained page with pictures (HtmlReport.h). --json
// prints the same as a versioned JSON object (schema "tessera-inspect/1";
// fields are only ever added).
//
// Works from the package alone: no MLIR, no model files.
//
//===----------------------------------------------------------------------===//

#include "HtmlReport.h"
#include "PlanNames.h"
#include "Summary.h"

#include "tessera/runtime/Package.h"
#include "tessera/runtime/tpkg_generated.h"

#include "tools/ToolArgs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace tessera;

namespace {

/// Predicted against measured time per op kind, from a profile written by
/// `tessera-run --profile-json` (one kernel a line).
int compareProfile(const tpkg::Package &plan, const std::string &path) {
  std::FILE *f = std::fopen(path.c_str(), "r");
  if (!f) {
    std::fprintf(stderr, "error: cannot read profile '%s'\n", path.c_str());
    return 1;
  }
  struct Row {
    double predicted = 0, measured = 0;
    int kernels = 0;
  };
  std::map<std::string, Row> byOp;
  std::vector<double> logErrors;
  char line[4096];
  int matched = 0;
  while (std::fgets(line, sizeof(line), f)) {
    int rank = -1;
    size_t kernel = 0;
    double seconds = 0;
    const char *r = std::strstr(line, "\"rank\": "), *k = std::strstr(line, "\"kernel\": "),
               *sec = std::strstr(line, "\"seconds\": ");
    if (!r || !k || !sec)
      continue;
    rank = std::atoi(r + 8);
    kernel = size_t(std::atoll(k + 10));
    seconds = std::atof(sec + 11);
    const tpkg::Program *program = nullptr;
    for (const tpkg::Program *p : *plan.programs())
      if (int(p->rank()) == rank && (!p->role() || p->role()->str().empty()))
        program = p;
    if (!program || !program->kernels() || kernel >= program->kernels()->size()) {
      std::fprintf(stderr, "error: %s: kernel %zu of rank %d is not in this package\n",
                   path.c_str(), kernel, rank);
      std::fclose(f);
      return 1;
    }
    const tpkg::Kernel *kp = program->kernels()->Get(uint32_t(kernel));
    Row &row = byOp[kp->op()->str()];
    row.predicted += kp->predicted_seconds();
    row.measured += seconds;
    ++row.kernels;
    ++matched;
    if (kp->predicted_seconds() > 0 && seconds > 0)
      logErrors.push_back(std::fabs(std::log(kp->predicted_seconds() / seconds)));
  }
  std::fclose(f);
  if (!matched) {
    std::fprintf(stderr, "error: %s: no kernel times (write one with tessera-run --profile-json)\n",
                 path.c_str());
    return 1;
  }
  const tpkg::Prediction *p = plan.prediction();
  std::printf("predicted (%s) against measured, per op, summed over the profiled ranks:\n",
              p && p->cluster() ? p->cluster()->c_str() : "no cluster");
  std::printf("%-16s %8s %14s %14s %10s\n", "op", "kernels", "predicted ms", "measured ms",
              "measured/predicted");
  double predicted = 0, measured = 0;
  for (const auto &[op, row] : byOp) {
    std::printf("%-16s %8d %14.4f %14.4f %10.2f\n", op.c_str(), row.kernels, row.predicted * 1e3,
                row.measured * 1e3, row.predicted > 0 ? row.measured / row.predicted : 0.0);
    predicted += row.predicted;
    measured += row.measured;
  }
  std::sort(logErrors.begin(), logErrors.end());
  double median = logErrors.empty() ? 0 : logErrors[logErrors.size() / 2];
  std::printf("%-16s %8d %14.4f %14.4f %10.2f\n", "total", matched, predicted * 1e3,
              measured * 1e3, predicted > 0 ? measured / predicted : 0.0);
  std::printf("cost model error: total %+.0f%%, median per kernel x%.2f\n",
              predicted > 0 ? 100.0 * (predicted - measured) / measured : 0.0, std::exp(median));
  return 0;
}

} // namespace

/// Ranks as ranges: "0-7,64-71,... (64)".
std::string formatRanks(const std::vector<int> &ids) {
  std::string members;
  int shown = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1)
      ++j;
    if (shown++ == 4) {
      members += ",...";
      break;
    }
    members += (members.empty() ? "" : ",") + std::to_string(ids[i]) +
               (j > i ? "-" + std::to_string(ids[j]) : "");
    i = j + 1;
  }
  if (shown > 4)
    members += " (" + std::to_string(ids.size()) + ")";
  return members;
}

/// --target=cuda packages: the modules, the architectures they were built
/// for, and (with `all`) every generated kernel with its launch.
void printCuda(const tpkg::Package &plan, bool all) {
  if (!plan.target() || plan.target()->str() != "cuda" || !plan.cuda_modules()) {
    if (all)
      std::printf("no CUDA kernels: the package was compiled for the CPU "
                  "(tessera-compile --target=cuda makes them)\n");
    return;
  }
  std::string dtype = "fp32";
  if (plan.programs() && plan.programs()->size())
    for (const tpkg::Tensor *t : *plan.programs()->Get(0)->tensors())
      if (t->dtype() == tpkg::DType::BF16 || t->dtype() == tpkg::DType::F16)
        dtype = t->dtype() == tpkg::DType::BF16 ? "bf16" : "fp16";
  std::printf("target: cuda, %s, %u module(s)\n", dtype.c_str(), plan.cuda_modules()->size());
  for (uint32_t m = 0; m < plan.cuda_modules()->size(); ++m) {
    const tpkg::CudaModule *module = plan.cuda_modules()->Get(m);
    std::vector<int> users;
    for (const tpkg::Program *p : *plan.programs())
      if (p->cuda_module() == int(m))
        users.push_back(int(p->rank()));
    std::string archs;
    if (module->images())
      for (const tpkg::CudaImage *image : *module->images())
        archs += (archs.empty() ? "" : ", ") + image->arch()->str() +
                 (image->ptx() ? " PTX " : " cubin ") +
                 std::to_string(image->data() ? image->data()->size() : 0) + " B";
    std::printf("  module %u: %u kernels, source %zu B, built for %s; ranks %s\n", m,
                module->functions() ? module->functions()->size() : 0,
                module->source() ? size_t(module->source()->size()) : size_t(0),
                archs.empty() ? "no architecture (source only: JIT on the GPU host)"
                              : archs.c_str(),
                formatRanks(users).c_str());
  }
  if (!all)
    return;
  // Every generated function once, with its op, launch and uses in rank 0.
  const tpkg::Program *p0 = plan.programs()->Get(0);
  if (!p0->cuda_launches())
    return;
  std::map<std::string, std::tuple<std::string, std::string, int>> byFn;
  std::vector<std::string> order;
  std::map<std::string, int> library;
  for (uint32_t k = 0; k < p0->cuda_launches()->size(); ++k) {
    const tpkg::CudaLaunch *l = p0->cuda_launches()->Get(k);
    std::string op = p0->kernels()->Get(k)->op()->str();
    if (l->kind() != tpkg::LaunchKind::Generated) {
      const char *kinds[] = {"generated", "cuBLASLt GEMM", "collective", "copy/view"};
      ++library[std::string(kinds[int(l->kind()) & 3]) + " (" + op + ")"];
      continue;
    }
    std::string fn = l->function()->str();
    if (!byFn.count(fn)) {
      order.push_back(fn);
      char launch[96];
      std::snprintf(launch, sizeof launch, "grid %ux%ux%u block %u", l->grid()->Get(0),
                    l->grid()->Get(1), l->grid()->Get(2), l->block());
      byFn[fn] = {op, launch, 0};
    }
    ++std::get<2>(byFn[fn]);
  }
  std::printf("kernels of rank 0 (module %d):\n", p0->cuda_module());
  for (const std::string &fn : order) {
    auto &[op, launch, uses] = byFn[fn];
    std::printf("  %-40s %-12s %-28s x%d\n", fn.c_str(), op.c_str(), launch.c_str(), uses);
  }
  for (const auto &[what, n] : library)
    std::printf("  %-40s x%d\n", what.c_str(), n);
}

namespace {

/// --tensor: which rank holds which block of weight `tensorName`.
int printTensorBlocks(const tpkg::Package *plan, const std::string &tensorName,
                      const std::string &path) {
  int found = 0;
  for (const tpkg::Program *p : *plan->programs())
    for (const tpkg::Tensor *t : *p->tensors()) {
      if (!t->name() || t->storage() == tpkg::Storage::Arena)
        continue;
      WeightName w = parseWeightName(t->name()->str());
      if (w.weight != tensorName)
        continue;
      const std::vector<int64_t> &start = w.offsets;
      std::string block;
      for (size_t d = 0; t->shape() && d < t->shape()->size(); ++d) {
        int64_t b = d < start.size() ? start[d] : 0;
        block += (d ? ", " : "") + std::to_string(b) + ":" +
                 std::to_string(b + t->shape()->Get(uint32_t(d)));
      }
      std::printf("rank %u (stage %u): %s [%s]%s\n", p->rank(), p->stage(),
                  describe(t).c_str(), block.c_str(),
                  start.empty() ? " (whole)" : "");
      ++found;
      break; // one entry per rank
    }
  if (!found) {
    std::fprintf(stderr, "error: no weight named '%s' in %s\n", tensorName.c_str(),
                 path.c_str());
    return 1;
  }
  return 0;
}

/// The package's mesh, pipeline stages, prediction, inputs and outputs.
void printOverview(const tpkg::Package *plan, const std::string &path,
                   const std::vector<RankSummary> &ranks) {
  std::vector<unsigned> mesh;
  if (plan->mesh())
    mesh.assign(plan->mesh()->begin(), plan->mesh()->end());
  unsigned stages = std::max(1u, plan->stages()), micro = std::max(1u, plan->microbatches());
  const tpkg::Prediction *predicted = plan->prediction();
  std::printf("package %s (format %u, %s)\n", path.c_str(), rt::kPackageFormatVersion,
              plan->producer() ? plan->producer()->c_str() : "");
  std::printf("mesh: [");
  for (size_t i = 0; i < mesh.size(); ++i)
    std::printf("%s%u", i ? ", " : "", mesh[i]);
  std::printf("] (%zu rank%s)\n", ranks.size(), ranks.size() == 1 ? "" : "s");
  if (stages > 1 || micro > 1) {
    std::printf("pipeline: %u stage%s, %u micro-batch%s per replica\n", stages,
                stages == 1 ? "" : "s", micro, micro == 1 ? "" : "es");
    for (unsigned st = 0; st < stages; ++st) {
      std::string members, first, last;
      double seconds = 0;
      std::vector<int> ids;
      for (const RankSummary &r : ranks)
        if (r.stage == st) {
          ids.push_back(r.rank);
          if (first.empty())
            first = r.firstLayer;
          last = r.lastLayer;
          seconds = r.predictedSeconds;
        }
      members = formatRanks(ids);
      std::printf("  stage %u: ranks %s, layers %s..%s, %.4f ms per micro-batch\n", st,
                  members.c_str(), first.empty() ? "-" : first.c_str(),
                  last.empty() ? "-" : last.c_str(), seconds * 1e3);
    }
  }
  if (predicted)
    std::printf("predicted on %s (%s): %.4f ms per batch = compute %.4f + communication "
                "%.4f + pipeline bubble %.4f\n",
                predicted->cluster() ? predicted->cluster()->c_str() : "?",
                predicted->objective() ? predicted->objective()->c_str() : "?",
                predicted->batch_seconds() * 1e3, predicted->compute_seconds() * 1e3,
                predicted->communication_seconds() * 1e3, predicted->bubble_seconds() * 1e3);
  if (!ranks.empty()) {
    std::printf("inputs:\n");
    for (const std::string &s : ranks[0].inputs)
      std::printf("  %s\n", s.c_str());
    std::printf("outputs:\n");
    const RankSummary *last = &ranks[0]; // graph outputs leave the last stage
    for (const RankSummary &r : ranks)
      if (r.stage + 1 == stages) {
        last = &r;
        break;
      }
    for (const std::string &s : last->outputs)
      std::printf("  %s\n", s.c_str());
  }
}

/// One row per rank; past a screenful, ranks with identical figures share a
/// row ("0-7,16-23 (16)") unless `allRanks` asks for every one.
void printRankTable(const std::vector<RankSummary> &ranks, bool allRanks) {
  bool traffic = false;
  for (const RankSummary &r : ranks)
    traffic |= !r.traffic.empty();
  std::printf("%-5s %16s %16s %14s %8s", "rank", "parameters (B)", "activations (B)",
              "GFLOP", "kernels");
  if (traffic)
    std::printf(" %14s %14s %14s %14s", "all-reduce (B)", "all-gather (B)",
                "red-scatter (B)", "sent (B)");
  std::printf("\n");
  // One row per rank; past a screenful, ranks with identical figures share a
  // row ("0-7,16-23 (16)") unless --all-ranks asks for every one.
  std::vector<std::string> rowText;
  for (const RankSummary &r : ranks) {
    int kernels = 0;
    for (const auto &[op, n] : r.kernels)
      kernels += n;
    char row[256];
    int at = std::snprintf(row, sizeof row, " %16llu %16llu %14.3f %8d",
                           (unsigned long long)r.parameterBytes,
                           (unsigned long long)r.arenaBytes, r.flops / 1e9, kernels);
    auto get = [&](const char *k) {
      auto it = r.traffic.find(k);
      return it == r.traffic.end() ? 0.0 : it->second;
    };
    if (traffic)
      std::snprintf(row + at, sizeof row - size_t(at), " %14.0f %14.0f %14.0f %14.0f",
                    get("all_reduce"), get("all_gather"), get("reduce_scatter"), get("send"));
    rowText.push_back(row);
  }
  std::vector<std::pair<std::string, std::vector<int>>> rows; // figures, ranks
  bool group = ranks.size() > 8 && !allRanks;
  for (size_t i = 0; i < ranks.size(); ++i) {
    auto same = std::find_if(rows.begin(), rows.end(),
                             [&](const auto &row) { return row.first == rowText[i]; });
    if (group && same != rows.end())
      same->second.push_back(ranks[i].rank);
    else
      rows.push_back({rowText[i], {ranks[i].rank}});
  }
  for (const auto &[text, ids] : rows)
    std::printf("%-5s%s\n", formatRanks(ids).c_str(), text.c_str());
  if (group && rows.size() < ranks.size())
    std::printf("(%zu ranks in %zu group%s of identical figures; --all-ranks lists each)\n",
                ranks.size(), rows.size(), rows.size() == 1 ? "" : "s");
}

/// A generation package's cache and prefill programs, a training step's
/// state, rank 0's kernels.
void printStateSummary(const tpkg::Package *plan, const std::vector<RankSummary> &ranks,
                       const std::vector<const tpkg::Program *> &prefills) {
  if (!ranks.empty() && ranks[0].stateUpdates > 0 && plan->generation()) {
    std::printf("generation: one decode step per run (batch %u, KV cache of %u positions); "
                "of rank 0's parameters, %llu bytes are the KV cache (%d tensors)\n",
                plan->generation()->batch(), plan->generation()->max_seq(),
                (unsigned long long)ranks[0].optimizerBytes, ranks[0].stateUpdates);
    size_t everyRank = 0; // ranks with prompt programs (rank 0's are shown)
    for (const tpkg::Program *p : prefills)
      everyRank = std::max<size_t>(everyRank, size_t(p->rank()) + 1);
    for (const tpkg::Program *p : prefills) {
      if (p->rank() != 0)
        continue;
      // GEMMs that take their bias, activation or residual as an epilogue.
      unsigned epilogues = 0;
      if (p->kernels())
        for (const tpkg::Kernel *k : *p->kernels())
          if (k->attrs())
            for (const tpkg::Attr *a : *k->attrs())
              epilogues += a->name() && a->name()->str() == "epilogue";
      std::printf("  %s program: %u kernels (%u GEMM epilogues), activation arena %llu bytes "
                  "(the prompt in one run%s)\n",
                  p->role()->c_str(), p->kernels() ? p->kernels()->size() : 0u, epilogues,
                  (unsigned long long)p->arena_bytes(),
                  everyRank > 1 ? ", rank 0's; every rank runs its own" : "");
    }
  } else if (!ranks.empty() && ranks[0].stateUpdates > 0) {
    std::printf("training step: %d tensors updated per step; of rank 0's parameters, %llu bytes "
                "are optimizer state (moments, step)\n",
                ranks[0].stateUpdates, (unsigned long long)ranks[0].optimizerBytes);
    for (const tpkg::Program *p : prefills)
      if (p->rank() == 0 && p->role() && p->role()->str() == "eval")
        std::printf("  validation program (rank 0's): %u kernels, activation arena %llu bytes "
                    "(the step's forward and loss; reads the step's weights and arena in "
                    "place)\n",
                    p->kernels() ? p->kernels()->size() : 0u,
                    (unsigned long long)p->arena_bytes());
  }
  if (!ranks.empty()) {
    std::printf("kernels of rank 0:");
    for (const auto &[op, n] : ranks[0].kernels)
      std::printf(" %s x%d", op.c_str(), n);
    std::printf("\n");
  }
}

} // namespace

int main(int argc, char **argv) {
  std::string path, tensorName, htmlPath, tracePath, profilePath, lossLog;
  bool json = false, kernels = false, allRanks = false;
  const char *usage =
      "usage: tessera-inspect model.tpkg [options]\n"
      "       tessera-inspect --loss-log loss.csv --html curves.html\n"
      "  Shows a compiled package: mesh, pipeline stages, prediction, inputs and\n"
      "  outputs, and per rank its parameters, activation arena, FLOPs, kernels and\n"
      "  collective traffic (ranks with identical figures share a row past 8 ranks).\n\n"
      "options:\n"
      "  --json                 the same as JSON (schema tessera-inspect/1), one entry per rank\n"
      "  --all-ranks            one row per rank however many there are\n"
      "  --tensor NAME          which rank holds which block of weight NAME\n"
      "  --html FILE            an HTML report (--trace FILE adds a tessera-run trace)\n"
      "  --trace FILE           with --html: a Chrome trace written by tessera-run --trace\n"
      "  --profile FILE         predicted against measured time per op (tessera-run --profile-json)\n"
      "  --loss-log FILE        with --html: a training run's curves (tessera-run --loss-log)\n"
      "  --kernels              the generated CUDA modules and kernels (--target=cuda)\n"
      "  --help, --version\n";
  std::vector<std::string> args = tools::expandArgs(argc, argv);
  if (auto code = tools::helpOrVersion(args, "tessera-inspect", usage, rt::kPackageFormatVersion))
    return *code;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "error: %s needs a value: %s FILE-or-NAME\n", a.c_str(), a.c_str());
        return false;
      }
      out = args[++i];
      return true;
    };
    if (a == "--json")
      json = true;
    else if (a == "--kernels")
      kernels = true;
    else if (a == "--all-ranks")
      allRanks = true;
    else if (a == "--tensor" || a == "--html" || a == "--trace" || a == "--profile" ||
             a == "--loss-log") {
      std::string &out = a == "--tensor"    ? tensorName
                         : a == "--html"    ? htmlPath
                         : a == "--trace"   ? tracePath
                         : a == "--loss-log" ? lossLog
                                             : profilePath;
      if (!value(out))
        return 2;
    } else if (!a.empty() && a[0] != '-' && path.empty())
      path = a;
    else {
      std::fprintf(stderr, "error: %s '%s' (tessera-inspect --help lists the options)\n",
                   a[0] == '-' ? "unknown option" : "unexpected argument", a.c_str());
      return 2;
    }
  }
  if (!lossLog.empty()) {
    // A training run's curves: no package needed.
    if (htmlPath.empty() || !path.empty()) {
      std::fprintf(stderr, "error: --loss-log takes --html FILE and no package: "
                           "tessera-inspect --loss-log loss.csv --html curves.html\n");
      return 2;
    }
    if (rt::Status s = writeLossCurves(lossLog, htmlPath); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("wrote %s\n", htmlPath.c_str());
    return 0;
  }
  if (path.empty()) {
    std::fprintf(stderr, "error: no package given\n%s", usage);
    return 2;
  }
  std::shared_ptr<rt::Package> package;
  if (rt::Status s = rt::Package::open(path, package); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  const tpkg::Package *plan = package->plan();
  if (kernels) {
    printCuda(*plan, true);
    return 0;
  }
  if (!htmlPath.empty()) {
    if (rt::Status s = writeHtmlReport(*package, path, htmlPath, tracePath); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("wrote %s\n", htmlPath.c_str());
    return 0;
  }
  if (!profilePath.empty())
    return compareProfile(*plan, profilePath);
  std::vector<const tpkg::Program *> prefills; // generation: beside the decode step
  std::vector<RankSummary> ranks = summarizeRanks(*plan, &prefills);

  if (!tensorName.empty())
    return printTensorBlocks(plan, tensorName, path);

  if (json) {
    std::fputs(inspectJson(*package, path).c_str(), stdout);
    return 0;
  }

  printOverview(plan, path, ranks);
  printRankTable(ranks, allRanks);
  printStateSummary(plan, ranks, prefills);
  printCuda(*plan, false);
  return 0;
}
