//===- Compile.cpp - the tessera-compile driver ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"
#include "dialects/tsr/IR/TsrAttrNames.h"
#include "compiler/CompileDriver.h"
#include "passes/cost/CostModel.h"
#include "compiler/CudaTarget.h"
#include "compiler/Generation.h"
#include "passes/partition/MeshSearch.h"
#include "compiler/Registration.h"
#include "compiler/PackageWriter.h"
#include "compiler/Verify.h"
#include "compiler/Pipelines.h"

#include "dialects/tsr/IR/TsrOps.h"
#include "frontends/onnx/OnnxImporter.h"
#include "frontends/onnx/Untie.h"
#include "passes/lower/AttentionViews.h"
#include "passes/lower/GemmEpilogues.h"
#include "passes/partition/Partition.h"
#include "passes/partition/Passes.h"
#include "passes/generate/Passes.h"
#include "passes/train/Passes.h"
#include "passes/partition/PipelineSlicer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <optional>
#include <set>

using namespace mlir;
using namespace tessera;

namespace {

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

/// Training: an exporter may write one parameter twice, the second copy
/// transposed (TorchScript's LM head tied to the embedding). Trained as two
/// weights they would drift apart; say so, and how to tie them.
void warnTransposedCopies(const tessera::onnx::ModelFile &model, llvm::ArrayRef<std::string> ties) {
  std::vector<const tessera::onnx::WeightRecord *> matrices;
  for (const auto &[name, r] : model.weights.records())
    if (r.shape.size() == 2 && r.shape[0] != r.shape[1] && !r.absent &&
        r.onnxType == 1 /* FLOAT */)
      matrices.push_back(&r);
  auto tied = [&](const std::string &a, const std::string &b) {
    for (llvm::StringRef t : ties)
      if (t.starts_with(a + "=") || t.starts_with(b + "="))
        return true;
    return false;
  };
  // Each matrix is read once, for a fingerprint of its values in order and
  // one of its transpose's; pairs whose fingerprints meet are compared exactly.
  auto fingerprint = [](uint64_t h, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return (h ^ bits) * 0x100000001b3ull;
  };
  std::vector<uint64_t> direct(matrices.size()), transposed(matrices.size());
  std::vector<bool> readable(matrices.size(), false);
  for (size_t i = 0; i < matrices.size(); ++i) {
    auto data = model.readWeight(*matrices[i]);
    if (!data) {
      llvm::consumeError(data.takeError());
      continue;
    }
    const float *x = reinterpret_cast<const float *>(data->data());
    int64_t rows = matrices[i]->shape[0], cols = matrices[i]->shape[1];
    uint64_t h = 0xcbf29ce484222325ull, t = h;
    for (int64_t k = 0; k < rows * cols; ++k)
      h = fingerprint(h, x[k]);
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t r = 0; r < rows; ++r)
        t = fingerprint(t, x[r * cols + c]);
    direct[i] = h;
    transposed[i] = t;
    readable[i] = true;
  }
  for (size_t i = 0; i < matrices.size(); ++i)
    for (size_t j = i + 1; j < matrices.size(); ++j) {
      const tessera::onnx::WeightRecord &a = *matrices[i], &b = *matrices[j];
      if (!readable[i] || !readable[j] || transposed[i] != direct[j] ||
          a.shape[0] != b.shape[1] || a.shape[1] != b.shape[0] || tied(a.name, b.name))
        continue;
      auto da = model.readWeight(a), db = model.readWeight(b);
      if (!da || !db) {
        llvm::consumeError(da.takeError());
        llvm::consumeError(db.takeError());
        continue;
      }
      const float *x = reinterpret_cast<const float *>(da->data());
      const float *y = reinterpret_cast<const float *>(db->data());
      int64_t rows = a.shape[0], cols = a.shape[1];
      bool same = true;
      for (int64_t r = 0; r < rows && same; ++r)
        for (int64_t c = 0; c < cols && same; ++c)
          same = x[r * cols + c] == y[c * rows + r];
      if (same)
        llvm::errs() << "warning: weight '" << b.name << "' is exactly the transpose of '"
                     << a.name << "': if they are one parameter (a tied embedding and LM "
                     << "head), pass --tie " << b.name << "=" << a.name
                     << " so that training keeps them one\n";
    }
}

