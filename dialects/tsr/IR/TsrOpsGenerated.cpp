//===- TsrOpsGenerated.cpp - ODS-generated tsr op definitions -------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Only the generated code lives here, so that editing a verifier recompiles a
// small file rather than every op.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/TsrOps.h"

using namespace mlir;
using namespace mlir::tsr;

#include "dialects/tsr/IR/TsrEnums.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/tsr/IR/TsrOps.cpp.inc"
