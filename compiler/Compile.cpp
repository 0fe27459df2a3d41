//===- Compile.cpp - the tessera-compile driver ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"
#include "compiler/CostModel.h"
#include "compiler/Registration.h"
#include "compiler/PackageWriter.h"
#include "compiler/Pipelines.h"

#include "frontends/onnx/OnnxImporter.h"
#include "passes/partition/Partition.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Emit { None, Tsr, TsrFused, Partitioned, Plan };

/// One mesh the compiler considers: its degrees, its search result (or why
/// it was ruled out) and the per-replica module the plan refers to.
struct MeshCandidate {
  int64_t dp = 1, tp = 1;
  std::string ruledOut;
  OwningOpRef<ModuleOp> module;
  std::optional<tessera::partition::ShardingPlan> plan;
};

/// The lowered program as text: tensors, kernels, the memory plan.
void printPlan(const tessera::lower::ProgramPlan &plan, llvm::raw_ostream &os) {
  static const char *kinds[] = {"arena", "weight", "constant"};
  os << "program: " << plan.tensors.size() << " tensors, " << plan.kernels.size()
     << " kernels, arena " << plan.arenaBytes << " bytes (" << plan.unplannedBytes
     << " unplanned)\n";
  auto name = [&](uint32_t id) {
    const auto &t = plan.tensors[id];
    std::string s = "%" + std::to_string(id);
    if (!t.name.empty())
      s += "(" + t.name + ")";
    return s;
  };
  for (auto [i, t] : llvm::enumerate(plan.tensors)) {
    if (t.kind != tessera::lower::PlannedTensor::Kind::Arena || t.aliasOf >= 0)
      continue;
    os << "  tensor " << name(uint32_t(i)) << " " << kinds[int(t.kind)] << " ["
       << t.offset << ", " << t.offset + t.size << ")\n";
  }
  for (const auto &k : plan.kernels) {
    os << "  kernel " << k.op << "(";
    llvm::interleaveComma(k.inputs, os, [&](uint32_t id) { os << name(id); });
    os << ") -> ";
    llvm::interleaveComma(k.outputs, os, [&](uint32_t id) { os << name(id); });
    for (const auto &a : k.attrs) {
      os << " " << a.name << "=[";
      llvm::interleaveComma(a.ints, os);
      llvm::interleaveComma(a.floats, os);
      os << "]";
    }
    os << "\n";
  }
  os << "  outputs: ";
  llvm::interleaveComma(plan.outputs, os, [&](uint32_t id) { os << name(id); });
  os << "\n";
}

/// Parses "4x128" into dims.
bool parseDims(llvm::StringRef text, std::vector<int64_t> &dims) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, 'x');
  for (llvm::StringRef part : parts) {
    int64_t v;
    if (part.getAsInteger(10, v) || v < 0)
      return false;
    dims.push_back(v);
  }
  return !dims.empty() || text.empty();
}

/// Writes `print`'s text to `path` ("-" is stdout); returns the exit code.
int writeText(const std::string &path,
              llvm::function_ref<void(llvm::raw_ostream &)> print) {
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out) {
    llvm::errs() << "error: " << error << "\n";
    return 1;
  }
  print(out->os());
  out->keep();
  return 0;
}

/// Prints diagnostics as "error: message", naming the node where the
/// location carries one and the message does not already.
void printDiagnostic(Diagnostic &diag) {
  llvm::raw_ostream &os = llvm::errs();
  switch (diag.getSeverity()) {
  case DiagnosticSeverity::Error: os << "error: "; break;
  case DiagnosticSeverity::Warning: os << "warning: "; break;
  case DiagnosticSeverity::Note: os << "note: "; break;
  case DiagnosticSeverity::Remark: os << "remark: "; break;
  }
  std::string message = diag.str();
  if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
    if (!llvm::StringRef(message).starts_with("node '"))
      os << "node '" << name.getName().str() << "': ";
  os << message << "\n";
  for (Diagnostic &note : diag.getNotes())
    os << "note: " << note.str() << "\n";
}

} // namespace