/// Training: the rotary tables (cos and sin) a static-shape export folded
/// into initializers are buffers: added to `frozen`, said in one line.
bool freezeRotaryTables(const tessera::onnx::ModelFile &model, std::vector<std::string> &frozen) {
  auto tables = tessera::onnx::rotaryTables(model);
  if (!tables) {
    llvm::errs() << "error: " << llvm::toString(tables.takeError()) << "\n";
    return false;
  }
  std::string names;
  for (const std::string &t : *tables)
    if (!tessera::train::matchesAny(t, frozen)) {
      frozen.push_back(t);
      names += (names.empty() ? "" : ", ") + t;
    }
  if (!names.empty())
    llvm::errs() << "note: initializer(s) " << names << " hold rotary tables (cos^2 + sin^2 = 1 "
                 << "in every element): buffers, not trained\n";
  return true;
}

/// Training: parameters the exporter merged because their values were equal
/// become one per reader again (tessera::onnx::untieEqualValued), said in one line.
bool untieSharedInitializers(tessera::onnx::ModelFile &model,
                             const tessera::onnx::UntieOptions &options) {
  for (const std::string &name : options.force)
    if (!model.weights.find(name)) {
      llvm::errs() << "error: --untie " << name << ": the model has no initializer '" << name
                   << "'\n";
      return false;
    }
  auto untied = tessera::onnx::untieEqualValued(model, options);
  if (!untied) {
    llvm::errs() << "error: " << llvm::toString(untied.takeError()) << "\n";
    return false;
  }
  if (untied->empty())
    return true;
  size_t copies = 0;
  std::string names;
  for (const tessera::onnx::Untied &u : *untied) {
    copies += u.copies.size();
    names += (names.empty() ? "" : ", ") + u.initializer + " (" +
             std::to_string(u.copies.size() + 1) + " readers)";
  }
  llvm::errs() << "warning: " << untied->size() << " initializer(s) shared by several nodes "
               << "hold one value in every element (the exporter merged equal parameters): "
               << "trained as " << copies << " more separate parameter(s): " << names
               << "; --tie NAME keeps one shared\n";
  return true;
}

} // namespace


