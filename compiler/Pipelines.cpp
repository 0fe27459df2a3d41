//===- Pipelines.cpp - the compiler's pass pipelines ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Pipelines.h"

#include "passes/graph/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

void tessera::buildGraphPipeline(mlir::OpPassManager &pm,
                                 const GraphPipelineOptions &) {
  mlir::OpPassManager &func = pm.nest<mlir::func::FuncOp>();
  func.addPass(mlir::createCanonicalizerPass());
  func.addPass(mlir::createCSEPass());
  func.addPass(graph::createFuseTransformerOpsPass());
  func.addPass(mlir::createCanonicalizerPass());
  func.addPass(mlir::createCSEPass());
}

void tessera::registerPipelines() {
  mlir::PassPipelineRegistration<>(
      "tsr-graph-pipeline", "Graph-level cleanup of imported tsr IR",
      [](mlir::OpPassManager &pm) {
        buildGraphPipeline(pm, GraphPipelineOptions());
      });
}
