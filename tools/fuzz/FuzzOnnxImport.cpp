//===- FuzzOnnxImport.cpp - fuzz target: ONNX models up to tsr IR ---------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Maps and parses the bytes as a model (ModelFile: raw data cut out before
// parsing, external data confined to the model's folder), imports it into
// the tsr dialect with every symbolic dimension bound (batch 2, sequence 8)
// and verifies the module. Diagnostics are dropped: refusing is fine,
// crashing, leaking or undefined behaviour is not.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "dialects/tsr/IR/TsrDialect.h"
#include "frontends/onnx/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/Error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *context = [] {
    // The importer's dialects only: the target links the frontend alone.
    auto *c = new mlir::MLIRContext();
    c->loadDialect<mlir::tsr::TsrDialect, mlir::func::FuncDialect>();
    c->getDiagEngine().registerHandler([](mlir::Diagnostic &) { return mlir::success(); });
    return c;
  }();
  std::string path = tessera::fuzz::asFile(data, size, ".onnx");
  auto model = tessera::onnx::ModelFile::open(path, /*allowAbsentWeights=*/true);
  if (!model) {
    llvm::consumeError(model.takeError());
    return 0;
  }
  tessera::onnx::ImportOptions options;
  options.batch = 2;
  options.seq = 8;
  mlir::OwningOpRef<mlir::ModuleOp> module = tessera::onnx::importModel(*context, **model, options);
  if (module)
    (void)mlir::verify(*module);
  return 0;
}
