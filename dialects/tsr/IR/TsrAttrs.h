//===- TsrAttrs.h - the tsr dialect's attributes ----------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSRATTRS_H
#define TESSERA_DIALECTS_TSR_IR_TSRATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include <optional>
#include <string>

#define GET_ATTRDEF_CLASSES
#include "dialects/tsr/IR/TsrAttrs.h.inc"

#endif // TESSERA_DIALECTS_TSR_IR_TSRATTRS_H
