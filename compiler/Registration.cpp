//===- Registration.cpp - everything tessera tools register ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Registration.h"
#include "compiler/Pipelines.h"
#include "passes/generate/Passes.h"
#include "passes/graph/Passes.h"
#include "passes/lower/Passes.h"
#include "passes/partition/Passes.h"
#include "passes/train/Passes.h"

#include "dialects/tsr/IR/TsrDialect.h"
#include "dialects/tsr/IR/TsrShardingInterface.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/Extensions/AllExtensions.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/Extensions/AllExtensions.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void tessera::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::tsr::TsrDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                  mlir::shard::ShardDialect>();
  mlir::func::registerAllExtensions(registry);
  mlir::tsr::registerShardingInterfaceModels(registry);
  mlir::tensor::registerAllExtensions(registry);
}

void tessera::registerAllPasses() {
  mlir::registerTransformsPasses();
  mlir::shard::registerShardPasses();
  tessera::graph::registerGraphPasses();
  tessera::partition::registerPartitionPasses();
  tessera::lower::registerLowerPasses();
  tessera::train::registerTrainPasses();
  tessera::generate::registerGeneratePasses();
  registerPipelines();
}