int tessera::writeText(const std::string &path,
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

/// The importer's options: shapes, symbolic dimensions, the training
/// import's choices (checkCompileOptions has validated the text).
static tessera::onnx::ImportOptions importOptionsOf(const CompileOptions &o) {
  tessera::onnx::ImportOptions options;
  for (const std::string &spec : o.inputShapes) {
    auto [name, shape] = llvm::StringRef(spec).split('=');
    (void)parseDims(shape.str(), options.inputShapes[name.str()]);
  }
  for (const std::string &spec : o.dims) {
    auto [name, value] = llvm::StringRef(spec).split('=');
    int64_t v = 0;
    (void)value.getAsInteger(10, v);
    options.dims[name.str()] = v;
  }
  options.allowNewerOpset = o.allowNewerOpset;
  options.foldRepeatedInitializers = !o.train;
  options.emptyPast = o.generate;
  options.trainingDropout = o.train && o.dropoutSeed != "off";
  if (options.trainingDropout)
    (void)llvm::StringRef(o.dropoutSeed).getAsInteger(10, options.dropoutSeed);
  if (o.batch >= 0)
    options.batch = o.batch;
  if (o.seq >= 0)
    options.seq = o.seq;
  return options;
}

Step tessera::importPhase(Compilation &c) {
  const CompileOptions &o = c.o;
  c.importOptions = importOptionsOf(o);
  if (o.generate) {
    std::string error;
    (void)parsePrefillLengths(o.prefill, o.maxSeq, c.prefillLengths, error);
    if (llvm::StringRef(o.input).ends_with(".mlir"))
      c.prefillLengths.clear(); // no model to import again: step by step
  }
  // --frozen, and below the rotary tables found in the model; --tie A=B
  // pairs; a bare --tie A keeps A shared (see untieEqualValued).
  c.frozen = o.frozen;
  tessera::onnx::UntieOptions untieOptions;
  for (const std::string &t : o.ties)
    (llvm::StringRef(t).contains('=') ? (void)c.ties.push_back(t)
                                      : (void)untieOptions.keep.insert(t));
  untieOptions.force.insert(o.untie.begin(), o.untie.end());

  // A .mlir input is tsr IR (tests, hand-written programs): no weight store.
  if (llvm::StringRef(o.input).ends_with(".mlir")) {
    c.model = std::make_unique<tessera::onnx::ModelFile>();
    c.module = parseSourceFile<ModuleOp>(o.input, &c.context);
  } else {
    // An export folder: Optimum's encoder-decoder (its decoder here, its
    // encoder beside it) or decoder.
    std::string modelPath = o.input;
    if (Step done = resolveExportFolder(c, modelPath))
      return *done;
    auto opened = tessera::onnx::ModelFile::open(modelPath, o.planOnly);
    if (!opened) {
      llvm::errs() << "error: " << llvm::toString(opened.takeError()) << "\n";
      return 1;
    }
    c.model = std::move(*opened);
    // Rotary tables an exporter folded are buffers: frozen, as in PyTorch.
    if (o.train && !freezeRotaryTables(*c.model, c.frozen))
      return 1;
    // (Frozen weights stay as they are: not trained, sharing them costs nothing.)
    for (const auto &[name, record] : c.model->weights.records())
      if (train::matchesAny(name, c.frozen))
        untieOptions.keep.insert(name);
    if (o.train && !untieSharedInitializers(*c.model, untieOptions))
      return 1;
    c.module = tessera::onnx::importModel(c.context, *c.model, c.importOptions);
  }
  if (!c.module)
    return 1;
  if (!c.encoderPath.empty() && failed(findEncoderInputs(c)))
    return 1;
  if (c.importOptions.trainingDropout) {
    // Never silent: which Dropout nodes train (the file says training_mode
    // true; the dynamo exporter writes that for eval-mode models too).
    int count = 0;
    double ratio = 0;
    c.module->walk([&](tsr::DropoutOp d) {
      ++count;
      ratio = std::max(ratio, d.getRatio().convertToDouble());
    });
    if (count)
      llvm::errs() << "tessera-compile: " << count
                   << " Dropout node(s) in training mode train as dropout (p up to "
                   << llvm::format("%g", ratio) << ", seed " << c.importOptions.dropoutSeed
                   << "; --dropout-seed off: none)\n";
  }
  // --verify: the integer inputs' ranges (token ids below their tables),
  // read before anything rewrites the model.
  if (o.verify)
    c.verifyBounds = integerInputBounds(*c.module);
  return std::nullopt;
}

LogicalResult Compilation::runPhases(Phase first, Phase last) {
  PassManager pm(&context);
  buildCompilePipeline(pm, o, pipelineInputs(), first, last, &report);
  return pm.run(*module);
}

Step tessera::graphPhase(Compilation &c) {
  if (failed(c.runPhases(Phase::Graph, Phase::Graph)))
    return 1;
  return std::nullopt;
}

Step tessera::trainPhase(Compilation &c) {
  if (!c.o.train)
    return std::nullopt;
  // The training step: loss, gradients, optimizer (passes/train).
  warnTransposedCopies(*c.model, c.ties);
  if (failed(c.runPhases(Phase::Train, Phase::Train)))
    return 1;
  return std::nullopt;
}

/// A static export (the dynamo exporter's default) fixes the token inputs'
/// shapes in the file: the cache must then be as long as its sequence, the
/// batch as its batch. Said at compile time, not at run time.
static LogicalResult checkStaticTokenInputs(const Compilation &c) {
  auto main = c.module.get().lookupSymbol<func::FuncOp>("main");
  if (!main)
    return success();
  for (BlockArgument arg : main.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    auto name = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(), mlir::tsr::kNameAttr);
    if (!type || !name || type.getRank() != 2 || !type.getElementType().isInteger() ||
        type.getElementType().isInteger(1))
      continue;
    if (!c.o.idsInput.empty() && name.getValue() != c.o.idsInput &&
        !name.getValue().contains("mask"))
      continue;
    int64_t fixedBatch = type.getShape()[0], fixedSeq = type.getShape()[1];
    if (fixedSeq != c.o.maxSeq || (c.o.batch >= 0 && fixedBatch != c.o.batch)) {
      llvm::errs() << "error: --generate: input '" << name.getValue() << "' is fixed at "
                   << fixedBatch << "x" << fixedSeq
                   << " in the model file (a static export): compile with --max-seq "
                   << fixedSeq << " --batch " << fixedBatch
                   << ", or export with dynamic batch and sequence dimensions\n";
      return failure();
    }
  }
  return success();
}

