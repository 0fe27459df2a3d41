//===- ShapeUtils.h - shape rules shared by tsr ops -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Shape inference rules used by more than one op family. Each returns failure
// after reporting at `loc` (when given) in words that name the shapes.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_DIALECTS_TSR_IR_SHAPEUTILS_H
#define TESSERA_DIALECTS_TSR_IR_SHAPEUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <string>

namespace mlir::tsr {

/// NumPy broadcast of `shapes` into `result`; reports the first pair that
/// does not broadcast.
LogicalResult broadcastShapes(std::optional<Location> loc,
                              ArrayRef<ArrayRef<int64_t>> shapes,
                              SmallVectorImpl<int64_t> &result);

/// True when `from` broadcasts to exactly `to` (NumPy rules).
bool isBroadcastableTo(ArrayRef<int64_t> from, ArrayRef<int64_t> to);

/// Checks that `axis` indexes a dimension of a rank-`rank` tensor.
LogicalResult checkAxis(std::optional<Location> loc, int64_t axis,
                        int64_t rank, StringRef what = "axis");

/// The type of `like` with another shape (keeps the element type).
RankedTensorType withShape(Type like, ArrayRef<int64_t> shape);

/// The shape of a ranked tensor value.
ArrayRef<int64_t> valueShape(Value v);

/// A type as the IR prints it, without the quotes a diagnostic adds.
std::string typeString(Type type);

} // namespace mlir::tsr

#endif // TESSERA_DIALECTS_TSR_IR_SHAPEUTILS_H
