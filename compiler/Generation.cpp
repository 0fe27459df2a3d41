//===- Generation.cpp - the prefill programs of --generate ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Generation.h"
#include "tessera/runtime/Roles.h"
#include "compiler/Pipelines.h"
#include "passes/generate/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;

bool tessera::parsePrefillLengths(const std::string &text, int64_t maxSeq,
                                  std::vector<int64_t> &out, std::string &error) {
  out.clear();
  if (text == "none" || text == "0")
    return true;
  for (llvm::StringRef item : llvm::split(llvm::StringRef(text), ',')) {
    int64_t n;
    if (item.trim().getAsInteger(10, n) || n < 1) {
      error = "--prefill '" + text + "' is not a list of prompt lengths (16,64) or none";
      return false;
    }
    n = std::min(n, maxSeq);
    if (std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return true;
}

LogicalResult tessera::buildPrefillPrograms(MLIRContext &context, const onnx::ModelFile &model,
                                            onnx::ImportOptions options,
                                            const std::vector<int64_t> &lengths, int64_t maxSeq,
                                            const std::string &ids,
                                            std::vector<lower::ProgramPlan> &out) {
  for (int64_t length : lengths) {
    options.seq = length;
    OwningOpRef<ModuleOp> module = onnx::importModel(context, model, options);
    if (!module)
      return failure();
    PassManager pm(&context);
    buildGraphPipeline(pm, GraphPipelineOptions());
    OpPassManager &fn = pm.nest<func::FuncOp>();
    generate::PrefillPassOptions prefill;
    prefill.maxSeq = maxSeq;
    prefill.ids = ids;
    fn.addPass(generate::createPrefillPass(prefill));
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createCSEPass());
    if (failed(pm.run(*module)))
      return failure();
    auto func = module->lookupSymbol<func::FuncOp>("main");
    if (!func)
      return module->emitError("generation: the prefill module has no @main"), failure();
    FailureOr<lower::ProgramPlan> plan = lower::planProgram(func, 0, nullptr);
    if (failed(plan))
      return failure();
    plan->role = roles::PrefillRole{length}.str();
    out.push_back(std::move(*plan));
  }
  return success();
}