Step tessera::decodePhase(Compilation &c) {
  const CompileOptions &o = c.o;
  if (!o.generate)
    return std::nullopt;
  if (failed(checkStaticTokenInputs(c)))
    return 1;
  // The decode step: one position per sequence, a KV cache (passes/generate).
  if (failed(c.runPhases(Phase::Decode, Phase::Decode)))
    return 1;
  auto info = (*c.module)->getAttrOfType<DictionaryAttr>(mlir::tsr::kGenerateAttr);
  auto text = [&](const char *key) {
    auto s = info ? info.getAs<StringAttr>(key) : nullptr;
    return s ? s.str() : std::string();
  };
  auto number = [&](const char *key) {
    auto i = info ? info.getAs<IntegerAttr>(key) : nullptr;
    return i ? unsigned(i.getInt()) : 0u;
  };
  PackageGeneration &g = c.generation.emplace();
  g.ids = text("ids");
  g.positions = text("positions");
  g.logits = text("logits");
  g.mask = text("mask");
  g.positionIds = text("position_ids");
  g.maxSeq = number("max_seq");
  g.batch = number("batch");
  // An encoder-decoder: its encoder, a program beside the decode step.
  if (!c.encoderPath.empty() && (failed(importEncoder(c)) || failed(describeEncoder(c, g))))
    return 1;
  return std::nullopt;
}

int tessera::compile(CompileOptions options) {
  if (int code = checkCompileOptions(options))
    return code;
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false); // errors name the op, node and shape; no IR dumps
  context.getDiagEngine().registerHandler([](Diagnostic &diag) { printDiagnostic(diag); });
  Compilation c(std::move(options), context);
  using Emit = CompileOptions::Emit;
  if (Step done = importPhase(c))
    return *done;
  auto print = [&] {
    return writeText(c.o.output, [&](llvm::raw_ostream &os) {
      c.module->print(os);
      os << "\n";
    });
  };
  // The pipeline runs from the imported module on (the import finds weights
  // not to train): tessera-opt runs it on --emit=tsr's output.
  // A prompt program's pipeline takes the decode step's plan: printed after it.
  if (c.o.printPipeline && !c.o.promptProgram)
    return writeText(c.o.output, [&](llvm::raw_ostream &os) {
      printCompilePipeline(c.o, c.pipelineInputs(), os);
    });
  if (c.o.emit == Emit::Tsr)
    return c.o.promptProgram ? *printPromptImport(c) : print();
  for (auto phase : {graphPhase, trainPhase, sliceEvalProgram, decodePhase})
    if (Step done = phase(c))
      return *done;
  if (Emit e = c.o.emit; e == Emit::TsrFused || e == Emit::TsrTrain || e == Emit::TsrDecode)
    return print();
  if (Step done = planPhase(c))
    return *done;
  if (c.o.printPipeline)
    return *printPromptPipeline(c);
  for (auto phase :
       {partitionPhase, promptPhase, evalPhase, lowerPhase, rewritePhase, packagePhase})
    if (Step done = phase(c))
      return *done;
  return 0;
}
