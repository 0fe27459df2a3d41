//===- TsrOps.h - tsr operations --------------------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_TSROPS_H
#define TESSERA_DIALECTS_TSR_IR_TSROPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Traits.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrDialect.h"

#include "dialects/tsr/IR/TsrEnums.h.inc"

#define GET_OP_CLASSES
#include "dialects/tsr/IR/TsrOps.h.inc"

#endif // TESSERA_DIALECTS_TSR_IR_TSROPS_H
