//===- Compile.cpp - the tessera-compile driver ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"
#include "compiler/Registration.h"
#include "compiler/PackageWriter.h"
#include "compiler/Pipelines.h"

#include "frontends/onnx/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Emit { None, Tsr, TsrFused, Plan };

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
                 clEnumValN(Emit::Plan, "plan",
                            "the lowered kernels and memory plan")));
  static cl::opt<std::string> weights(
      "weights",
      cl::desc("where packages keep weights: 'embedded' (copied in, the "
               "default) or 'external' (references into the model's files)"),
      cl::init("embedded"));
  static cl::opt<std::string> mesh(
      "mesh", cl::desc("device mesh, e.g. dp=2 (data parallel over the first "
                       "dimension of every input and output)"),
      cl::init(""));
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
    auto opened = onnx::ModelFile::open(input);
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

  // Data parallelism: every rank runs the model on its slice of the batch
  // (the first dimension of every input and output); inference needs no
  // collectives. Tensor and pipeline parallelism are not implemented yet.
  int64_t dp = 1;
  if (!mesh.empty()) {
    auto [axis, size] = llvm::StringRef(mesh).split('=');
    if (axis != "dp" || size.getAsInteger(10, dp) || dp < 1) {
      llvm::errs() << "error: --mesh '" << mesh
                   << "': only data parallelism (dp=N) is implemented yet\n";
      return 2;
    }
  }
  if (dp > 1) {
    if (llvm::StringRef(input).ends_with(".mlir")) {
      llvm::errs() << "error: --mesh needs an ONNX model\n";
      return 2;
    }
    auto global = module->lookupSymbol<func::FuncOp>("main");
    onnx::ImportOptions local = options;
    for (auto [i, type] : llvm::enumerate(global.getArgumentTypes())) {
      auto shape = cast<RankedTensorType>(type).getShape();
      auto name = global.getArgAttrOfType<StringAttr>(i, "tsr.name");
      if (shape.empty() || shape[0] % dp) {
        llvm::errs() << "error: --mesh dp=" << dp << ": input '"
                     << (name ? name.str() : "?") << "' " << type
                     << " does not split " << dp << " ways along its first dimension\n";
        return 1;
      }
      SmallVector<int64_t> sliced(shape);
      sliced[0] /= dp;
      local.inputShapes[name.str()] = {sliced.begin(), sliced.end()};
    }
    OwningOpRef<ModuleOp> rankModule = onnx::importModel(context, *model, local);
    if (!rankModule)
      return 1;
    auto rankFunc = rankModule->lookupSymbol<func::FuncOp>("main");
    for (auto [g, l] : llvm::zip(global.getResultTypes(), rankFunc.getResultTypes())) {
      auto gs = cast<RankedTensorType>(g).getShape(), ls = cast<RankedTensorType>(l).getShape();
      if (gs.empty() || gs[0] != ls[0] * dp || gs.drop_front() != ls.drop_front()) {
        llvm::errs() << "error: --mesh dp=" << dp << ": output " << g
                     << " is not the batch-wise concatenation of the ranks' " << l
                     << "; the model is not data-parallel along dimension 0\n";
        return 1;
      }
    }
    module = std::move(rankModule);
    if (emit != Emit::Tsr) {
      PassManager pm(&context);
      buildGraphPipeline(pm, GraphPipelineOptions());
      if (failed(pm.run(*module)))
        return 1;
    }
  }

  if (emit == Emit::None || emit == Emit::Plan) {
    auto func = module->lookupSymbol<func::FuncOp>("main");
    FailureOr<lower::ProgramPlan> plan = lower::planProgram(func);
    if (failed(plan))
      return 1;
    if (dp > 1) {
      for (uint32_t id : plan->inputs)
        plan->tensors[id].splitAxis = 0;
      for (uint32_t id : plan->outputs)
        plan->tensors[id].splitAxis = 0;
    }
    if (emit == Emit::Plan)
      return writeText(output, [&](llvm::raw_ostream &os) { printPlan(*plan, os); });
    std::vector<lower::ProgramPlan> programs(size_t(dp), *plan);
    llvm::Expected<PackageStats> stats = writePackage(
        output, programs, {unsigned(dp)}, *model,
        "tessera-compile from " + std::string(input), /*progress=*/true,
        weights == "external");
    if (!stats) {
      llvm::errs() << "error: " << llvm::toString(stats.takeError()) << "\n";
      return 1;
    }
    llvm::errs() << "tessera-compile: wrote " << output << " ("
                 << stats->fileBytes << " bytes: " << stats->kernels
                 << " kernels, " << stats->weightBytes
                 << " weight bytes; activation arena " << stats->arenaBytes
                 << " bytes, " << plan->unplannedBytes
                 << " without memory planning)\n";
    return 0;
  }

  return writeText(output, [&](llvm::raw_ostream &os) {
    module->print(os);
    os << "\n";
  });
}
