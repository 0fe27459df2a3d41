//===- CompileDriver.h - the phases of one compile --------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// What one compile holds as it goes through its phases (import -> graph ->
// train | decode -> plan -> partition -> lower -> package), and the phases
// themselves, one function each (Compile.cpp, CompilePartition.cpp,
// CompileLower.cpp). Private to compiler/: tools and Python see
// CompileOptions and `compile` only.
//
// Each phase returns std::nullopt to go on, or the exit code the compile
// ends with (0 where an --emit printed what was asked).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_COMPILEDRIVER_H
#define TESSERA_COMPILER_COMPILEDRIVER_H

#include "compiler/CompileOptions.h"
#include "compiler/PackageWriter.h"
#include "compiler/Pipelines.h"

#include "frontends/onnx/OnnxImporter.h"
#include "passes/lower/ProgramPlan.h"
#include "passes/partition/MeshSearch.h"
#include "passes/partition/Partition.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

using Step = std::optional<int>;

struct Compilation {
  Compilation(CompileOptions options, mlir::MLIRContext &context)
      : o(std::move(options)), context(context) {}

  CompileOptions o;
  mlir::MLIRContext &context;

  // Import.
  onnx::ImportOptions importOptions;
  std::unique_ptr<onnx::ModelFile> model;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<std::string> frozen; ///< --frozen and the rotary tables found
  std::vector<std::string> ties;   ///< --tie A=B pairs
  std::map<std::string, int64_t> verifyBounds;

  // Generation: the decode step's inputs and outputs, and the prompt
  // programs (the model imported at each --prefill length through its own
  // pipeline, partitioned as the decode step: CompilePrompt.cpp).
  std::optional<PackageGeneration> generation;
  std::vector<int64_t> prefillLengths;
  std::vector<std::pair<int64_t, mlir::OwningOpRef<mlir::ModuleOp>>> prefills;
  /// The planned decode step's caches as shard hints ("kv_cache.0.key=S1").
  std::vector<std::string> cacheLayouts;
  /// An encoder-decoder folder (Optimum's): the encoder's file (its weights
  /// join the decoder's store as "encoder:<name>"), the decoder's inputs it
  /// feeds, and its program (role "encoder"), partitioned as the decode step.
  std::string encoderPath;
  std::unique_ptr<onnx::ModelFile> encoderModel;
  std::vector<std::string> encoderInputs;
  mlir::OwningOpRef<mlir::ModuleOp> encoder;
  /// Training: the step's validation program (role "eval": its forward and
  /// loss alone), partitioned as the step (CompileEval.cpp).
  mlir::OwningOpRef<mlir::ModuleOp> eval;
  /// The planned step's weights that `eval` reads, as shard hints.
  std::vector<std::string> evalLayouts;

  // Plan: the chosen mesh (the module's #tsr.mesh_plan) and what the search
  // predicted; `module` is the planned replica from there on.
  MeshPlanReport report;
  int64_t dp = 1, tp = 1, pp = 1, m = 1, ranks = 1;
  int64_t accumulated = 1; ///< micro-batches accumulated inside a training step
  bool trainPipeline = false;

  // Partition: per-stage plans and the SPMD modules (one per tp index, or
  // per (replica, tp index) under ZeRO).
  std::vector<partition::ShardingPlan> stagePlans;
  std::vector<mlir::ModuleOp> spmd; ///< nested in `module`
  bool sharded = false; ///< ZeRO: one module per replica

  /// The pipeline's inputs the import found.
  PipelineInputs pipelineInputs() const { return {frozen, ties, encoderInputs}; }
  /// Runs phases `first` to `last` of the pipeline on `module`.
  mlir::LogicalResult runPhases(Phase first, Phase last);

  // Lower.
  std::vector<lower::ProgramPlan> programs;

  /// The module of rank r = (d * pp + s) * tp + t.
  mlir::ModuleOp moduleOf(int64_t r) const;
  /// The function of stage s (pipelines: "stage<s>", or its first segment).
  mlir::func::FuncOp stageFunc(mlir::ModuleOp m, int64_t s) const;
  /// The functions of stage s: one, or a pipelined training step's segments.
  std::vector<mlir::func::FuncOp> stageFuncs(mlir::ModuleOp m, int64_t s) const;
};

/// Writes `print`'s text to `path` ("-" is stdout); returns the exit code.
int writeText(const std::string &path, llvm::function_ref<void(llvm::raw_ostream &)> print);

// The phases, in order.
Step importPhase(Compilation &c);
Step graphPhase(Compilation &c);
Step trainPhase(Compilation &c);
Step decodePhase(Compilation &c);
Step planPhase(Compilation &c);
Step partitionPhase(Compilation &c);
Step promptPhase(Compilation &c);
Step evalPhase(Compilation &c);
Step lowerPhase(Compilation &c);
Step rewritePhase(Compilation &c);
Step packagePhase(Compilation &c);

// The prompt programs (CompilePrompt.cpp).
/// After the plan: the decode step's cache layouts (Compilation::cacheLayouts).
void recordCacheLayouts(Compilation &c);
/// --emit=tsr --prompt-program L: the model imported at L positions.
Step printPromptImport(Compilation &c);
/// --print-pipeline --prompt-program L (after the plan).
Step printPromptPipeline(Compilation &c);
/// The prompt programs planned beside the decode step's (their roles).
mlir::LogicalResult lowerPrompts(Compilation &c);

// The validation program of a training package (CompileEval.cpp).
/// After the train phase: the step's forward and loss alone (Compilation::eval).
Step sliceEvalProgram(Compilation &c);
/// After the plan: the step's weight layouts (Compilation::evalLayouts).
void recordEvalLayouts(Compilation &c);
// Export folders and encoder-decoders (EncoderDecoder.cpp).
/// `modelPath` a folder: Optimum's encoder-decoder (encoder_model.onnx and
/// decoder_model.onnx: the decoder's path, Compilation::encoderPath) or
/// decoder (model.onnx); refused without --generate or when neither.
Step resolveExportFolder(Compilation &c, std::string &modelPath);
/// The imported decoder's inputs the encoder feeds (encoderInputs).
mlir::LogicalResult findEncoderInputs(Compilation &c);
/// The encoder imported at the decode step's batch and --max-seq positions,
/// its weights renamed "encoder:<name>" into the decoder's store.
mlir::LogicalResult importEncoder(Compilation &c);
/// The generation fields of an encoder-decoder package.
mlir::LogicalResult describeEncoder(Compilation &c, PackageGeneration &g);

} // namespace tessera

#endif // TESSERA_COMPILER_COMPILEDRIVER_H
