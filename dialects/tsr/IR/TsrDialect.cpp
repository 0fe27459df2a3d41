//===- TsrDialect.cpp - the tsr dialect -----------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/TsrDialect.h"
#include "dialects/tsr/IR/TsrOps.h"

using namespace mlir;
using namespace mlir::tsr;

#include "dialects/tsr/IR/TsrDialect.cpp.inc"

void TsrDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/tsr/IR/TsrOps.cpp.inc"
      >();
  registerAttributes();
}

Operation *TsrDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, elements);
}
