//===- tessera-compile.cpp - ONNX model to Tessera IR / package -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Compile.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  return tessera::compileMain(argc, argv);
}
