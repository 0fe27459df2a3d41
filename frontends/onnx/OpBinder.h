//===- OpBinder.h - typed access to one ONNX node ---------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Handlers see a node through an OpBinder: inputs as values, attributes with
// defaults, inputs that must be compile-time constants, and errors that name
// the node, op type and opset. `create<Op>` builds a tsr op whose result type
// is inferred, turning an inference failure into such an error rather than a
// crash.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_OPBINDER_H
#define TESSERA_FRONTENDS_ONNX_OPBINDER_H

#include "frontends/onnx/ConstTensor.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

#include "onnx/onnx_pb.h"

#include <functional>
#include <map>
#include <string>

namespace tessera::onnx {

class GraphImporter;

class OpBinder {
public:
  OpBinder(GraphImporter &importer, const ::onnx::NodeProto &node,
           int64_t opset, mlir::Location loc);

  const ::onnx::NodeProto &node() const { return node_; }
  int64_t opset() const { return opset_; }
  mlir::Location loc() const { return loc_; }
  mlir::OpBuilder &builder();
  mlir::MLIRContext *context();
  GraphImporter &importer() { return importer_; }

  //===--------------------------------------------------------------------===//
  // Inputs
  //===--------------------------------------------------------------------===//

  /// Number of inputs, trailing empty (omitted) ones included.
  int numInputs() const { return node_.input_size(); }
  bool hasInput(int i) const { return i < numInputs() && !node_.input(i).empty(); }
  /// A required input; errors when absent.
  mlir::FailureOr<mlir::Value> input(int i);
  /// An optional input, or a null value.
  mlir::Value optionalInput(int i);
  /// The input's compile-time value, when it has one.
  std::optional<ConstTensor> constantInput(int i);
  /// An input that must be constant (a shape, axes, ...), as integers.
  mlir::FailureOr<std::vector<int64_t>> constantInts(int i, llvm::StringRef what);

  //===--------------------------------------------------------------------===//
  // Attributes
  //===--------------------------------------------------------------------===//

  const ::onnx::AttributeProto *attr(llvm::StringRef name) const;
  int64_t attrInt(llvm::StringRef name, int64_t defaultValue) const;
  float attrFloat(llvm::StringRef name, float defaultValue) const;
  std::string attrString(llvm::StringRef name, llvm::StringRef defaultValue) const;
  std::optional<std::vector<int64_t>> attrInts(llvm::StringRef name) const;

  //===--------------------------------------------------------------------===//
  // Results
  //===--------------------------------------------------------------------===//

  int numOutputs() const { return node_.output_size(); }
  /// Whether output `i` is consumed (named) at all.
  bool hasOutput(int i) const { return i < numOutputs() && !node_.output(i).empty(); }
  /// Whether output `i` is read by another node or is a graph output.
  bool outputRead(int i) const;
  mlir::LogicalResult setResult(int i, mlir::Value value);
  /// Sets output 0 and requires the node to have no other used outputs.
  mlir::LogicalResult setSingleResult(mlir::Value value);
  /// The same for a value that may have failed to build (already reported).
  mlir::LogicalResult setSingleResult(mlir::FailureOr<mlir::Value> value) {
    return mlir::failed(value) ? mlir::failure() : setSingleResult(*value);
  }

  //===--------------------------------------------------------------------===//
  // Building
  //===--------------------------------------------------------------------===//

  /// An error at this node: "node 'n' (Op, opset 17): ...".
  mlir::InFlightDiagnostic error();

  /// A tsr.constant holding `value`.
  mlir::Value constant(const ConstTensor &value);

  /// Builds a tsr op with an InferTypeOpInterface result type.
  template <typename OpTy, typename... Args>
  mlir::FailureOr<OpTy> create(Args &&...args) {
    mlir::OperationState state(loc_, OpTy::getOperationName());
    mlir::Type placeholder = builder().getNoneType();
    OpTy::build(builder(), state, mlir::TypeRange(placeholder),
                std::forward<Args>(args)...);
    state.types.clear();
    if (mlir::failed(inferTypes(state, [&](llvm::SmallVectorImpl<mlir::Type> &types) {
          return OpTy::inferReturnTypes(
              context(), loc_, state.operands,
              state.attributes.getDictionary(context()),
              state.getRawProperties(), state.regions, types);
        })))
      return mlir::failure();
    return llvm::cast<OpTy>(builder().create(state));
  }

  /// create<> for single-result ops, returning the value.
  template <typename OpTy, typename... Args>
  mlir::FailureOr<mlir::Value> createValue(Args &&...args) {
    auto op = create<OpTy>(std::forward<Args>(args)...);
    if (mlir::failed(op))
      return mlir::failure();
    return op->getResult();
  }

  /// A reshape to `shape` (same element type).
  mlir::Value reshape(mlir::Value value, llvm::ArrayRef<int64_t> shape);

private:
  mlir::LogicalResult
  inferTypes(mlir::OperationState &state,
             llvm::function_ref<mlir::LogicalResult(
                 llvm::SmallVectorImpl<mlir::Type> &)>
                 infer);

  GraphImporter &importer_;
  const ::onnx::NodeProto &node_;
  int64_t opset_;
  mlir::Location loc_;
};

/// Imports one node; returns failure after reporting.
using OpHandler = std::function<mlir::LogicalResult(OpBinder &)>;

/// ONNX op type (default domain) -> handlers by the opset they start at.
class HandlerRegistry {
public:
  void onOp(llvm::StringRef opType, int sinceVersion, OpHandler handler) {
    handlers_[opType.str()][sinceVersion] = std::move(handler);
  }
  /// The handler with the highest sinceVersion <= opset.
  const OpHandler *lookup(const std::string &opType, int64_t opset) const;
  const std::map<std::string, std::map<int, OpHandler>> &all() const {
    return handlers_;
  }

private:
  std::map<std::string, std::map<int, OpHandler>> handlers_;
};

void registerElementwiseOps(HandlerRegistry &registry);
void registerShapeOps(HandlerRegistry &registry);
void registerMathOps(HandlerRegistry &registry);

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_OPBINDER_H
