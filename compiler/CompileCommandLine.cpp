//===- CompileCommandLine.cpp - tessera-compile's command line ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The options of tessera-compile as LLVM command-line options, read into one
// CompileOptions. Parsed afresh on every call (the Python package compiles
// many models in one process); a bad option returns instead of exiting.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"
#include "compiler/CompileOptions.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using tessera::CompileOptions;

namespace {

/// tessera-compile's options, registered once, on the first parse (not at
/// load: tessera-opt and the Python module link this library too).
struct Flags {
  cl::OptionCategory inputCat{"Input model"};
  cl::OptionCategory planCat{"Partitioning (data, tensor and pipeline parallelism)"};
  cl::OptionCategory targetCat{"Target and package"};
  cl::OptionCategory outputCat{"Output"};
  cl::OptionCategory trainCat{
      "Training and generation (--train: a program is one training step; --generate: one "
      "decode step with a KV cache)"};
  cl::opt<bool> trainMode{cl::cat(trainCat), "train",
                             cl::desc("compile a training step: loss, gradients, optimizer")};
  cl::opt<std::string> loss{cl::cat(trainCat), "loss", cl::init("cross-entropy"),
                                   cl::desc("cross-entropy (mean over labels != -100), or none: the first "
                                            "output is the loss")};
  cl::opt<std::string> logits{cl::cat(trainCat), "logits", cl::init(""),
                                     cl::desc("the output the loss reads (default: the first)")};
  cl::opt<std::string> labels{cl::cat(trainCat), "labels", cl::init("labels"),
                                     cl::desc("the name of the int64 labels input")};
  cl::opt<std::string> optimizerName{cl::cat(trainCat), "optimizer", cl::init("adamw"),
                                            cl::desc("adamw or sgd (PyTorch's semantics), or none: return the "
                                                     "gradients")};
  cl::opt<double> lr{cl::cat(trainCat), "lr", cl::init(1e-3), cl::desc("learning rate")};
  cl::opt<std::string> betas{cl::cat(trainCat), "betas", cl::init("0.9,0.999"),
                                    cl::desc("AdamW betas: B1,B2")};
  cl::opt<double> eps{cl::cat(trainCat), "eps", cl::init(1e-8), cl::Hidden,
                            cl::desc("AdamW epsilon (default 1e-8)")};
  cl::opt<std::string> dropoutSeed{cl::cat(trainCat), "dropout-seed", cl::init("0"), cl::value_desc("N|off"),
                                          cl::desc("training-mode Dropout (p > 0): its random stream's seed; off: none")};
  cl::opt<double> weightDecay{cl::cat(trainCat), "weight-decay", cl::init(0.01),
                                     cl::desc("AdamW: decoupled; SGD: added to the gradient")};
  cl::opt<double> momentum{cl::cat(trainCat), "momentum", cl::init(0.0),
                                  cl::desc("SGD momentum (--nesterov, --dampening)")};
  cl::opt<bool> nesterov{cl::cat(trainCat), "nesterov", cl::Hidden};
  cl::opt<double> dampening{cl::cat(trainCat), "dampening", cl::init(0.0), cl::Hidden};
  cl::opt<double> clipGradNorm{cl::cat(trainCat), "clip-grad-norm", cl::init(0.0),
                                      cl::desc("clip the global gradient L2 norm (0: off)")};
  cl::opt<std::string> lrSchedule{cl::cat(trainCat), "lr-schedule", cl::init("constant"),
                                         cl::desc("constant or cosine (--warmup-steps, "
                                                  "--total-steps)")};
  cl::opt<int64_t> warmupSteps{cl::cat(trainCat), "warmup-steps", cl::init(0), cl::Hidden};
  cl::opt<int64_t> totalSteps{cl::cat(trainCat), "total-steps", cl::init(0), cl::Hidden};
  cl::list<std::string> frozenArgs{cl::cat(trainCat), "frozen", cl::value_desc("GLOB"),
                                      cl::desc("weights that are not trained (names or globs)")};
  cl::opt<bool> noEvalProgram{cl::cat(trainCat), "no-eval-program", cl::Hidden,
      cl::desc("no validation program beside the training step (tessera-run --eval-data)")};
  cl::opt<bool> gradInputs{cl::cat(trainCat), "grad-inputs", cl::Hidden,
                                  cl::desc("also differentiate the float inputs (grad:NAME)")};
  cl::list<std::string> tieArgs{cl::cat(trainCat), "tie", cl::value_desc("A=B[.T]|A"),
                                       cl::desc("weight A is weight B (or its transpose); A "
                                                "alone: A stays one parameter")};
  cl::list<std::string> untie{cl::cat(trainCat), "untie", cl::value_desc("A"), cl::Hidden,
                                     cl::desc("each reader of initializer A trains its own "
                                              "copy (automatic where all its elements are equal)")};
  cl::OptionCategory &generateCat = trainCat;
  cl::opt<bool> generateMode{cl::cat(generateCat), "generate",
                                    cl::desc("compile text generation: one new token per sequence "
                                             "per run, keys and values kept in a cache")};
  cl::opt<int64_t> maxSeq{cl::cat(generateCat), "max-seq", cl::init(0),
                                 cl::desc("positions the KV cache holds (prompt + new tokens)")};
  cl::opt<std::string> prefill{cl::cat(generateCat), "prefill", cl::init("16,64,256"),
                                      cl::desc("prompt lengths of prefill programs (the prompt "
                                               "in one run; longer ones continue step by "
                                               "step), or none")};
  cl::opt<std::string> genIds{cl::cat(generateCat), "ids-input", cl::init("input_ids"),
                                     cl::desc("the token ids input"), cl::Hidden};
  cl::opt<std::string> genMask{cl::cat(generateCat), "mask-input",
                                      cl::init("attention_mask"),
                                      cl::desc("the attention mask input"), cl::Hidden};
  cl::opt<std::string> genPositionIds{cl::cat(generateCat), "position-ids-input",
                                             cl::init("position_ids"),
                                             cl::desc("the position ids input"), cl::Hidden};
  cl::opt<std::string> input{cl::cat(inputCat), cl::Positional,
                                    cl::desc("<model.onnx | tsr.mlir>"),
                                    cl::Required};
  cl::list<std::string> inputShapes{cl::cat(inputCat), "input-shape", cl::desc("shape of a graph input: NAME=4x128"),
      cl::value_desc("NAME=DxD...")};
  cl::list<std::string> dims{cl::cat(inputCat), "dim", cl::desc("value of a symbolic dimension: NAME=4"),
      cl::value_desc("NAME=N")};
  cl::opt<int64_t> batch{cl::cat(inputCat), "batch",
                                cl::desc("value of symbolic first dimensions"),
                                cl::init(-1)};
  cl::opt<int64_t> seq{cl::cat(inputCat), "seq",
                              cl::desc("value of symbolic second dimensions"),
                              cl::init(-1)};
  cl::opt<CompileOptions::Emit> emit{cl::cat(outputCat), "emit", cl::desc("what to write"), cl::init(CompileOptions::Emit::None),
      cl::values(clEnumValN(CompileOptions::Emit::Tsr, "tsr", "the imported tsr IR"),
                 clEnumValN(CompileOptions::Emit::TsrFused, "tsr-fused",
                            "the tsr IR after the graph pipeline"),
                 clEnumValN(CompileOptions::Emit::TsrTrain, "tsr-train",
                            "the tsr IR of the training step (--train)"),
                 clEnumValN(CompileOptions::Emit::TsrDecode, "tsr-decode",
                            "the tsr IR of the decode step (--generate)"),
                 clEnumValN(CompileOptions::Emit::Summary, "summary",
                            "the chosen plan only (no package)"),
                 clEnumValN(CompileOptions::Emit::Partitioned, "partitioned",
                            "the SPMD tsr IR of one rank (--rank), with its "
                            "shard collectives"),
                 clEnumValN(CompileOptions::Emit::Plan, "plan",
                            "the lowered kernels and memory plan"),
                 clEnumValN(CompileOptions::Emit::Cuda, "cuda",
                            "the generated CUDA C++ of one rank (--rank; "
                            "implies --target=cuda)"))};
  cl::opt<std::string> target{cl::cat(targetCat), "target", cl::desc("the backend the package is for: cpu (the default) or "
                         "cuda (generated CUDA kernels compiled with NVRTC, "
                         "cuBLASLt GEMMs, NCCL)"),
      cl::init("cpu")};
  cl::opt<std::string> dtype{cl::cat(targetCat), "dtype", cl::desc("element type of float tensors: fp32 (the default), bf16 "
                        "or fp16 (--target=cuda; kernels accumulate in fp32)"),
      cl::init("fp32")};
  cl::opt<bool> noEpilogues{cl::cat(targetCat), "no-gemm-epilogues", cl::desc("keep bias adds, activations and residual adds as kernels "
                                    "of their own instead of GEMM epilogues"),
      cl::init(false)};
  cl::opt<bool> noAttentionViews{cl::cat(targetCat), "no-attention-views", cl::Hidden, cl::desc("keep the head transposes (and QKV splits) around "
                                     "attention as copy kernels"),
      cl::init(false)};
  cl::opt<std::string> cudaArchs{cl::cat(targetCat), "cuda-arch", cl::Hidden, cl::desc("CUDA architectures to embed images for (cubins: "
                            "sm_XX, PTX: compute_XX)"),
      cl::init("sm_80,sm_90,compute_80")};
  cl::opt<std::string> weights{cl::cat(targetCat), "weights",
      cl::desc("where packages keep weights: 'embedded' (copied in, the "
               "default) or 'external' (references into the model's files)"),
      cl::init("embedded")};
  cl::opt<std::string> mesh{cl::cat(planCat), "mesh", cl::desc("fixed device mesh: dp=2,tp=4 (data parallel over the "
                       "first dimension of inputs and outputs; tensor parallel "
                       "inside layers, weights split tp ways)"),
      cl::init("")};
  cl::opt<int64_t> devices{cl::cat(planCat), "devices", cl::desc("plan for N devices: the compiler chooses dp x tp x pp and micro-batches (N CPU devices without --cluster)"),
      cl::init(0)};
  cl::opt<std::string> cluster{cl::cat(planCat), "cluster", cl::desc("cluster the plan is made for: a preset (cpu, "
                          "a100-nvlink-8, h100-nvlink-8, h100-ib-N, a100-ib-N) or a JSON "
                          "file (docs/cluster-spec.md)"),
      cl::init("cpu")};
  cl::opt<std::string> objective{cl::cat(planCat), "objective", cl::desc("latency (time of one batch, the default) or "
                            "throughput (samples per second)"),
      cl::init("latency")};
  cl::list<std::string> hints{cl::cat(planCat), "shard", cl::desc("fix a weight's layout on the tp axis: NAME=R|S0|S1..."),
      cl::value_desc("NAME=LAYOUT")};
  cl::opt<int64_t> microbatches{cl::cat(planCat), "microbatches", cl::desc("micro-batches per pipeline, or accumulated per training step (default: the "
                               "compiler chooses)"),
      cl::init(0)};
  cl::opt<int64_t> microbatchSize{cl::cat(planCat), "microbatch-size", cl::desc("samples per micro-batch (pipelines): the search keeps it, choosing the count per mesh"), cl::init(0)};
  cl::opt<double> bucketMb{
      cl::cat(planCat), "grad-bucket-mb", cl::init(25), cl::Hidden,
      cl::desc("training with data parallelism: the gradients summed over the "
               "replicas in "
               "buckets of this many MiB, each started as soon as it is ready "
               "(0: one "
               "all-reduce per gradient)")};
  cl::opt<std::string> zeroOption{
      cl::cat(planCat), "zero",
      cl::desc(
          "training with data parallelism: shard over the replicas the "
          "optimizer state (1), also the gradients (2), also the parameters "
          "(3); 0: off, the default; auto: the fastest that fits"),
      cl::init("0")};
  cl::opt<std::string> recompute{cl::cat(planCat), "recompute", cl::desc("training pipelines: none (keep activations), selective (all but matmul/attention results recomputed) or full (each stage's forward pass again; the default: the search chooses)"), cl::init("")};
  cl::opt<std::string> pipelineSplit{cl::cat(planCat), "pipeline-split", cl::desc("how stages are cut: balanced (dynamic "
                                 "programming, the default) or even (the same "
                                 "number of layers each, as Megatron-LM does)"),
      cl::init("balanced")};
  cl::opt<bool> explain{cl::cat(planCat), "explain", cl::desc("print the chosen plan and every alternative considered "
                          "with its predicted time and memory, and why meshes "
                          "were ruled out"),
      cl::init(false)};
  cl::opt<bool> printPipeline{cl::cat(outputCat), "print-pipeline", cl::Hidden,
      cl::desc("print the pass pipeline from --emit=tsr's IR on, in MLIR's textual "
               "syntax (tessera-opt --pass-pipeline=... runs it)")};
  cl::opt<int64_t> promptProgram{cl::cat(outputCat), "prompt-program", cl::Hidden, cl::init(0),
      cl::desc("--generate: --emit=tsr, --emit=partitioned and --print-pipeline show the "
               "prompt program of this --prefill length")};
  cl::opt<int64_t> emitRank{cl::cat(outputCat), "rank", cl::desc("the rank --emit=partitioned, plan and cuda print"), cl::init(0), cl::Hidden};
  cl::opt<bool> allowNewerOpset{
      cl::cat(inputCat), "allow-newer-opset", cl::Hidden,
      cl::desc("import a model of an opset newer than Tessera knows, as the newest it knows")};
  cl::opt<bool> planOnly{cl::cat(inputCat), "plan-only", cl::desc("plan a model whose weight files are absent; the "
                            "package can be inspected, not run"),
      cl::init(false)};
  cl::opt<std::string> output{cl::cat(outputCat), "o", cl::desc("output file"),
                                     cl::value_desc("file"), cl::init("-")};
  cl::opt<bool> verifyPackage{cl::cat(outputCat), "verify",
      cl::desc("also compile the model as imported (no fusion, one rank) and run both "
               "packages on the same random inputs; fail when an output differs beyond "
               "--verify-rtol/--verify-atol (1e-4)"),
      cl::init(false)};
  cl::opt<double> verifyRtol{cl::cat(outputCat), "verify-rtol", cl::Hidden,
                                    cl::init(1e-4)};
  cl::opt<double> verifyAtol{cl::cat(outputCat), "verify-atol", cl::Hidden,
                                    cl::init(1e-4)};
  cl::opt<bool> noGraphFusion{cl::cat(targetCat), "no-graph-fusion", cl::Hidden,
      cl::desc("lower the model as imported: no graph fusion, GEMM epilogues or attention "
               "views (--verify's reference)"),
      cl::init(false)};
};

Flags &flags() {
  static Flags instance;
  return instance;
}

} // namespace