int tessera::compileMain(int argc, char **argv) {
  static cl::opt<std::string> input(cl::Positional,
                                    cl::desc("<model.onnx | tsr.mlir>"),
                                    cl::Required);
  static cl::list<std::string> inputShapes(
      "input-shape", cl::desc("shape of a graph input: NAME=4x128"),
      cl::value_desc("NAME=DxD..."));
  static cl::list<std::string> dims(
      "dim", cl::desc("value of a symbolic dimension: NAME=4"),
      cl::value_desc("NAME=N"));
  static cl::opt<int64_t> batch("batch",
                                cl::desc("value of symbolic first dimensions"),
                                cl::init(-1));
  static cl::opt<int64_t> seq("seq",
                              cl::desc("value of symbolic second dimensions"),
                              cl::init(-1));
  static cl::opt<Emit> emit(
      "emit", cl::desc("what to write"), cl::init(Emit::None),
      cl::values(clEnumValN(Emit::Tsr, "tsr", "the imported tsr IR"),
                 clEnumValN(Emit::TsrFused, "tsr-fused",
                            "the tsr IR after the graph pipeline"),
                 clEnumValN(Emit::Partitioned, "partitioned",
                            "the SPMD tsr IR of one rank (--rank), with its "
                            "shard collectives"),
                 clEnumValN(Emit::Plan, "plan",
                            "the lowered kernels and memory plan")));
  static cl::opt<std::string> weights(
      "weights",
      cl::desc("where packages keep weights: 'embedded' (copied in, the "
               "default) or 'external' (references into the model's files)"),
      cl::init("embedded"));
  static cl::opt<std::string> mesh(
      "mesh", cl::desc("fixed device mesh: dp=2,tp=4 (data parallel over the "
                       "first dimension of inputs and outputs; tensor parallel "
                       "inside layers, weights split tp ways)"),
      cl::init(""));
  static cl::opt<int64_t> devices(
      "devices", cl::desc("plan for N devices: the compiler chooses dp x tp"),
      cl::init(0));
  static cl::opt<std::string> cluster(
      "cluster", cl::desc("cluster the plan is made for: a preset (cpu, "
                          "a100-nvlink-8, h100-nvlink-8, h100-ib-N) or a JSON "
                          "file (docs/cluster-spec.md)"),
      cl::init("cpu"));
  static cl::opt<std::string> objective(
      "objective", cl::desc("latency (time of one batch, the default) or "
                            "throughput (samples per second)"),
      cl::init("latency"));
  static cl::list<std::string> hints(
      "shard", cl::desc("fix a weight's layout on the tp axis: NAME=R|S0|S1..."),
      cl::value_desc("NAME=LAYOUT"));
  static cl::opt<int64_t> emitRank(
      "rank", cl::desc("the rank --emit=partitioned prints"), cl::init(0));
  static cl::opt<bool> planOnly(
      "plan-only", cl::desc("plan a model whose weight files are absent; the "
                            "package can be inspected, not run"),
      cl::init(false));
  static cl::opt<std::string> output("o", cl::desc("output file"),
                                     cl::value_desc("file"), cl::init("-"));
  cl::ParseCommandLineOptions(argc, argv,
                              "Tessera compiler: ONNX model -> tsr IR\n");

  onnx::ImportOptions options;
  for (const std::string &spec : inputShapes) {
    auto [name, shape] = llvm::StringRef(spec).split('=');
    std::vector<int64_t> values;
    if (name.empty() || !parseDims(shape, values)) {
      llvm::errs() << "error: --input-shape '" << spec
                   << "' is not NAME=DxD... (e.g. input_ids=4x128)\n";
      return 2;
    }
    options.inputShapes[name.str()] = values;
  }
  for (const std::string &spec : dims) {
    auto [name, value] = llvm::StringRef(spec).split('=');
    int64_t v;
    if (name.empty() || value.getAsInteger(10, v) || v < 0) {
      llvm::errs() << "error: --dim '" << spec << "' is not NAME=N\n";
      return 2;
    }
    options.dims[name.str()] = v;
  }
  if (weights != "embedded" && weights != "external") {
    llvm::errs() << "error: --weights must be 'embedded' or 'external', not '"
                 << weights << "'\n";
    return 2;
  }
  if (batch >= 0)
    options.batch = batch;
  if (seq >= 0)
    options.seq = seq;
  if (emit == Emit::None && output == "-") {
    llvm::errs() << "error: give the package file with -o model.tpkg, or "
                    "print IR with --emit=tsr / --emit=tsr-fused\n";
    return 2;
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.getDiagEngine().registerHandler(
      [](Diagnostic &diag) { printDiagnostic(diag); });

  // A .mlir input is tsr IR (tests, hand-written programs): no weight store.
  std::unique_ptr<onnx::ModelFile> model;
  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(input).ends_with(".mlir")) {
    model = std::make_unique<onnx::ModelFile>();
    module = parseSourceFile<ModuleOp>(std::string(input), &context);
  } else {
    auto opened = onnx::ModelFile::open(input, planOnly);
    if (!opened) {
      llvm::errs() << "error: " << llvm::toString(opened.takeError()) << "\n";
      return 1;
    }
    model = std::move(*opened);
    module = onnx::importModel(context, *model, options);
  }
  if (!module)
    return 1;

  if (emit != Emit::Tsr) {
    PassManager pm(&context);
    buildGraphPipeline(pm, GraphPipelineOptions());
    if (failed(pm.run(*module)))
      return 1;
  }

  if (emit == Emit::Tsr || emit == Emit::TsrFused)
    return writeText(output, [&](llvm::raw_ostream &os) {
      module->print(os);
      os << "\n";
    });

  // The meshes to consider: the one given, every dp x tp of --devices, or one
  // device.
  std::vector<std::pair<int64_t, int64_t>> meshes;
  if (!mesh.empty() && devices > 0) {
    llvm::errs() << "error: give --mesh or --devices, not both\n";
    return 2;
  }
  if (!mesh.empty()) {
    int64_t dp = 1, tp = 1;
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(mesh).split(parts, ',');
    for (llvm::StringRef part : parts) {
      auto [axis, size] = part.split('=');
      int64_t v;
      if (size.getAsInteger(10, v) || v < 1 || (axis != "dp" && axis != "tp")) {
        llvm::errs() << "error: --mesh '" << mesh << "': expected dp=N,tp=M"
                     << (axis == "pp" ? " (pipeline parallelism is not implemented yet)" : "")
                     << "\n";
        return 2;
      }
      (axis == "dp" ? dp : tp) = v;
    }
    meshes.push_back({dp, tp});
  } else if (devices > 0) {
    for (int64_t tp = 1; tp <= devices; ++tp)
      if (devices % tp == 0)
        meshes.push_back({devices / tp, tp});
  } else {
    meshes.push_back({1, 1});
  }
  if (objective != "latency" && objective != "throughput") {
    llvm::errs() << "error: --objective must be latency or throughput\n";
    return 2;
  }
  std::map<std::string, std::string> hintMap;
  for (const std::string &h : hints) {
    auto [name, layout] = llvm::StringRef(h).split('=');
    if (name.empty() || layout.empty()) {
      llvm::errs() << "error: --shard '" << h << "' is not NAME=LAYOUT\n";
      return 2;
    }
    hintMap[name.str()] = layout.str();
  }
  llvm::Expected<ClusterSpec> spec =
      llvm::StringRef(cluster).ends_with(".json")
          ? [&]() -> llvm::Expected<ClusterSpec> {
              auto buffer = llvm::MemoryBuffer::getFile(cluster);
              if (!buffer)
                return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                               "cannot read '" + cluster + "'");
              return ClusterSpec::fromJSON((*buffer)->getBuffer());
            }()
          : ClusterSpec::preset(cluster);
  if (!spec) {
    llvm::errs() << "error: --cluster: " << llvm::toString(spec.takeError()) << "\n";
    return 2;
  }
  CostModel cost(*spec);
  bool isMlir = llvm::StringRef(input).ends_with(".mlir");

  // Each candidate: the replica's graph (re-imported at batch / dp), the
  // fused-projection split, and the tp search.
  auto global = module->lookupSymbol<func::FuncOp>("main");
  std::vector<MeshCandidate> candidates;
  for (auto [dp, tp] : meshes) {
    MeshCandidate c;
    c.dp = dp;
    c.tp = tp;
    if (dp * tp > spec->devices() && devices > 0)
      c.ruledOut = "more ranks than the cluster's " + std::to_string(spec->devices()) + " devices";
    if (c.ruledOut.empty() && dp > 1) {
      if (isMlir) {
        llvm::errs() << "error: dp > 1 needs an ONNX model\n";
        return 2;
      }
      onnx::ImportOptions local = options;
      for (auto [i, type] : llvm::enumerate(global.getArgumentTypes())) {
        auto shape = cast<RankedTensorType>(type).getShape();
        auto name = global.getArgAttrOfType<StringAttr>(i, "tsr.name");
        if (shape.empty() || shape[0] % dp) {
          llvm::raw_string_ostream os(c.ruledOut);
          os << "input '" << (name ? name.str() : "?") << "' " << type
             << " does not split " << dp << " ways along its first dimension";
          break;
        }
        SmallVector<int64_t> sliced(shape);
        sliced[0] /= dp;
        local.inputShapes[name.str()] = {sliced.begin(), sliced.end()};
      }
      if (c.ruledOut.empty()) {
        c.module = onnx::importModel(context, *model, local);
        if (!c.module)
          return 1;
        PassManager pm(&context);
        buildGraphPipeline(pm, GraphPipelineOptions());
        if (failed(pm.run(*c.module)))
          return 1;
        auto rankFunc = c.module->lookupSymbol<func::FuncOp>("main");
        for (auto [g, l] : llvm::zip(global.getResultTypes(), rankFunc.getResultTypes())) {
          auto gs = cast<RankedTensorType>(g).getShape(), ls = cast<RankedTensorType>(l).getShape();
          if (gs.empty() || gs[0] != ls[0] * dp || gs.drop_front() != ls.drop_front()) {
            llvm::raw_string_ostream os(c.ruledOut);
            os << "output " << g << " is not the batch-wise concatenation of the ranks' "
               << l << "; the model is not data-parallel along dimension 0";
          }
        }
      }
    } else if (c.ruledOut.empty()) {
      c.module = OwningOpRef<ModuleOp>(cast<ModuleOp>((*module)->clone()));
    }
    if (c.ruledOut.empty()) {
      auto func = c.module->lookupSymbol<func::FuncOp>("main");
      if (tp > 1)
        partition::splitFusedProjections(func);
      partition::PartitionOptions po;
      po.dp = dp;
      po.tp = tp;
      po.hints = hintMap;
      po.memoryCap = spec->device.memoryBytes * 0.9;
      // Search failures are reported as the candidate's reason, not printed.
      ScopedDiagnosticHandler quiet(&context, [&](Diagnostic &d) {
        c.ruledOut = d.str();
        return success();
      });
      FailureOr<partition::ShardingPlan> plan = partition::searchSharding(func, cost, po);
      if (succeeded(plan))
        c.plan = std::move(*plan);
      else if (c.ruledOut.empty())
        c.ruledOut = "no plan";
    }
    if (devices > 0) {
      llvm::errs() << "tessera-compile: mesh dp=" << dp << " tp=" << tp << ": ";
      if (c.plan)
        llvm::errs() << llvm::format("predicted %.4f ms (compute %.4f, communication %.4f), "
                                     "weights %.1f MiB per rank, search %.2f s\n",
                                     c.plan->totalSeconds() * 1e3, c.plan->computeSeconds * 1e3,
                                     c.plan->commSeconds * 1e3,
                                     c.plan->weightBytesPerRank / 1048576.0,
                                     c.plan->searchSeconds);
      else
        llvm::errs() << "ruled out: " << c.ruledOut << "\n";
    }
    candidates.push_back(std::move(c));
  }
  // Throughput for a fixed global batch is batch / time: the same order as
  // latency until pipelines trade one for the other.
  MeshCandidate *best = nullptr;
  for (MeshCandidate &c : candidates)
    if (c.plan && (!best || c.plan->totalSeconds() < best->plan->totalSeconds() - 1e-15))
      best = &c;
  if (!best) {
    for (MeshCandidate &c : candidates)
      llvm::errs() << "error: mesh dp=" << c.dp << " tp=" << c.tp << ": " << c.ruledOut << "\n";
    return 1;
  }
  const partition::ShardingPlan &plan = *best->plan;
  auto replica = best->module->lookupSymbol<func::FuncOp>("main");
  if (plan.dp * plan.tp > 1 || devices > 0)
  llvm::errs() << llvm::format(
      "tessera-compile: mesh dp=%lld x tp=%lld on %s: predicted %.4f ms per batch "
      "(compute %.4f ms, communication %.4f ms), weights %.2f MiB per rank; "
      "search %.3f s over %u ops (%u variables)\n",
      (long long)plan.dp, (long long)plan.tp, spec->name.c_str(), plan.totalSeconds() * 1e3,
      plan.computeSeconds * 1e3, plan.commSeconds * 1e3, plan.weightBytesPerRank / 1048576.0,
      plan.searchSeconds, plan.ops, plan.variables);

  int64_t ranks = plan.dp * plan.tp;
  if (emit == Emit::Partitioned) {
    if (emitRank < 0 || emitRank >= ranks) {
      llvm::errs() << "error: --rank " << emitRank << " is not a rank of the "
                   << ranks << "-rank mesh\n";
      return 2;
    }
    OwningOpRef<ModuleOp> spmd =
        partition::partitionForRank(replica, plan, emitRank % plan.tp);
    if (failed(verify(*spmd)))
      return 1;
    return writeText(output, [&](llvm::raw_ostream &os) {
      os << "// rank " << emitRank << " of mesh dp=" << plan.dp << " x tp=" << plan.tp << "\n";
      spmd->print(os);
      os << "\n";
    });
  }

  std::vector<lower::ProgramPlan> programs;
  std::vector<OwningOpRef<ModuleOp>> spmd;
  for (int64_t t = 0; t < plan.tp; ++t) {
    spmd.push_back(partition::partitionForRank(replica, plan, t));
    if (failed(verify(*spmd.back())))
      return 1;
  }
  for (int64_t r = 0; r < ranks; ++r) {
    auto func = spmd[size_t(r % plan.tp)]->lookupSymbol<func::FuncOp>("main");
    FailureOr<lower::ProgramPlan> program = lower::planProgram(func, r);
    if (failed(program))
      return 1;
    if (plan.dp > 1) {
      for (uint32_t id : program->inputs)
        program->tensors[id].splitAxis = 0;
      for (uint32_t id : program->outputs)
        program->tensors[id].splitAxis = 0;
    }
    programs.push_back(std::move(*program));
  }
  if (emit == Emit::Plan)
    return writeText(output, [&](llvm::raw_ostream &os) { printPlan(programs[size_t(emitRank)], os); });
  llvm::Expected<PackageStats> stats = writePackage(
      output, programs,
      plan.tp > 1 ? std::vector<unsigned>{unsigned(plan.dp), unsigned(plan.tp)}
                  : std::vector<unsigned>{unsigned(plan.dp)},
      *model,
      "tessera-compile from " + std::string(input), /*progress=*/true,
      weights == "external");
  if (!stats) {
    llvm::errs() << "error: " << llvm::toString(stats.takeError()) << "\n";
    return 1;
  }
  llvm::errs() << "tessera-compile: wrote " << output << " (" << stats->fileBytes
               << " bytes: " << stats->kernels << " kernels in " << ranks << " rank(s), "
               << stats->weightBytes << " weight bytes; activation arena "
               << stats->arenaBytes << " bytes per rank, "
               << programs[0].unplannedBytes << " without memory planning)"
               << (planOnly ? "; plan only, weights absent" : "") << "\n";
  return 0;
}
