//===- CompileOptions.h - everything a compile is told ----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// One struct for every option of a compile: tessera-compile's command line
// fills it (compiler/CompileCommandLine.cpp), `tessera::compile` runs it, and
// --verify derives its reference compile from it (referenceOptions) instead
// of editing an argument list. Values are kept as the user wrote them where an
// error message quotes them; `checkCompileOptions` validates and normalises
// them before any model is read.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_COMPILEOPTIONS_H
#define TESSERA_COMPILER_COMPILEOPTIONS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

struct CompileOptions {
  /// What to write: a package (None), IR after a phase, or a plan.
  enum class Emit { None, Tsr, TsrFused, TsrTrain, TsrDecode, Summary, Partitioned, Plan, Cuda };

  // The input model.
  std::string input; ///< model.onnx, or tsr IR (.mlir)
  std::vector<std::string> inputShapes; ///< NAME=4x128
  std::vector<std::string> dims;        ///< NAME=4
  int64_t batch = -1, seq = -1;         ///< symbolic first/second dims (-1: unset)
  bool allowNewerOpset = false;
  bool planOnly = false; ///< weights' files may be absent

  // Training (--train).
  bool train = false;
  std::string loss = "cross-entropy", logits, labels = "labels";
  std::string optimizer = "adamw";
  double lr = 1e-3;
  std::string betas = "0.9,0.999";
  double eps = 1e-8;
  std::string dropoutSeed = "0"; ///< an integer, or "off"
  double weightDecay = 0.01, momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
  double clipGradNorm = 0.0;
  std::string lrSchedule = "constant";
  int64_t warmupSteps = 0, totalSteps = 0;
  std::vector<std::string> frozen; ///< names or globs
  std::vector<std::string> ties;   ///< A=B[.T], or A alone (keep A shared)
  std::vector<std::string> untie;
  bool gradInputs = false;

  // Generation (--generate).
  bool generate = false;
  int64_t maxSeq = 0;
  std::string prefill = "16,64,256";
  std::string idsInput = "input_ids", maskInput = "attention_mask",
              positionIdsInput = "position_ids";

  // Target and package.
  std::string target = "cpu", dtype = "fp32";
  bool noGemmEpilogues = false, noAttentionViews = false, noGraphFusion = false;
  std::string cudaArchs = "sm_80,sm_90,compute_80";
  std::string weights = "embedded";

  // Partitioning.
  std::string mesh;
  int64_t devices = 0;
  std::string cluster = "cpu";
  bool clusterGiven = false; ///< without it, the CPU preset grows to the mesh
  std::string objective = "latency";
  std::vector<std::string> shardHints; ///< NAME=LAYOUT
  int64_t microbatches = 0, microbatchSize = 0;
  double gradBucketMb = 25;
  std::string zero = "0"; ///< 0..3 or auto
  std::string recompute;  ///< "", none, selective, full
  std::string pipelineSplit = "balanced";
  bool explain = false;

  // Output.
  Emit emit = Emit::None;
  int64_t rank = 0; ///< the rank --emit=partitioned|plan|cuda prints
  /// Print the pass pipeline (after the import) instead of compiling.
  bool printPipeline = false;
  /// --emit=tsr, --emit=partitioned and --print-pipeline show the prompt
  /// program of this --prefill length instead of the decode step (0).
  int64_t promptProgram = 0;
  /// --train: no validation program beside the step (CompileEval.cpp).
  bool noEvalProgram = false;
  /// Internal: the module planned is a training step's validation program.
  bool evalProgram = false;
  std::string output = "-";
  bool verify = false;
  double verifyRtol = 1e-4, verifyAtol = 1e-4;
  /// Where the compile's summary line names its source ("tessera-compile
  /// from <input>").
  std::string producer = "tessera-compile";
};

/// "4x128" as dimensions (empty text: none); false on bad text.
bool parseDims(const std::string &text, std::vector<int64_t> &dims);
/// --betas "B1,B2" with 0 <= B < 1; false on bad text.
bool parseBetas(const std::string &text, double &beta1, double &beta2);

/// Validates `options` before anything is read and normalises them
/// (--emit=cuda implies --target=cuda; --generate sets the sequence to
/// --max-seq and the batch to 1 unless given). Prints "error: ..." and
/// returns 2 on a bad option, 0 otherwise.
int checkCompileOptions(CompileOptions &options);

/// --verify's reference: `options` as imported (no fusion, one rank, CPU,
/// fp32) written to `output`; a generation package's reference is the
/// forward pass over its `batch` x `maxSeq` tokens.
CompileOptions referenceOptions(const CompileOptions &options, const std::string &output,
                                int64_t batch = 0, int64_t maxSeq = 0);

/// Runs the compile `options` describe; returns the exit code (0 success,
/// 1 a failure of the model or the plan, 2 a bad option).
int compile(CompileOptions options);

} // namespace tessera

#endif // TESSERA_COMPILER_COMPILEOPTIONS_H
