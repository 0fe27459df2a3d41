//===- tessera-opt.cpp - mlir-opt with Tessera's dialects and passes ------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

#include "llvm/Support/CommandLine.h"

int main(int argc, char **argv) {
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "Tessera " << TESSERA_VERSION << ": tessera-opt runs the tsr passes (--help lists "
       << "them under tsr-graph-*, tsr-partition-*, tsr-lower-*)\n";
  });
  mlir::DialectRegistry registry;
  tessera::registerAllDialects(registry);
  tessera::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tessera optimizer driver\n", registry));
}
