//===- Compile.cpp - the tessera-compile driver ---------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"
#include "passes/cost/CostModel.h"
#include "compiler/CudaTarget.h"
#include "compiler/Generation.h"
#include "compiler/MeshSearch.h"
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
namespace cl = llvm::cl;

namespace {

enum class Emit { None, Tsr, TsrFused, TsrTrain, TsrDecode, Summary, Partitioned, Plan, Cuda };


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
/// become one per reader again (onnx::untieEqualValued), said in one line.
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

int tessera::compileArgs(const std::vector<std::string> &args) {
  std::vector<std::string> owned{"tessera-compile"};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (std::string &a : owned)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  return compileMain(int(owned.size()), argv.data());
}

int tessera::compileMain(int argc, char **argv) {
  static cl::OptionCategory inputCat("Input model");
  static cl::OptionCategory planCat("Partitioning (data, tensor and pipeline parallelism)");
  static cl::OptionCategory targetCat("Target and package");
  static cl::OptionCategory outputCat("Output");
  static cl::OptionCategory trainCat(
      "Training and generation (--train: a program is one training step; --generate: one "
      "decode step with a KV cache)");
  static cl::opt<bool> trainMode(cl::cat(trainCat), "train",
                             cl::desc("compile a training step: loss, gradients, optimizer"));
  static cl::opt<std::string> loss(cl::cat(trainCat), "loss", cl::init("cross-entropy"),
                                   cl::desc("cross-entropy (mean over labels != -100), or none: the first "
                                            "output is the loss"));
  static cl::opt<std::string> logits(cl::cat(trainCat), "logits", cl::init(""),
                                     cl::desc("the output the loss reads (default: the first)"));
  static cl::opt<std::string> labels(cl::cat(trainCat), "labels", cl::init("labels"),
                                     cl::desc("the name of the int64 labels input"));
  static cl::opt<std::string> optimizerName(cl::cat(trainCat), "optimizer", cl::init("adamw"),
                                            cl::desc("adamw or sgd (PyTorch's semantics), or none: return the "
                                                     "gradients"));
  static cl::opt<double> lr(cl::cat(trainCat), "lr", cl::init(1e-3), cl::desc("learning rate"));
  static cl::opt<std::string> betas(cl::cat(trainCat), "betas", cl::init("0.9,0.999"),
                                    cl::desc("AdamW betas: B1,B2"));
  static cl::opt<double> eps(cl::cat(trainCat), "eps", cl::init(1e-8), cl::Hidden,
                            cl::desc("AdamW epsilon (default 1e-8)"));
  static cl::opt<std::string> dropoutSeed(cl::cat(trainCat), "dropout-seed", cl::init("0"), cl::value_desc("N|off"),
                                          cl::desc("training-mode Dropout (p > 0): its random stream's seed; off: none"));
  static cl::opt<double> weightDecay(cl::cat(trainCat), "weight-decay", cl::init(0.01),
                                     cl::desc("AdamW: decoupled; SGD: added to the gradient"));
  static cl::opt<double> momentum(cl::cat(trainCat), "momentum", cl::init(0.0),
                                  cl::desc("SGD momentum (--nesterov, --dampening)"));
  static cl::opt<bool> nesterov(cl::cat(trainCat), "nesterov", cl::Hidden);
  static cl::opt<double> dampening(cl::cat(trainCat), "dampening", cl::init(0.0), cl::Hidden);
  static cl::opt<double> clipGradNorm(cl::cat(trainCat), "clip-grad-norm", cl::init(0.0),
                                      cl::desc("clip the global gradient L2 norm (0: off)"));
  static cl::opt<std::string> lrSchedule(cl::cat(trainCat), "lr-schedule", cl::init("constant"),
                                         cl::desc("constant or cosine (--warmup-steps, "
                                                  "--total-steps)"));
  static cl::opt<int64_t> warmupSteps(cl::cat(trainCat), "warmup-steps", cl::init(0), cl::Hidden);
  static cl::opt<int64_t> totalSteps(cl::cat(trainCat), "total-steps", cl::init(0), cl::Hidden);
  static cl::list<std::string> frozenArgs(cl::cat(trainCat), "frozen", cl::value_desc("GLOB"),
                                      cl::desc("weights that are not trained (names or globs)"));
  static cl::opt<bool> gradInputs(cl::cat(trainCat), "grad-inputs", cl::Hidden,
                                  cl::desc("also differentiate the float inputs (grad:NAME)"));
  static cl::list<std::string> tieArgs(cl::cat(trainCat), "tie", cl::value_desc("A=B[.T]|A"),
                                       cl::desc("weight A is weight B (or its transpose); A "
                                                "alone: A stays one parameter"));
  static cl::list<std::string> untie(cl::cat(trainCat), "untie", cl::value_desc("A"), cl::Hidden,
                                     cl::desc("each reader of initializer A trains its own "
                                              "copy (automatic where all its elements are equal)"));
  cl::OptionCategory &generateCat = trainCat;
  static cl::opt<bool> generateMode(cl::cat(generateCat), "generate",
                                    cl::desc("compile text generation: one new token per sequence "
                                             "per run, keys and values kept in a cache"));
  static cl::opt<int64_t> maxSeq(cl::cat(generateCat), "max-seq", cl::init(0),
                                 cl::desc("positions the KV cache holds (prompt + new tokens)"));
  static cl::opt<std::string> prefill(cl::cat(generateCat), "prefill", cl::init("16,64,256"),
                                      cl::desc("prompt lengths of prefill programs (the prompt "
                                               "in one run; longer ones continue step by "
                                               "step), or none"));
  static cl::opt<std::string> genIds(cl::cat(generateCat), "ids-input", cl::init("input_ids"),
                                     cl::desc("the token ids input"), cl::Hidden);
  static cl::opt<std::string> genMask(cl::cat(generateCat), "mask-input",
                                      cl::init("attention_mask"),
                                      cl::desc("the attention mask input"), cl::Hidden);
  static cl::opt<std::string> genPositionIds(cl::cat(generateCat), "position-ids-input",
                                             cl::init("position_ids"),
                                             cl::desc("the position ids input"), cl::Hidden);
  static cl::opt<std::string> input(cl::cat(inputCat), cl::Positional,
                                    cl::desc("<model.onnx | tsr.mlir>"),
                                    cl::Required);
  static cl::list<std::string> inputShapes(cl::cat(inputCat), "input-shape", cl::desc("shape of a graph input: NAME=4x128"),
      cl::value_desc("NAME=DxD..."));
  static cl::list<std::string> dims(cl::cat(inputCat), "dim", cl::desc("value of a symbolic dimension: NAME=4"),
      cl::value_desc("NAME=N"));
  static cl::opt<int64_t> batch(cl::cat(inputCat), "batch",
                                cl::desc("value of symbolic first dimensions"),
                                cl::init(-1));
  static cl::opt<int64_t> seq(cl::cat(inputCat), "seq",
                              cl::desc("value of symbolic second dimensions"),
                              cl::init(-1));
  static cl::opt<Emit> emit(cl::cat(outputCat), "emit", cl::desc("what to write"), cl::init(Emit::None),
      cl::values(clEnumValN(Emit::Tsr, "tsr", "the imported tsr IR"),
                 clEnumValN(Emit::TsrFused, "tsr-fused",
                            "the tsr IR after the graph pipeline"),
                 clEnumValN(Emit::TsrTrain, "tsr-train",
                            "the tsr IR of the training step (--train)"),
                 clEnumValN(Emit::TsrDecode, "tsr-decode",
                            "the tsr IR of the decode step (--generate)"),
                 clEnumValN(Emit::Summary, "summary",
                            "the chosen plan only (no package)"),
                 clEnumValN(Emit::Partitioned, "partitioned",
                            "the SPMD tsr IR of one rank (--rank), with its "
                            "shard collectives"),
                 clEnumValN(Emit::Plan, "plan",
                            "the lowered kernels and memory plan"),
                 clEnumValN(Emit::Cuda, "cuda",
                            "the generated CUDA C++ of one rank (--rank; "
                            "implies --target=cuda)")));
  static cl::opt<std::string> target(cl::cat(targetCat), "target", cl::desc("the backend the package is for: cpu (the default) or "
                         "cuda (generated CUDA kernels compiled with NVRTC, "
                         "cuBLASLt GEMMs, NCCL)"),
      cl::init("cpu"));
  static cl::opt<std::string> dtype(cl::cat(targetCat), "dtype", cl::desc("element type of float tensors: fp32 (the default), bf16 "
                        "or fp16 (--target=cuda; kernels accumulate in fp32)"),
      cl::init("fp32"));
  static cl::opt<bool> noEpilogues(cl::cat(targetCat), "no-gemm-epilogues", cl::desc("keep bias adds, activations and residual adds as kernels "
                                    "of their own instead of GEMM epilogues"),
      cl::init(false));
  static cl::opt<bool> noAttentionViews(cl::cat(targetCat), "no-attention-views", cl::Hidden, cl::desc("keep the head transposes (and QKV splits) around "
                                     "attention as copy kernels"),
      cl::init(false));
  static cl::opt<std::string> cudaArchs(cl::cat(targetCat), "cuda-arch", cl::Hidden, cl::desc("CUDA architectures to embed images for (cubins: "
                            "sm_XX, PTX: compute_XX)"),
      cl::init("sm_80,sm_90,compute_80"));
  static cl::opt<std::string> weights(cl::cat(targetCat), "weights",
      cl::desc("where packages keep weights: 'embedded' (copied in, the "
               "default) or 'external' (references into the model's files)"),
      cl::init("embedded"));
  static cl::opt<std::string> mesh(cl::cat(planCat), "mesh", cl::desc("fixed device mesh: dp=2,tp=4 (data parallel over the "
                       "first dimension of inputs and outputs; tensor parallel "
                       "inside layers, weights split tp ways)"),
      cl::init(""));
  static cl::opt<int64_t> devices(cl::cat(planCat), "devices", cl::desc("plan for N devices: the compiler chooses dp x tp x pp and micro-batches (N CPU devices without --cluster)"),
      cl::init(0));
  static cl::opt<std::string> cluster(cl::cat(planCat), "cluster", cl::desc("cluster the plan is made for: a preset (cpu, "
                          "a100-nvlink-8, h100-nvlink-8, h100-ib-N, a100-ib-N) or a JSON "
                          "file (docs/cluster-spec.md)"),
      cl::init("cpu"));
  static cl::opt<std::string> objective(cl::cat(planCat), "objective", cl::desc("latency (time of one batch, the default) or "
                            "throughput (samples per second)"),
      cl::init("latency"));
  static cl::list<std::string> hints(cl::cat(planCat), "shard", cl::desc("fix a weight's layout on the tp axis: NAME=R|S0|S1..."),
      cl::value_desc("NAME=LAYOUT"));
  static cl::opt<int64_t> microbatches(cl::cat(planCat), "microbatches", cl::desc("micro-batches per pipeline, or accumulated per training step (default: the "
                               "compiler chooses)"),
      cl::init(0));
  static cl::opt<int64_t> microbatchSize(cl::cat(planCat), "microbatch-size", cl::desc("samples per micro-batch (pipelines): the search keeps it, choosing the count per mesh"), cl::init(0));
  static cl::opt<double> bucketMb(
      cl::cat(planCat), "grad-bucket-mb", cl::init(25), cl::Hidden,
      cl::desc("training with data parallelism: the gradients summed over the "
               "replicas in "
               "buckets of this many MiB, each started as soon as it is ready "
               "(0: one "
               "all-reduce per gradient)"));
  static cl::opt<std::string> zeroOption(
      cl::cat(planCat), "zero",
      cl::desc(
          "training with data parallelism: shard over the replicas the "
          "optimizer state (1), also the gradients (2), also the parameters "
          "(3); 0: off, the default; auto: the fastest that fits"),
      cl::init("0"));
  static cl::opt<std::string> recompute(cl::cat(planCat), "recompute", cl::desc("training pipelines: none (keep activations), selective (all but matmul/attention results recomputed) or full (each stage's forward pass again; the default: the search chooses)"), cl::init(""));
  static cl::opt<std::string> pipelineSplit(cl::cat(planCat), "pipeline-split", cl::desc("how stages are cut: balanced (dynamic "
                                 "programming, the default) or even (the same "
                                 "number of layers each, as Megatron-LM does)"),
      cl::init("balanced"));
  static cl::opt<bool> explain(cl::cat(planCat), "explain", cl::desc("print the chosen plan and every alternative considered "
                          "with its predicted time and memory, and why meshes "
                          "were ruled out"),
      cl::init(false));
  static cl::opt<int64_t> emitRank(cl::cat(outputCat), "rank", cl::desc("the rank --emit=partitioned, plan and cuda print"), cl::init(0), cl::Hidden);
  static cl::opt<bool> allowNewerOpset(
      cl::cat(inputCat), "allow-newer-opset", cl::Hidden,
      cl::desc("import a model of an opset newer than Tessera knows, as the newest it knows"));
  static cl::opt<bool> planOnly(cl::cat(inputCat), "plan-only", cl::desc("plan a model whose weight files are absent; the "
                            "package can be inspected, not run"),
      cl::init(false));
  static cl::opt<std::string> output(cl::cat(outputCat), "o", cl::desc("output file"),
                                     cl::value_desc("file"), cl::init("-"));
  static cl::opt<bool> verifyPackage(cl::cat(outputCat), "verify",
      cl::desc("also compile the model as imported (no fusion, one rank) and run both "
               "packages on the same random inputs; fail when an output differs beyond "
               "--verify-rtol/--verify-atol (1e-4)"),
      cl::init(false));
  static cl::opt<double> verifyRtol(cl::cat(outputCat), "verify-rtol", cl::Hidden,
                                    cl::init(1e-4));
  static cl::opt<double> verifyAtol(cl::cat(outputCat), "verify-atol", cl::Hidden,
                                    cl::init(1e-4));
  static cl::opt<bool> noGraphFusion(cl::cat(targetCat), "no-graph-fusion", cl::Hidden,
      cl::desc("lower the model as imported: no graph fusion, GEMM epilogues or attention "
               "views (--verify's reference)"),
      cl::init(false));
  cl::HideUnrelatedOptions(
      {&inputCat, &planCat, &targetCat, &outputCat, &trainCat});
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "tessera-compile " << TESSERA_VERSION << " (MLIR/LLVM " << LLVM_VERSION_STRING
       << ")\n";
  });
  // Parsed afresh each call (the Python package compiles many models in one
  // process); a bad option returns instead of exiting.
  cl::ResetAllOptionOccurrences();
  if (!cl::ParseCommandLineOptions(
      argc, argv,
      "Tessera compiler: ONNX model -> partitioned package (.tpkg)\n\n"
      "  tessera-compile model.onnx --batch 8 --seq 512 --devices 8 -o model.tpkg\n\n"
      "Pipeline: import -> tsr-graph-pipeline -> tsr-partition-split-batch -> "
      "tsr-partition-search\n  -> tsr-partition-cut-stages -> tsr-partition-spmd -> "
      "tsr-lower-plan -> package\n  (each pass runs alone in tessera-opt; docs/pipeline.md)\n",
      &llvm::errs()))
    return 1;

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
  if (emit == Emit::Cuda)
    target = "cuda";
  if (target != "cpu" && target != "cuda") {
    llvm::errs() << "error: --target must be 'cpu' or 'cuda', not '" << target << "'\n";
    return 2;
  }
  std::optional<lower::ElementType> narrowTo;
  if (dtype == "bf16")
    narrowTo = lower::ElementType::BF16;
  else if (dtype == "fp16")
    narrowTo = lower::ElementType::F16;
  else if (dtype != "fp32") {
    llvm::errs() << "error: --dtype must be fp32, bf16 or fp16, not '" << dtype << "'\n";
    return 2;
  }
  if (narrowTo && target != "cuda") {
    llvm::errs() << "error: --dtype " << dtype
                 << " needs --target=cuda: the CPU backend computes in fp32\n";
    return 2;
  }
  std::vector<int64_t> prefillLengths;
  if (generateMode) {
    // The decode step comes from the forward pass over the whole cache.
    if (maxSeq < 2) {
      llvm::errs() << "error: --generate needs --max-seq N (N >= 2): the positions the KV "
                      "cache holds, prompt and new tokens together\n";
      return 2;
    }
    if (seq >= 0 && seq != maxSeq) {
      llvm::errs() << "error: --generate sets the sequence to --max-seq; drop --seq\n";
      return 2;
    }
    if (trainMode) {
      llvm::errs() << "error: give --generate or --train, not both\n";
      return 2;
    }
    if (target != "cpu") {
      llvm::errs() << "error: --generate runs on the CPU backend for now (--target=cpu)\n";
      return 2;
    }
    seq = maxSeq;
    if (batch < 0)
      batch = 1;
    std::string error;
    if (!parsePrefillLengths(prefill, maxSeq, prefillLengths, error)) {
      llvm::errs() << "error: " << error << "\n";
      return 2;
    }
    if (llvm::StringRef(input).ends_with(".mlir") || !mesh.empty() || devices > 0)
      prefillLengths.clear(); // no model to import again; partitioned: step by step
  } else if (maxSeq) {
    llvm::errs() << "error: --max-seq needs --generate\n";
    return 2;
  }
  options.allowNewerOpset = allowNewerOpset;
  options.foldRepeatedInitializers = !trainMode;
  options.trainingDropout = trainMode && dropoutSeed != "off";
  if (options.trainingDropout &&
      llvm::StringRef(dropoutSeed).getAsInteger(10, options.dropoutSeed)) {
    llvm::errs() << "error: --dropout-seed '" << dropoutSeed << "' is not an integer or off\n";
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
  context.printOpOnDiagnostic(false); // errors name the op, node and shape; no IR dumps
  context.getDiagEngine().registerHandler(
      [](Diagnostic &diag) { printDiagnostic(diag); });

  // --frozen, and below the rotary tables found in the model.
  std::vector<std::string> frozen(frozenArgs.begin(), frozenArgs.end());
  // --tie A=B pairs; a bare --tie A keeps A shared (see untieEqualValued).
  std::vector<std::string> ties;
  onnx::UntieOptions untieOptions;
  for (const std::string &t : tieArgs)
    (llvm::StringRef(t).contains('=') ? (void)ties.push_back(t)
                                      : (void)untieOptions.keep.insert(t));
  untieOptions.force.insert(untie.begin(), untie.end());
  if (!untie.empty() && !trainMode) {
    llvm::errs() << "error: --untie needs --train\n";
    return 2;
  }

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
    // Rotary tables an exporter folded are buffers: frozen, as in PyTorch.
    if (trainMode && !freezeRotaryTables(*model, frozen))
      return 1;
    // (Frozen weights stay as they are: not trained, sharing them costs nothing.)
    for (const auto &[name, record] : model->weights.records())
      if (train::matchesAny(name, frozen))
        untieOptions.keep.insert(name);
    if (trainMode && !untieSharedInitializers(*model, untieOptions))
      return 1;
    module = onnx::importModel(context, *model, options);
  }
  if (!module)
    return 1;
  if (options.trainingDropout) {
    // Never silent: which Dropout nodes train (the file says training_mode
    // true; the dynamo exporter writes that for eval-mode models too).
    int count = 0;
    double ratio = 0;
    module->walk([&](tsr::DropoutOp d) {
      ++count;
      ratio = std::max(ratio, d.getRatio().convertToDouble());
    });
    if (count)
      llvm::errs() << "tessera-compile: " << count
                   << " Dropout node(s) in training mode train as dropout (p up to "
                   << llvm::format("%g", ratio) << ", seed " << options.dropoutSeed
                   << "; --dropout-seed off: none)\n";
  }

  // --verify: the integer inputs' ranges (token ids below their tables),
  // read before anything rewrites the model.
  std::map<std::string, int64_t> verifyBounds;
  if (verifyPackage) {
    if (planOnly || emit != Emit::None) {
      llvm::errs() << "error: --verify runs the packages: not with --plan-only (no weights) "
                      "or --emit (no package)\n";
      return 2;
    }
    verifyBounds = integerInputBounds(*module);
  }

  if (emit != Emit::Tsr && !noGraphFusion) {
    PassManager pm(&context);
    buildGraphPipeline(pm, GraphPipelineOptions());
    if (failed(pm.run(*module)))
      return 1;
  }

  if (trainMode) {
    // The training step: loss, gradients, optimizer (passes/train).
    double beta1 = 0.9, beta2 = 0.999;
    auto [b1, b2] = llvm::StringRef(betas).split(',');
    if (b1.trim().getAsDouble(beta1) || b2.trim().getAsDouble(beta2) || beta1 < 0 ||
        beta1 >= 1 || beta2 < 0 || beta2 >= 1) {
      llvm::errs() << "error: --betas '" << betas << "' is not B1,B2 with 0 <= B < 1\n";
      return 2;
    }

    if (target != "cpu") {
      llvm::errs() << "error: --train runs on the CPU backend for now (--target=cpu)\n";
      return 2;
    }
    warnTransposedCopies(*model, ties);
    PassManager pm(&context);
    OpPassManager &fn = pm.nest<func::FuncOp>();
    train::AddLossPassOptions lossOptions;
    lossOptions.loss = loss;
    lossOptions.logits = logits;
    lossOptions.labels = labels;
    if (loss != "none")
      fn.addPass(train::createAddLossPass(lossOptions));
    train::AutodiffPassOptions autodiff;
    autodiff.frozen.assign(frozen.begin(), frozen.end());
    autodiff.ties.assign(ties.begin(), ties.end());
    autodiff.wrtInputs = gradInputs;
    fn.addPass(train::createAutodiffPass(autodiff));
    train::OptimizerPassOptions opt;
    opt.optimizer = optimizerName;
    opt.lr = lr;
    opt.beta1 = beta1;
    opt.beta2 = beta2;
    opt.eps = eps;
    opt.weightDecay = weightDecay;
    opt.momentum = momentum;
    opt.nesterov = nesterov;
    opt.dampening = dampening;
    opt.clipGradNorm = clipGradNorm;
    opt.schedule = lrSchedule;
    opt.warmupSteps = warmupSteps;
    opt.totalSteps = totalSteps;
    if (optimizerName != "none")
      fn.addPass(train::createOptimizerPass(opt));
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createCSEPass());
    if (failed(pm.run(*module)))
      return 1;
  } else if (emit == Emit::TsrTrain) {
    llvm::errs() << "error: --emit=tsr-train needs --train\n";
    return 2;
  }

  std::optional<PackageGeneration> generation;
  if (generateMode) {
    // A static export (the dynamo exporter's default) fixes the token
    // inputs' shapes in the file: the cache must then be as long as its
    // sequence, the batch as its batch. Say so now, not at run time.
    if (auto main = module->lookupSymbol<func::FuncOp>("main")) {
      for (BlockArgument arg : main.getArguments()) {
        auto type = dyn_cast<RankedTensorType>(arg.getType());
        auto name = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "tsr.name");
        if (!type || !name || type.getRank() != 2 || !type.getElementType().isInteger() ||
            type.getElementType().isInteger(1))
          continue;
        if (!genIds.empty() && name.getValue() != genIds && !name.getValue().contains("mask"))
          continue;
        int64_t fixedBatch = type.getShape()[0], fixedSeq = type.getShape()[1];
        if (fixedSeq != maxSeq || (batch >= 0 && fixedBatch != batch)) {
          llvm::errs() << "error: --generate: input '" << name.getValue() << "' is fixed at "
                       << fixedBatch << "x" << fixedSeq
                       << " in the model file (a static export): compile with --max-seq "
                       << fixedSeq << " --batch " << fixedBatch
                       << ", or export with dynamic batch and sequence dimensions\n";
          return 1;
        }
      }
    }
    // The decode step: one position per sequence, a KV cache (passes/generate).
    PassManager pm(&context);
    OpPassManager &fn = pm.nest<func::FuncOp>();
    generate::DecodePassOptions decode;
    decode.ids = genIds;
    decode.mask = genMask;
    decode.positionIds = genPositionIds;
    fn.addPass(generate::createDecodePass(decode));
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createCSEPass());
    if (failed(pm.run(*module)))
      return 1;
    auto info = (*module)->getAttrOfType<DictionaryAttr>("tsr.generate");
    auto text = [&](const char *key) {
      auto s = info ? info.getAs<StringAttr>(key) : nullptr;
      return s ? s.str() : std::string();
    };
    auto number = [&](const char *key) {
      auto i = info ? info.getAs<IntegerAttr>(key) : nullptr;
      return i ? unsigned(i.getInt()) : 0u;
    };
    generation.emplace();
    generation->ids = text("ids");
    generation->positions = text("positions");
    generation->logits = text("logits");
    generation->mask = text("mask");
    generation->positionIds = text("position_ids");
    generation->maxSeq = number("max_seq");
    generation->batch = number("batch");
  } else if (emit == Emit::TsrDecode) {
    llvm::errs() << "error: --emit=tsr-decode needs --generate\n";
    return 2;
  }

  if (emit == Emit::Tsr || emit == Emit::TsrFused || emit == Emit::TsrTrain ||
      emit == Emit::TsrDecode)
    return writeText(output, [&](llvm::raw_ostream &os) {
      module->print(os);
      os << "\n";
    });

  // The meshes to consider: the one given, every dp x tp x pp of --devices,
  // or one device.
  MeshSearchOptions searchOptions;
  if (!mesh.empty() && devices > 0) {
    llvm::errs() << "error: give --mesh or --devices, not both\n";
    return 2;
  }
  if (!mesh.empty()) {
    llvm::Expected<MeshShape> shape = parseMesh(mesh);
    if (!shape) {
      llvm::errs() << "error: " << llvm::toString(shape.takeError()) << "\n";
      return 2;
    }
    searchOptions.meshes = {*shape};
  } else if (devices > 0) {
    searchOptions.meshes = enumerateMeshes(devices);
  } else {
    searchOptions.meshes = {MeshShape()};
  }
  if (objective != "latency" && objective != "throughput") {
    llvm::errs() << "error: --objective must be latency or throughput\n";
    return 2;
  }
  if (pipelineSplit != "balanced" && pipelineSplit != "even") {
    llvm::errs() << "error: --pipeline-split must be balanced or even\n";
    return 2;
  }
  if (!recompute.empty() && recompute != "none" && recompute != "selective" &&
      recompute != "full") {
    llvm::errs() << "error: --recompute must be none, selective or full\n";
    return 2;
  }
  if (!recompute.empty() && !trainMode) {
    llvm::errs() << "error: --recompute is for training (--train)\n";
    return 2;
  }
  searchOptions.recompute = recompute;
  if (microbatchSize < 0 || (microbatchSize > 0 && microbatches > 0)) {
    llvm::errs() << "error: --microbatch-size must be at least 1, without --microbatches\n";
    return 2;
  }
  searchOptions.microbatchSize = microbatchSize;
  if (bucketMb < 0) {
    llvm::errs() << "error: --grad-bucket-mb must be 0 or more\n";
    return 2;
  }
  int64_t zeroStage = -1; // auto
  if (zeroOption != "auto" &&
      (llvm::StringRef(zeroOption).getAsInteger(10, zeroStage) ||
       zeroStage < 0 || zeroStage > 3)) {
    llvm::errs() << "error: --zero must be 0, 1, 2, 3 or auto, not '"
                 << zeroOption << "'\n";
    return 2;
  }
  if (zeroStage != 0 && !trainMode) {
    llvm::errs() << "error: --zero is for training (--train)\n";
    return 2;
  }
  searchOptions.zero = zeroStage;
  if (microbatches < 0) {
    llvm::errs() << "error: --microbatches must be at least 1\n";
    return 2;
  }
  for (const std::string &h : hints) {
    auto [name, layout] = llvm::StringRef(h).split('=');
    if (name.empty() || layout.empty()) {
      llvm::errs() << "error: --shard '" << h << "' is not NAME=LAYOUT\n";
      return 2;
    }
    searchOptions.hints[name.str()] = layout.str();
  }
  llvm::Expected<ClusterSpec> spec = ClusterSpec::load(cluster);
  if (!spec) {
    llvm::errs() << "error: --cluster: " << llvm::toString(spec.takeError()) << "\n";
    return 2;
  }
  // The default cluster is this machine's CPU cores as devices; --devices N
  // or a mesh of N ranks without --cluster plans for N such devices.
  if (cluster.getNumOccurrences() == 0) {
    int64_t wanted = devices;
    for (const MeshShape &c : searchOptions.meshes)
      wanted = std::max(wanted, c.ranks());
    if (wanted > spec->devices())
      spec->devicesPerNode = int(wanted);
  }
  // Training over --devices: tensor parallelism stays within a node (its
  // all-reduces come every layer, forward and backward; Megatron-LM and
  // Alpa keep it there), which also keeps a large cluster's search short.
  if (trainMode && devices > 0)
    llvm::erase_if(searchOptions.meshes,
                   [&](const MeshShape &m) { return m.tp > spec->devicesPerNode; });
  // A decode step is one token per sequence: pipelines run it whole.
  searchOptions.microbatches = generateMode && microbatches == 0 ? 1 : microbatches;
  // Training: replicas sum their gradients; --microbatches M runs M slices
  // of each replica's batch one after the other and accumulates their
  // gradients (pipelines are not built yet).
  searchOptions.training = trainMode;
  searchOptions.throughput = objective == "throughput";
  searchOptions.evenStages = pipelineSplit == "even";
  searchOptions.limitToCluster = devices > 0;
  MeshSearch meshSearch(*module, *spec, searchOptions);
  const CostModel &cost = meshSearch.cost();
  const MeshCandidate *best = meshSearch.run(llvm::errs());
  if (!best) {
    meshSearch.printRuledOut(llvm::errs());
    return 1;
  }
  if (explain)
    meshSearch.explain(llvm::outs(), *best);
  int64_t dp = best->dp, tp = best->tp, pp = best->pp, m = best->m;
  int64_t ranks = dp * tp * pp;
  // Accumulated micro-batches live inside the step: the runtime feeds each
  // replica its whole share of the batch.
  int64_t accumulated = 1;
  if (trainMode && pp == 1)
    std::swap(accumulated, m);

  // The chosen plan goes on the replica's IR; the partitioning passes take it
  // from there: tsr-partition-cut-stages and tsr-partition-search on every
  // stage (pipelines), then tsr-partition-spmd for each tensor-parallel index.
  {
    partition::ShardingPlan plan = *best->plan;
    plan.dp = dp;
    plan.grid = {dp, tp};
    plan.tpAxis = 1;
    ModuleOp replica = best->replica;
    partition::annotateSharding(replica.lookupSymbol<func::FuncOp>("main"), plan);
  }
  ModuleOp replica = best->replica;
  OwningOpRef<ModuleOp> planned(cast<ModuleOp>(replica->clone()));
  std::string clusterText = spec->toJSON();
  // Pipeline training: the step cut into segments per stage (forward and
  // backward passes, what runs once per step) on the replica's plan.
  const bool trainPipeline = trainMode && pp > 1;
  if (trainPipeline) {
    PassManager pm(&context);
    partition::CutTrainStagesPassOptions cut;
    cut.pp = pp;
    cut.cluster = clusterText;
    cut.even = searchOptions.evenStages;
    cut.recompute = best->recompute;
    pm.addPass(partition::createCutTrainStagesPass(cut));
    if (failed(pm.run(*planned)))
      return 1;
  } else if (pp > 1) {
    PassManager pm(&context);
    partition::CutStagesPassOptions cut;
    cut.pp = pp;
    cut.cluster = clusterText;
    cut.even = searchOptions.evenStages;
    pm.addPass(partition::createCutStagesPass(cut));
    partition::ShardingSearchPassOptions stageSearch;
    stageSearch.tp = tp;
    stageSearch.dp = dp;
    stageSearch.cluster = clusterText;
    for (const std::string &h : hints)
      stageSearch.hints.push_back(h);
    pm.addNestedPass<func::FuncOp>(partition::createShardingSearchPass(stageSearch));
    if (failed(pm.run(*planned)))
      return 1;
  }
  auto stageFunc = [&](ModuleOp m, int64_t s) {
    return m.lookupSymbol<func::FuncOp>(pp == 1       ? std::string("main")
                                        : trainPipeline ? "stage" + std::to_string(s) + ".0"
                                                        : "stage" + std::to_string(s));
  };
  // The functions of stage s: one, or a pipelined training step's segments.
  auto stageFuncs = [&](ModuleOp m, int64_t s) {
    std::vector<func::FuncOp> funcs;
    if (!trainPipeline)
      funcs.push_back(stageFunc(m, s));
    else
      for (auto f : m.getOps<func::FuncOp>())
        if (auto stage = f->getAttrOfType<IntegerAttr>("tsr.stage"); stage && stage.getInt() == s)
          funcs.push_back(f);
    return funcs;
  };
  std::vector<partition::ShardingPlan> stagePlans;
  double stageMemory = 0;
  for (int64_t s = 0; s < pp; ++s) {
    FailureOr<partition::ShardingPlan> plan = partition::readSharding(stageFunc(*planned, s));
    if (failed(plan))
      return 1;
    stageMemory = std::max(stageMemory, best->shardedStateBytes >= 0 || trainPipeline
                                            ? best->weightBytesPerRank()
                                            : plan->weightBytesPerRank);
    stagePlans.push_back(std::move(*plan));
  }
  if (ranks > 1 || devices > 0 || accumulated > 1) {
    llvm::errs() << llvm::format("tessera-compile: mesh dp=%lld x tp=%lld", (long long)dp,
                                 (long long)tp);
    if (pp > 1)
      llvm::errs() << llvm::format(" x pp=%lld, %lld micro-batches", (long long)pp,
                                   (long long)m);
    if (accumulated > 1)
      llvm::errs() << llvm::format(", %lld micro-batches accumulated", (long long)accumulated);
    llvm::errs() << " on " << spec->name
                 << llvm::format(": predicted %.4f ms per batch", best->seconds * 1e3)
                 << (objective == "throughput" && pp > 1 ? " in steady state" : "");
    if (pp == 1)
      llvm::errs() << llvm::format(" (compute %.4f ms, communication %.4f ms)",
                                   best->plan->computeSeconds * 1e3,
                                   (best->plan->commSeconds + best->gradientSeconds) * 1e3);
    else
      llvm::errs() << llvm::format(" (%lld steps of %.4f ms, bubble %.0f%%%s%s)",
                                   (long long)(m + pp - 1), best->stages.stepSeconds * 1e3,
                                   100.0 * double(pp - 1) / double(m + pp - 1),
                                   trainPipeline ? ", recomputation " : "",
                                   trainPipeline ? best->recompute.c_str() : "");
    if (trainMode && dp > 1 && best->zero > 0)
      llvm::errs() << ", ZeRO-" << best->zero;
    llvm::errs() << llvm::format(", weights %.2f MiB per rank; search %.3f s over %u ops "
                                 "(%u variables)\n",
                                 stageMemory / 1048576.0, best->plan->searchSeconds,
                                 best->plan->ops, best->plan->variables);
    if (pp > 1)
      for (int64_t s = 0; s < pp; ++s)
        llvm::errs() << llvm::format("tessera-compile:   stage %lld: ops [%zu, %zu), "
                                     "%.4f ms + send %.4f ms, weights %.2f MiB per rank\n",
                                     (long long)s, best->stages.bounds[size_t(s)],
                                     best->stages.bounds[size_t(s) + 1],
                                     best->stages.stageSeconds[size_t(s)] * 1e3,
                                     best->stages.sendSeconds[size_t(s)] * 1e3,
                                     best->stages.weightBytes[size_t(s)] / 1048576.0);
  }

  if (emit == Emit::Summary)
    return 0;

  // One SPMD module per tensor-parallel index (every stage in it); rank r is
  // replica d, stage s, tp index t with r = (d * pp + s) * tp + t.
  std::vector<OwningOpRef<ModuleOp>> spmd;
  for (int64_t t = 0; t < tp; ++t) {
    OwningOpRef<ModuleOp> rankModule(cast<ModuleOp>((*planned)->clone()));
    PassManager pm(&context);
    partition::SpmdPartitionPassOptions spmdOptions;
    spmdOptions.rank = t;
    pm.addPass(partition::createSpmdPartitionPass(spmdOptions));
    if (failed(pm.run(*rankModule)) || failed(verify(*rankModule)))
      return 1;
    spmd.push_back(std::move(rankModule));
  }
  // ZeRO: each replica keeps its block of the optimizer state (and of the
  // gradients, the parameters): one module per replica and tp index.
  // (--zero auto: the stage the search chose.)
  zeroStage = best->zero;
  const bool sharded = zeroStage > 0 && dp > 1;
  if (sharded) {
    std::vector<OwningOpRef<ModuleOp>> replicas;
    for (int64_t d = 0; d < dp; ++d)
      for (int64_t t = 0; t < tp; ++t) {
        OwningOpRef<ModuleOp> replicaModule(cast<ModuleOp>((*spmd[size_t(t)])->clone()));
        PassManager pm(&context);
        partition::ZeroPassOptions zeroOptions;
        zeroOptions.stage = zeroStage;
        zeroOptions.rank = d;
        pm.addPass(partition::createZeroPass(zeroOptions));
        if (failed(pm.run(*replicaModule)) || failed(verify(*replicaModule)))
          return 1;
        replicas.push_back(std::move(replicaModule));
      }
    spmd = std::move(replicas);
  }
  // The replicas' gradient sums in buckets (tsr-partition-bucket-gradients).
  if (trainMode && dp > 1 && bucketMb > 0)
    for (OwningOpRef<ModuleOp> &module : spmd) {
      PassManager pm(&context);
      partition::BucketGradientsPassOptions bucketOptions;
      bucketOptions.bucketBytes = int64_t(bucketMb * 1048576.0);
      pm.addPass(partition::createBucketGradientsPass(bucketOptions));
      if (failed(pm.run(*module)) || failed(verify(*module)))
        return 1;
    }
  // The module of rank r = (d * pp + s) * tp + t.
  auto moduleOf = [&](int64_t r) {
    return *spmd[size_t(sharded ? r / (pp * tp) * tp + r % tp : r % tp)];
  };
  if (emit == Emit::Partitioned) {
    if (emitRank < 0 || emitRank >= ranks) {
      llvm::errs() << "error: --rank " << emitRank << " is not a rank of the "
                   << ranks << "-rank mesh\n";
      return 2;
    }
    int64_t stage = (emitRank / tp) % pp;
    OwningOpRef<ModuleOp> shown(cast<ModuleOp>(moduleOf(emitRank)->clone()));
    // The stage's function (a pipelined training step: its segments).
    std::vector<func::FuncOp> kept = stageFuncs(*shown, stage);
    for (func::FuncOp f : llvm::make_early_inc_range(shown->getOps<func::FuncOp>()))
      if (!llvm::is_contained(kept, f))
        f.erase();
    return writeText(output, [&](llvm::raw_ostream &os) {
      os << "// rank " << emitRank << " of mesh dp=" << dp << " x tp=" << tp;
      if (pp > 1)
        os << " x pp=" << pp << " (stage " << stage << ")";
      os << "\n";
      shown->print(os);
      os << "\n";
    });
  }

  // Each kernel's predicted time, on the rank's local shapes.
  auto costOf = [&](Operation *op) -> double {
    bool across = tp > spec->devicesPerNode;
    if (auto reduce = dyn_cast<shard::AllReduceOp>(op)) {
      // Over the mesh's first axis: the data-parallel replicas (training).
      bool replicas = reduce.getGridAxes().size() == 1 && reduce.getGridAxes()[0] == 0;
      return cost.collectiveSeconds(Collective::AllReduce, bytesOf(op->getResult(0)),
                                    int(replicas ? dp : tp),
                                    replicas ? ranks > spec->devicesPerNode : across);
    }
    if (isa<shard::AllGatherOp>(op))
      return cost.collectiveSeconds(Collective::AllGather, bytesOf(op->getResult(0)), int(tp),
                                    across);
    if (isa<shard::ReduceScatterOp>(op))
      return cost.collectiveSeconds(Collective::ReduceScatter, bytesOf(op->getOperand(0)),
                                    int(tp), across);
    return cost.computeSeconds(workOf(op), computeTypeOf(op));
  };
  std::vector<lower::ProgramPlan> programs;
  for (int64_t r = 0; r < ranks; ++r) {
   int64_t s = (r / tp) % pp;
   for (func::FuncOp func : stageFuncs(moduleOf(r), s)) {
    FailureOr<lower::ProgramPlan> program = lower::planProgram(func, r, costOf);
    if (failed(program))
      return 1;
    program->stage = uint32_t(s);
    program->predictedSeconds = stagePlans[size_t(s)].totalSeconds();
    if (trainPipeline) {
      // A segment: the runtime runs it per micro-batch or once per step;
      // the step's inputs are split over replicas and micro-batches, values
      // between segments ("x:N") are not.
      program->role = func->getAttrOfType<StringAttr>("tsr.segment").str();
      program->predictedSeconds = 0; // its own kernels'
      for (const lower::PlannedKernel &k : program->kernels)
        program->predictedSeconds += k.predictedSeconds;
      program->prefillRank = uint32_t(r); // the rank of a program with a role
      if (dp * m > 1)
        for (auto [i, id] : llvm::enumerate(program->inputs))
          if (auto name = func.getArgAttrOfType<StringAttr>(unsigned(i), "tsr.name");
              !name || !name.getValue().starts_with("x:"))
            program->tensors[id].splitAxis = 0;
    } else if (dp * m > 1) {
      // Graph inputs (first stage) and outputs (last stage) are split over
      // the replicas and micro-batches; values between stages are not.
      if (s == 0)
        for (uint32_t id : program->inputs)
          program->tensors[id].splitAxis = 0;
      if (s == pp - 1) {
        // Results the replicas share (a training step's loss and updated
        // weights) are whole.
        func::FuncOp f = stageFunc(moduleOf(r), s);
        for (auto [i, id] : llvm::enumerate(program->outputs))
          if (!trainMode || !f.getResultAttr(unsigned(i), "tsr.replicated"))
            program->tensors[id].splitAxis = 0;
      }
    }
    // Training: --tie A=B leaves A out of the program; --export-onnx
    // writes B's trained values there too.
    for (llvm::StringRef tie : ties) {
      auto [alias, target] = tie.split('=');
      bool transposed = target.consume_back(".T");
      const onnx::WeightRecord *a = model->weights.find(alias.str());
      const onnx::WeightRecord *b = model->weights.find(target.str());
      if (a && b && a->shape != b->shape)
        transposed = true;
      for (auto [state, value] : program->stateUpdates)
        if (program->tensors[state].weight == target && !program->tensors[state].zeros)
          program->tiedWeights.push_back({alias.str(), state, transposed});
    }
    programs.push_back(std::move(*program));
   }
  }
  if (generation && !prefillLengths.empty()) {
    // The prompt in one run per length bucket, beside the decode step;
    // the plan rewrites below (epilogues, attention views) apply to them too.
    std::vector<lower::ProgramPlan> prefills;
    if (failed(buildPrefillPrograms(context, *model, options, prefillLengths, maxSeq, genIds,
                                    prefills)))
      return 1;
    for (lower::ProgramPlan &p : prefills)
      programs.push_back(std::move(p));
    generation->lastPositions = "last_positions";
  }
  if (!noEpilogues && !noGraphFusion) {
    lower::GemmEpilogueOptions epilogues;
    epilogues.cpu = target != "cuda";
    int fused = 0;
    for (lower::ProgramPlan &plan : programs)
      fused += lower::fuseGemmEpilogues(plan, epilogues);
    if (fused && target == "cuda")
      llvm::errs() << "tessera-compile: " << fused
                   << " GEMM(s) take their bias (and GELU) as a cuBLASLt epilogue\n";
    else if (fused)
      llvm::errs() << "tessera-compile: " << fused
                   << " GEMM(s) take their bias, activation or residual add as an epilogue\n";
  }
  if (!noAttentionViews && !noGraphFusion) {
    int folded = 0;
    for (lower::ProgramPlan &plan : programs)
      folded += lower::foldAttentionViews(plan);
    if (folded)
      llvm::errs() << "tessera-compile: attention reads and writes strided views: " << folded
                   << " transpose/split kernel(s) fewer\n";
  }
  if (narrowTo)
    narrowPrograms(programs, *narrowTo);
  if (trainMode && !programs.empty()) {
    // What a training step holds: weights, optimizer state (zero-initialised
    // weights), and the arena, where activations and gradients live.
    // (Rank 0's programs: one, or a pipeline stage's segments.)
    uint64_t weightBytes = 0, stateBytes = 0, arenaBytes = 0;
    size_t updated = 0;
    std::set<std::string> counted;
    for (const lower::ProgramPlan &program : programs) {
      if ((trainPipeline ? program.prefillRank : uint32_t(&program - &programs[0])) != 0)
        continue;
      arenaBytes += program.arenaBytes;
      for (const lower::PlannedTensor &t : program.tensors)
        if (t.kind == lower::PlannedTensor::Kind::Weight && t.aliasOf < 0 &&
            t.weight.rfind("pipe.acc:", 0) != 0 && counted.insert(t.name).second)
          (t.zeros ? stateBytes : weightBytes) += t.size;
      for (auto [state, value] : program.stateUpdates)
        updated += program.tensors[state].weight.rfind("pipe.acc:", 0) != 0;
    }
    llvm::errs() << llvm::format("tessera-compile: training step: weights %.2f MiB, optimizer "
                                 "state %.2f MiB, activations and gradients %.2f MiB (arena), "
                                 "%zu tensors updated per step\n",
                                 weightBytes / 1048576.0, stateBytes / 1048576.0,
                                 arenaBytes / 1048576.0, updated);
  }
  if ((emit == Emit::Plan || emit == Emit::Cuda) && (emitRank < 0 || emitRank >= ranks)) {
    llvm::errs() << "error: --rank " << emitRank << " is not a rank of the " << ranks
                 << "-rank mesh\n";
    return 2;
  }
  if (emit == Emit::Plan)
    return writeText(output, [&](llvm::raw_ostream &os) { lower::printPlan(programs[size_t(emitRank)], os); });
  std::optional<PackageCuda> cuda;
  if (target == "cuda") {
    std::string error, warning;
    if (emit == Emit::Cuda) {
      lower::CudaModule module;
      if (!lower::generateCuda(programs[size_t(emitRank)], module, error)) {
        llvm::errs() << "error: --target=cuda: " << error << "\n";
        return 1;
      }
      return writeText(output, [&](llvm::raw_ostream &os) { os << module.source; });
    }
    std::vector<std::string> archs;
    for (llvm::StringRef a : llvm::split(llvm::StringRef(cudaArchs), ','))
      if (!a.trim().empty())
        archs.push_back(a.trim().str());
    cuda.emplace();
    if (!buildCuda(programs, archs, *cuda, error, warning)) {
      llvm::errs() << "error: --target=cuda: " << error << "\n";
      return 1;
    }
    if (!warning.empty())
      llvm::errs() << "warning: " << warning << "\n";
  }
  std::vector<unsigned> meshShape = {unsigned(dp)};
  if (pp > 1)
    meshShape.push_back(unsigned(pp));
  if (tp > 1 || pp > 1)
    meshShape.push_back(unsigned(tp));
  // Split a batch's predicted time: the busy steps in the slowest stage's
  // compute/communication proportion, the rest pipeline bubble.
  PackagePrediction prediction;
  prediction.cluster = spec->name;
  prediction.deviceMemoryBytes = spec->device.memoryBytes;
  prediction.sendSeconds = pp > 1 ? best->stages.sendSeconds : std::vector<double>{0.0};
  prediction.objective = objective;
  prediction.batchSeconds = best->seconds;
  {
    const partition::ShardingPlan *slowest = &stagePlans[0];
    for (const partition::ShardingPlan &p : stagePlans)
      if (p.totalSeconds() > slowest->totalSeconds())
        slowest = &p;
    double busy = pp == 1 ? best->seconds : double(m) * best->stages.stepSeconds;
    double total =
        std::max(slowest->totalSeconds() + (pp == 1 ? best->gradientSeconds : 0.0), 1e-30);
    prediction.computeSeconds = busy * slowest->computeSeconds / total;
    prediction.communicationSeconds = busy - prediction.computeSeconds;
    prediction.bubbleSeconds = best->seconds - busy;
  }
  llvm::Expected<PackageStats> stats = writePackage(
      output, programs, meshShape, *model, "tessera-compile from " + std::string(input),
      /*progress=*/true, weights == "external", unsigned(pp), unsigned(m), &prediction,
      cuda ? &*cuda : nullptr, generation ? &*generation : nullptr);
  if (!stats) {
    llvm::errs() << "error: " << llvm::toString(stats.takeError()) << "\n";
    return 1;
  }
  llvm::errs() << "tessera-compile: wrote " << output << " (" << stats->fileBytes
               << " bytes: " << stats->kernels << " kernels in " << ranks << " rank(s), "
               << stats->weightBytes << " weight bytes; activation arena "
               << stats->arenaBytes << " bytes per rank, "
               << programs[0].unplannedBytes << " without memory planning)";
  if (planOnly) {
    // Only weights whose files are missing are absent; the others are in.
    size_t absent = 0;
    for (const auto &entry : model->weights.records())
      absent += entry.second.absent;
    if (absent)
      llvm::errs() << "; plan only, weights absent: " << absent << " of "
                   << model->weights.records().size()
                   << " (the package can be inspected, not run)";
    else
      llvm::errs() << "; plan only, but every weight was found: the package runs";
  }
  llvm::errs() << "\n";
  if (verifyPackage) {
    // The nested compile parses its own options: keep this one's first.
    std::string compiledPath = output;
    double rtol = verifyRtol, atol = verifyAtol;
    if (generation)
      return verifyGenerationAgainstReference(argc, argv, compiledPath, verifyBounds,
                                              generation->batch, generation->maxSeq, rtol, atol);
    return verifyAgainstReference(argc, argv, compiledPath, verifyBounds, rtol, atol);
  }
  return 0;
}
