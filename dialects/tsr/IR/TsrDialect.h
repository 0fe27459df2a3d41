//===- TsrDialect.h - the tsr dialect ---------------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSRDIALECT_H
#define TESSERA_DIALECTS_TSR_IR_TSRDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dialects/tsr/IR/TsrDialect.h.inc"

#endif // TESSERA_DIALECTS_TSR_IR_TSRDIALECT_H
