//===- TsrAttrs.cpp - the tsr dialect's attributes ------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrDialect.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tsr;

#define GET_ATTRDEF_CLASSES
#include "dialects/tsr/IR/TsrAttrs.cpp.inc"

void TsrDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/tsr/IR/TsrAttrs.cpp.inc"
      >();
}

LogicalResult MeshPlanAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t dp,
                                   int64_t tp, int64_t pp, int64_t microbatches,
                                   int64_t accumulated, int64_t zero, StringRef recompute,
                                   DenseI64ArrayAttr stageBounds) {
  ArrayRef<int64_t> stages = stageBounds ? stageBounds.asArrayRef() : ArrayRef<int64_t>();
  if (dp < 1 || tp < 1 || pp < 1 || microbatches < 1 || accumulated < 1)
    return emitError() << "mesh plan: dp, tp, pp, microbatches and accumulated must be at "
                          "least 1";
  if (zero < 0 || zero > 3)
    return emitError() << "mesh plan: zero must be 0, 1, 2 or 3, not " << zero;
  if (recompute != "none" && recompute != "selective" && recompute != "full")
    return emitError() << "mesh plan: recompute must be none, selective or full, not '"
                       << recompute << "'";
  if (pp > 1 && stages.size() != size_t(pp + 1))
    return emitError() << "mesh plan: " << pp << " stages need " << pp + 1
                       << " stage bounds, not " << stages.size();
  if (pp == 1 && !stages.empty() && stages.size() != 2)
    return emitError() << "mesh plan: one stage has 2 bounds or none";
  for (size_t i = 0; i < stages.size(); ++i)
    if (stages[i] < 0 || (i && stages[i] < stages[i - 1]))
      return emitError() << "mesh plan: stage bounds must ascend from 0";
  return success();
}