bool tessera::parseCompileCommandLine(int argc, char **argv, CompileOptions &o) {
  Flags &f = flags();
  cl::HideUnrelatedOptions(
      {&f.inputCat, &f.planCat, &f.targetCat, &f.outputCat, &f.trainCat});
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
    return false;
  o.input = f.input;
  o.inputShapes.assign(f.inputShapes.begin(), f.inputShapes.end());
  o.dims.assign(f.dims.begin(), f.dims.end());
  o.batch = f.batch;
  o.seq = f.seq;
  o.allowNewerOpset = f.allowNewerOpset;
  o.planOnly = f.planOnly;
  o.train = f.trainMode;
  o.loss = f.loss;
  o.logits = f.logits;
  o.labels = f.labels;
  o.optimizer = f.optimizerName;
  o.lr = f.lr;
  o.betas = f.betas;
  o.eps = f.eps;
  o.dropoutSeed = f.dropoutSeed;
  o.weightDecay = f.weightDecay;
  o.momentum = f.momentum;
  o.nesterov = f.nesterov;
  o.dampening = f.dampening;
  o.clipGradNorm = f.clipGradNorm;
  o.lrSchedule = f.lrSchedule;
  o.warmupSteps = f.warmupSteps;
  o.totalSteps = f.totalSteps;
  o.frozen.assign(f.frozenArgs.begin(), f.frozenArgs.end());
  o.ties.assign(f.tieArgs.begin(), f.tieArgs.end());
  o.untie.assign(f.untie.begin(), f.untie.end());
  o.gradInputs = f.gradInputs;
  o.generate = f.generateMode;
  o.maxSeq = f.maxSeq;
  o.prefill = f.prefill;
  o.idsInput = f.genIds;
  o.maskInput = f.genMask;
  o.positionIdsInput = f.genPositionIds;
  o.target = f.target;
  o.dtype = f.dtype;
  o.noGemmEpilogues = f.noEpilogues;
  o.noAttentionViews = f.noAttentionViews;
  o.noGraphFusion = f.noGraphFusion;
  o.cudaArchs = f.cudaArchs;
  o.weights = f.weights;
  o.mesh = f.mesh;
  o.devices = f.devices;
  o.cluster = f.cluster;
  o.clusterGiven = f.cluster.getNumOccurrences() > 0;
  o.objective = f.objective;
  o.shardHints.assign(f.hints.begin(), f.hints.end());
  o.microbatches = f.microbatches;
  o.microbatchSize = f.microbatchSize;
  o.gradBucketMb = f.bucketMb;
  o.zero = f.zeroOption;
  o.recompute = f.recompute;
  o.pipelineSplit = f.pipelineSplit;
  o.explain = f.explain;
  o.emit = f.emit;
  o.rank = f.emitRank;
  o.printPipeline = f.printPipeline;
  o.promptProgram = f.promptProgram;
  o.noEvalProgram = f.noEvalProgram;
  o.output = f.output;
  o.verify = f.verifyPackage;
  o.verifyRtol = f.verifyRtol;
  o.verifyAtol = f.verifyAtol;
  return true;
}

int tessera::compileMain(int argc, char **argv) {
  CompileOptions options;
  if (!parseCompileCommandLine(argc, argv, options))
    return 1;
  return compile(std::move(options));
}
