//===- GraphImporter.h - walks an ONNX graph into tsr -----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_GRAPHIMPORTER_H
#define TESSERA_FRONTENDS_ONNX_GRAPHIMPORTER_H

#include "frontends/onnx/OnnxImporter.h"
#include "frontends/onnx/OpBinder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <set>

namespace tessera::onnx {

class GraphImporter {
public:
  GraphImporter(mlir::MLIRContext &context, const ModelFile &model,
                const ImportOptions &options);

  mlir::OwningOpRef<mlir::ModuleOp> run();

  mlir::OpBuilder &builder() { return builder_; }
  mlir::MLIRContext *context() { return builder_.getContext(); }
  /// The value named `name`; initializers materialise on first use.
  mlir::FailureOr<mlir::Value> lookup(const std::string &name,
                                      mlir::Location useLoc);
  void define(const std::string &name, mlir::Value value) { values_[name] = value; }
  /// Whether a node or the graph's outputs read the value named `name`.
  bool isRead(const std::string &name) const { return read_.count(name) != 0; }
  /// The tsr element type of an ONNX data type, or null.
  mlir::Type convertType(int32_t onnxType);
  /// A ConstTensor from an ONNX TensorProto held in the IR (Constant nodes).
  mlir::FailureOr<ConstTensor> tensorFromProto(const ::onnx::TensorProto &t,
                                               mlir::Location loc);
  const ImportOptions &options() const { return options_; }
  /// The training step count (the optimizer's `train.step` state), for
  /// training-mode dropout; made once, with the weights.
  mlir::Value trainingStep();
  /// A new random stream number (one per dropout node).
  int64_t nextRandomStream() { return randomStreams_++; }

private:
  mlir::LogicalResult importInputs(llvm::SmallVectorImpl<mlir::Type> &types,
                                   llvm::SmallVectorImpl<std::string> &names);
  mlir::LogicalResult sortNodes(std::vector<int> &order);
  mlir::Location nodeLoc(const ::onnx::NodeProto &node, int index);
  /// One node through its handler; an `If` (importIf) inline.
  mlir::LogicalResult importNode(const ::onnx::NodeProto &node, int index);
  /// An `If` whose condition is a constant: the taken branch's nodes,
  /// inline (they read the enclosing graph's values by name).
  mlir::LogicalResult importIf(const ::onnx::NodeProto &node, mlir::Location loc);
  /// select(seen, 0, hidden) for an initializer that is an additive
  /// attention mask; null otherwise.
  mlir::FailureOr<mlir::Value> maskInitializer(const WeightRecord &record,
                                               mlir::Type elementType, mlir::Location loc);
  /// broadcast(constant slice) for a float initializer whose slices along
  /// its first dimension are all equal; null otherwise.
  mlir::FailureOr<mlir::Value> repeatedInitializer(const WeightRecord &record,
                                                   mlir::Type elementType, mlir::Location loc);

  const ModelFile &model_;
  const ImportOptions &options_;
  mlir::Value trainingStep_;
  int64_t randomStreams_ = 0;
  mlir::OpBuilder builder_;
  mlir::Location fileLoc_;
  std::map<std::string, mlir::Value> values_;
  /// Every name a node (or a node of a branch) or the graph's outputs read.
  std::set<std::string> read_;
  /// Generation (ImportOptions::emptyPast): `If` conditions that are graph
  /// inputs (Optimum's merged decoders' `use_cache_branch`), taken as false:
  /// with an empty past both branches compute the same.
  std::set<std::string> falseConditions_;
  /// Where initializers are materialised: the top of the function.
  mlir::OpBuilder::InsertPoint weightInsertPoint_;
  HandlerRegistry registry_;
  int64_t opset_ = 0;
};

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_GRAPHIMPORTER_H
