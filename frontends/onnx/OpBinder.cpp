//===- OpBinder.cpp - typed access to one ONNX node -----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/OpBinder.h"
#include "frontends/onnx/GraphImporter.h"

using namespace mlir;
using namespace tessera::onnx;

OpBinder::OpBinder(GraphImporter &importer, const ::onnx::NodeProto &node,
                   int64_t opset, Location loc)
    : importer_(importer), node_(node), opset_(opset), loc_(loc) {}

OpBuilder &OpBinder::builder() { return importer_.builder(); }
MLIRContext *OpBinder::context() { return importer_.context(); }

InFlightDiagnostic OpBinder::error() {
  InFlightDiagnostic diag = emitError(loc_);
  diag << "node '" << cast<NameLoc>(loc_).getName().str() << "' ("
       << node_.op_type() << ", opset " << opset_ << "): ";
  return diag;
}

FailureOr<Value> OpBinder::input(int i) {
  if (!hasInput(i))
    return error() << "input " << i << " is required", failure();
  return importer_.lookup(node_.input(i), loc_);
}

Value OpBinder::optionalInput(int i) {
  if (!hasInput(i))
    return {};
  auto value = importer_.lookup(node_.input(i), loc_);
  return succeeded(value) ? *value : Value();
}

std::optional<ConstTensor> OpBinder::constantInput(int i) {
  Value value = optionalInput(i);
  if (!value)
    return std::nullopt;
  auto constant = value.getDefiningOp<tsr::ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense)
    return std::nullopt;
  return ConstTensor::fromAttr(dense);
}

FailureOr<std::vector<int64_t>> OpBinder::constantInts(int i, StringRef what) {
  if (!hasInput(i))
    return error() << what << " (input " << i << ") is required", failure();
  if (failed(input(i)))
    return failure();
  std::optional<ConstTensor> c = constantInput(i);
  if (!c || c->isFloat())
    return error() << what << " (input " << i << ", '" << node_.input(i)
                   << "') must be an integer constant once input shapes are "
                      "fixed; it is computed from run-time data",
           failure();
  return c->ints;
}

const ::onnx::AttributeProto *OpBinder::attr(StringRef name) const {
  for (const ::onnx::AttributeProto &a : node_.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t OpBinder::attrInt(StringRef name, int64_t defaultValue) const {
  const ::onnx::AttributeProto *a = attr(name);
  return a ? a->i() : defaultValue;
}

float OpBinder::attrFloat(StringRef name, float defaultValue) const {
  const ::onnx::AttributeProto *a = attr(name);
  return a ? a->f() : defaultValue;
}

std::string OpBinder::attrString(StringRef name, StringRef defaultValue) const {
  const ::onnx::AttributeProto *a = attr(name);
  return a ? a->s() : defaultValue.str();
}

std::optional<std::vector<int64_t>> OpBinder::attrInts(StringRef name) const {
  const ::onnx::AttributeProto *a = attr(name);
  if (!a)
    return std::nullopt;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

bool OpBinder::outputRead(int i) const {
  return hasOutput(i) && importer_.isRead(node_.output(i));
}

LogicalResult OpBinder::setResult(int i, Value value) {
  if (hasOutput(i))
    importer_.define(node_.output(i), value);
  return success();
}

LogicalResult OpBinder::setSingleResult(Value value) {
  // Outputs named but read by nothing (a training-mode export's saved
  // statistics) are left out.
  for (int i = 1; i < numOutputs(); ++i)
    if (outputRead(i))
      return error() << "output " << i << " ('" << node_.output(i)
                     << "') is not supported",
             failure();
  return setResult(0, value);
}

Value OpBinder::constant(const ConstTensor &value) {
  return tsr::ConstantOp::create(builder(), loc_, value.toAttr());
}

Value OpBinder::reshape(Value value, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getShape() == shape)
    return value;
  if (auto c = value.getDefiningOp<tsr::ConstantOp>())
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue()))
      return tsr::ConstantOp::create(
          builder(), loc_,
          dense.reshape(RankedTensorType::get(shape, type.getElementType())));
  return tsr::ReshapeOp::create(
      builder(), loc_, RankedTensorType::get(shape, type.getElementType()),
      value);
}

LogicalResult OpBinder::inferTypes(
    OperationState &state,
    function_ref<LogicalResult(SmallVectorImpl<Type> &)> infer) {
  // Capture the op's own explanation and re-emit it with the node's context.
  std::string reason;
  SmallVector<Type> types;
  LogicalResult result = success();
  {
    ScopedDiagnosticHandler capture(context(), [&](Diagnostic &diag) {
      if (reason.empty())
        reason = diag.str();
      return success();
    });
    result = infer(types);
  }
  if (failed(result))
    return error() << reason << " (building " << state.name << ")", failure();
  state.addTypes(types);
  return success();
}

const OpHandler *HandlerRegistry::lookup(const std::string &opType,
                                         int64_t opset) const {
  auto it = handlers_.find(opType);
  if (it == handlers_.end())
    return nullptr;
  const OpHandler *best = nullptr;
  for (const auto &[since, handler] : it->second)
    if (since <= opset)
      best = &handler;
  return best;
}
