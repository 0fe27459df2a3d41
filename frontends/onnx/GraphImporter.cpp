//===- GraphImporter.cpp - walks an ONNX graph into tsr -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/GraphImporter.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringExtras.h"

#include <cctype>
#include <optional>
#include <queue>
#include <set>

using namespace mlir;
using namespace tessera::onnx;

namespace {
/// Graph input dimensions beyond this are hostile.
constexpr int64_t kMaxInputDim = int64_t(1) << 31;
} // namespace

GraphImporter::GraphImporter(MLIRContext &context, const ModelFile &model,
                             const ImportOptions &options)
    : model_(model), options_(options), builder_(&context),
      fileLoc_(FileLineColLoc::get(&context, model.path, 0, 0)) {
  registerElementwiseOps(registry_);
  registerShapeOps(registry_);
  registerMathOps(registry_);
}

Type GraphImporter::convertType(int32_t t) {
  switch (t) {
  case ::onnx::TensorProto::FLOAT:
    return builder_.getF32Type();
  case ::onnx::TensorProto::FLOAT16:
    return builder_.getF16Type();
  case ::onnx::TensorProto::BFLOAT16:
    return builder_.getBF16Type();
  case ::onnx::TensorProto::DOUBLE:
    return builder_.getF64Type();
  case ::onnx::TensorProto::INT64:
    return builder_.getI64Type();
  case ::onnx::TensorProto::INT32:
    return builder_.getI32Type();
  case ::onnx::TensorProto::INT8:
    return builder_.getI8Type();
  case ::onnx::TensorProto::BOOL:
    return builder_.getI1Type();
  default:
    return {};
  }
}

/// The node's name, or "OpType_index" for unnamed nodes.
static std::string nodeName(const ::onnx::NodeProto &node, int index) {
  return node.name().empty() ? node.op_type() + "_" + std::to_string(index)
                             : node.name();
}

Location GraphImporter::nodeLoc(const ::onnx::NodeProto &node, int index) {
  return NameLoc::get(builder_.getStringAttr(nodeName(node, index)), fileLoc_);
}

FailureOr<ConstTensor>
GraphImporter::tensorFromProto(const ::onnx::TensorProto &t, Location loc) {
  Type elementType = convertType(t.data_type());
  if (!elementType)
    return emitError(loc) << "tensor '" << t.name() << "' has unsupported type "
                          << onnxTypeName(t.data_type()),
           failure();
  if (t.data_location() == ::onnx::TensorProto::EXTERNAL)
    return emitError(loc) << "tensor '" << t.name()
                          << "' in a node attribute uses external data",
           failure();
  std::vector<int64_t> shape(t.dims().begin(), t.dims().end());
  uint64_t count = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(count, uint64_t(d), &count) ||
        count > (uint64_t(1) << 28))
      return emitError(loc) << "tensor '" << t.name()
                            << "' has a negative or absurd shape",
             failure();
  size_t elementSize = onnxTypeSize(t.data_type());
  std::vector<uint8_t> bytes;
  if (t.has_raw_data()) {
    if (t.raw_data().size() != count * elementSize)
      return emitError(loc) << "tensor '" << t.name() << "' has "
                            << t.raw_data().size() << " bytes of raw data, "
                            << "its shape needs " << count * elementSize,
             failure();
    bytes.assign(t.raw_data().begin(), t.raw_data().end());
  }
  ConstTensor c;
  c.elementType = elementType;
  c.shape = shape;
  auto readRaw = [&](int64_t i, auto sample) {
    decltype(sample) v;
    std::memcpy(&v, bytes.data() + i * sizeof(v), sizeof(v));
    return v;
  };
  bool typedCountOk = true;
  switch (t.data_type()) {
  case ::onnx::TensorProto::FLOAT:
    if (bytes.empty()) {
      typedCountOk = uint64_t(t.float_data_size()) == count;
      c.floats.assign(t.float_data().begin(), t.float_data().end());
    } else {
      for (uint64_t i = 0; i < count; ++i)
        c.floats.push_back(readRaw(i, float()));
    }
    break;
  case ::onnx::TensorProto::DOUBLE:
    if (bytes.empty()) {
      typedCountOk = uint64_t(t.double_data_size()) == count;
      c.floats.assign(t.double_data().begin(), t.double_data().end());
    } else {
      for (uint64_t i = 0; i < count; ++i)
        c.floats.push_back(readRaw(i, double()));
    }
    break;
  case ::onnx::TensorProto::FLOAT16:
  case ::onnx::TensorProto::BFLOAT16: {
    bool isBF16 = t.data_type() == ::onnx::TensorProto::BFLOAT16;
    for (uint64_t i = 0; i < count; ++i) {
      uint16_t bits = bytes.empty() ? uint16_t(i < uint64_t(t.int32_data_size())
                                                   ? t.int32_data(i)
                                                   : 0)
                                    : readRaw(i, uint16_t());
      llvm::APInt raw(16, bits);
      llvm::APFloat v(isBF16 ? llvm::APFloat::BFloat() : llvm::APFloat::IEEEhalf(),
                      raw);
      bool losesInfo;
      v.convert(llvm::APFloat::IEEEdouble(), llvm::APFloat::rmNearestTiesToEven,
                &losesInfo);
      c.floats.push_back(v.convertToDouble());
    }
    if (bytes.empty())
      typedCountOk = uint64_t(t.int32_data_size()) == count;
    break;
  }
  case ::onnx::TensorProto::INT64:
    if (bytes.empty()) {
      typedCountOk = uint64_t(t.int64_data_size()) == count;
      c.ints.assign(t.int64_data().begin(), t.int64_data().end());
    } else {
      for (uint64_t i = 0; i < count; ++i)
        c.ints.push_back(readRaw(i, int64_t()));
    }
    break;
  default: // INT32, INT8, BOOL: int32_data or raw bytes of the element size.
    if (bytes.empty()) {
      typedCountOk = uint64_t(t.int32_data_size()) == count;
      c.ints.assign(t.int32_data().begin(), t.int32_data().end());
    } else {
      for (uint64_t i = 0; i < count; ++i) {
        if (elementSize == 4)
          c.ints.push_back(readRaw(i, int32_t()));
        else
          c.ints.push_back(elementType.isInteger(1) ? int64_t(bytes[i] != 0)
                                                    : int64_t(int8_t(bytes[i])));
      }
    }
    break;
  }
  if (!typedCountOk)
    return emitError(loc) << "tensor '" << t.name()
                          << "' holds a different number of values than its "
                             "shape needs",
           failure();
  return c;
}

/// An additive mask folded into an initializer (a causal LM exported with
/// input_ids only: the exporter computes the mask and writes it out) holds
/// 0 where a key is seen and one large negative value (-inf, or the float
/// type's lowest) where it is hidden; no trained parameter does. Such an
/// initializer is imported as select(seen, 0, that value), the form the
/// attention fusion reads masks in (causal recognised from `seen`), and
/// stays out of training. Null where the initializer is no such mask.
FailureOr<Value> GraphImporter::maskInitializer(const WeightRecord &record, Type elementType,
                                                Location loc) {
  constexpr int64_t kMaxMaskElements = int64_t(1) << 24;
  int64_t count = 1;
  for (int64_t d : record.shape)
    count *= d;
  if (!elementType.isF32() || record.shape.size() < 2 || count > kMaxMaskElements ||
      record.absent)
    return Value();
  // Every element 0 or `hidden` (at most -1e4), both present.
  float hidden = 0;
  bool seen = false;
  auto maskValues = [&](const std::vector<uint8_t> &bytes) {
    for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
      float v;
      std::memcpy(&v, bytes.data() + i, 4);
      if (v == 0) {
        seen = true;
        continue;
      }
      if (!(v <= -1e4f) || (hidden != 0 && v != hidden))
        return false;
      hidden = v;
    }
    return true;
  };
  // A prefix first: parameters fail at their first elements.
  auto prefix = model_.readWeight(record, 256);
  if (!prefix)
    return emitError(loc) << llvm::toString(prefix.takeError()), failure();
  if (!maskValues(*prefix))
    return Value();
  auto bytes = model_.readWeight(record);
  if (!bytes)
    return emitError(loc) << llvm::toString(bytes.takeError()), failure();
  hidden = 0;
  seen = false;
  if (!maskValues(*bytes) || hidden == 0 || !seen)
    return Value();
  llvm::SmallVector<bool> seenKeys(size_t(count), false);
  for (int64_t i = 0; i < count; ++i) {
    float v;
    std::memcpy(&v, bytes->data() + i * 4, 4);
    seenKeys[size_t(i)] = v == 0;
  }
  auto boolType = RankedTensorType::get(record.shape, builder_.getI1Type());
  Value condition = tsr::ConstantOp::create(builder_, loc, boolType,
                                            DenseElementsAttr::get(boolType, llvm::ArrayRef<bool>(seenKeys)));
  auto scalar = RankedTensorType::get({}, elementType);
  Value zero = tsr::ConstantOp::create(builder_, loc, scalar,
                                       DenseElementsAttr::get(scalar, 0.0f));
  Value fill = tsr::ConstantOp::create(builder_, loc, scalar,
                                       DenseElementsAttr::get(scalar, hidden));
  return tsr::SelectOp::create(builder_, loc, RankedTensorType::get(record.shape, elementType),
                               condition, zero, fill)
      .getResult();
}

FailureOr<Value> GraphImporter::repeatedInitializer(const WeightRecord &record,
                                                    Type elementType, Location loc) {
  constexpr int64_t kMaxSliceElements = int64_t(1) << 20;
  auto floatType = dyn_cast<FloatType>(elementType);
  if (!options_.foldRepeatedInitializers || !floatType || record.shape.size() < 2 ||
      record.shape[0] < 2 || record.absent)
    return Value();
  int64_t slice = 1;
  for (size_t i = 1; i < record.shape.size(); ++i)
    slice *= record.shape[i];
  if (slice > kMaxSliceElements || slice == 0)
    return Value();
  size_t sliceBytes = size_t(slice) * (floatType.getWidth() / 8);
  auto same = [&](const std::vector<uint8_t> &bytes, int64_t slices) {
    for (int64_t k = 1; k < slices; ++k)
      if (std::memcmp(bytes.data(), bytes.data() + size_t(k) * sliceBytes, sliceBytes) != 0)
        return false;
    return true;
  };
  // Two slices first: a parameter differs there.
  auto prefix = model_.readWeight(record, 2 * sliceBytes);
  if (!prefix)
    return emitError(loc) << llvm::toString(prefix.takeError()), failure();
  if (prefix->size() < 2 * sliceBytes || !same(*prefix, 2))
    return Value();
  auto bytes = model_.readWeight(record);
  if (!bytes)
    return emitError(loc) << llvm::toString(bytes.takeError()), failure();
  if (bytes->size() != size_t(record.shape[0]) * sliceBytes || !same(*bytes, record.shape[0]))
    return Value();
  ::onnx::TensorProto proto;
  proto.set_data_type(record.onnxType);
  proto.add_dims(1);
  for (size_t i = 1; i < record.shape.size(); ++i)
    proto.add_dims(record.shape[i]);
  proto.set_raw_data(bytes->data(), sliceBytes);
  auto folded = tensorFromProto(proto, loc);
  if (failed(folded))
    return failure();
  Value one = tsr::ConstantOp::create(builder_, loc, folded->toAttr());
  return tsr::BroadcastOp::create(builder_, loc,
                                  RankedTensorType::get(record.shape, elementType), one)
      .getResult();
}

Value GraphImporter::trainingStep() {
  if (trainingStep_)
    return trainingStep_;
  OpBuilder::InsertionGuard guard(builder_);
  builder_.restoreInsertionPoint(weightInsertPoint_);
  Location loc = NameLoc::get(builder_.getStringAttr("train.step"), fileLoc_);
  trainingStep_ = tsr::WeightOp::create(builder_, loc, RankedTensorType::get({}, builder_.getF32Type()),
                                        builder_.getStringAttr("train.step"), nullptr,
                                        builder_.getUnitAttr());
  weightInsertPoint_ = builder_.saveInsertionPoint();
  return trainingStep_;
}

FailureOr<Value> GraphImporter::lookup(const std::string &name, Location useLoc) {
  auto it = values_.find(name);
  if (it != values_.end())
    return it->second;
  const WeightRecord *record = model_.weights.find(name);
  if (!record)
    return emitError(useLoc) << "value '" << name
                             << "' is not defined by a graph input, an "
                                "initializer or an earlier node",
           failure();
  Type elementType = convertType(record->onnxType);
  if (!elementType)
    return emitError(useLoc) << "initializer '" << name
                             << "' has unsupported type "
                             << onnxTypeName(record->onnxType),
           failure();
  OpBuilder::InsertionGuard guard(builder_);
  builder_.restoreInsertionPoint(weightInsertPoint_);
  Location loc = NameLoc::get(builder_.getStringAttr(name), fileLoc_);
  int64_t count = 1;
  for (int64_t d : record->shape)
    count *= d;
  Value value;
  // Scalars and small integer tensors (shapes, axes, indices) are folded;
  // float tensors stay weights, however small (norm scales, biases).
  bool isFloat = isa<FloatType>(elementType);
  if (count <= 1 ||
      (!isFloat && count <= options_.maxFoldedInitializerElements)) {
    auto bytes = model_.readWeight(*record);
    if (!bytes)
      return emitError(loc) << llvm::toString(bytes.takeError()), failure();
    ::onnx::TensorProto proto;
    proto.set_name(name);
    proto.set_data_type(record->onnxType);
    for (int64_t d : record->shape)
      proto.add_dims(d);
    proto.set_raw_data(bytes->data(), bytes->size());
    auto folded = tensorFromProto(proto, loc);
    if (failed(folded))
      return failure();
    value = tsr::ConstantOp::create(builder_, loc, folded->toAttr());
  } else if (FailureOr<Value> mask = maskInitializer(*record, elementType, loc);
             failed(mask)) {
    return failure();
  } else if (*mask) {
    value = *mask;
  } else if (FailureOr<Value> repeated = repeatedInitializer(*record, elementType, loc);
             failed(repeated)) {
    return failure();
  } else if (*repeated) {
    value = *repeated;
  } else {
    value = tsr::WeightOp::create(
        builder_, loc, RankedTensorType::get(record->shape, elementType), name,
        /*offsets=*/nullptr);
  }
  weightInsertPoint_ = builder_.saveInsertionPoint();
  values_[name] = value;
  return value;
}

namespace {

/// Whether a symbolic dimension's name is an expression of others
/// ("past_sequence_length + 1", as Optimum names an attention mask's).
bool isDimExpression(llvm::StringRef param) {
  return param.find_first_of("+-*/()") != llvm::StringRef::npos;
}

/// The value of a dimension expression: names (bound in `dims`), integers,
/// + - * / and parentheses; nullopt where a name is unbound or the text is
/// not an expression (`missing` gets the unbound names).
struct DimExpression {
  llvm::StringRef text;
  const std::map<std::string, int64_t> &dims;
  std::vector<std::string> &missing;
  size_t at = 0;
  bool bad = false;

  void skip() {
    while (at < text.size() && text[at] == ' ')
      ++at;
  }
  std::optional<int64_t> primary() {
    skip();
    if (at < text.size() && text[at] == '(') {
      ++at;
      std::optional<int64_t> v = sum();
      skip();
      if (at >= text.size() || text[at] != ')')
        bad = true;
      ++at;
      return v;
    }
    size_t start = at;
    while (at < text.size() && (std::isalnum(uint8_t(text[at])) || text[at] == '_' ||
                                text[at] == '.'))
      ++at;
    llvm::StringRef token = text.slice(start, at);
    if (token.empty()) {
      bad = true;
      return std::nullopt;
    }
    int64_t value;
    if (!token.getAsInteger(10, value))
      return value;
    auto it = dims.find(token.str());
    if (it == dims.end()) {
      missing.push_back(token.str());
      return std::nullopt;
    }
    return it->second;
  }
  std::optional<int64_t> product() {
    std::optional<int64_t> v = primary();
    for (skip(); at < text.size() && (text[at] == '*' || text[at] == '/'); skip()) {
      char op = text[at++];
      std::optional<int64_t> r = primary();
      int64_t product;
      if (!v || !r)
        v = std::nullopt;
      else if (op == '*' && __builtin_mul_overflow(*v, *r, &product))
        bad = true, v = std::nullopt;
      else if (op == '*')
        v = product;
      else if (*r == 0 || (*r == -1 && *v == INT64_MIN))
        bad = true, v = std::nullopt;
      else
        v = *v / *r;
    }
    return v;
  }
  std::optional<int64_t> sum() {
    std::optional<int64_t> v = product();
    for (skip(); at < text.size() && (text[at] == '+' || text[at] == '-'); skip()) {
      char op = text[at++];
      std::optional<int64_t> r = product();
      int64_t result;
      if (v && r &&
          (op == '+' ? __builtin_add_overflow(*v, *r, &result)
                     : __builtin_sub_overflow(*v, *r, &result)))
        bad = true;
      v = v && r && !bad ? std::optional<int64_t>(result) : std::nullopt;
    }
    return v;
  }
  std::optional<int64_t> evaluate() {
    std::optional<int64_t> v = sum();
    skip();
    if (at != text.size())
      bad = true;
    return bad ? std::nullopt : v;
  }
};

} // namespace

LogicalResult
GraphImporter::importInputs(SmallVectorImpl<Type> &types,
                            SmallVectorImpl<std::string> &names) {
  const ::onnx::GraphProto &graph = model_.proto.graph();
  std::set<std::string> inputNames;
  std::string unbound;
  // The symbolic names' values: --dim, then the names --batch / --seq bind
  // (the first and second dimensions of inputs), so that an expression of
  // them ("past_sequence_length + sequence_length") has its value.
  std::map<std::string, int64_t> named = options_.dims;
  // Generation: past keys and values (ImportOptions::emptyPast): float
  // inputs of rank 3 or more, whose names not bound otherwise are empty.
  auto isPast = [&](const ::onnx::TypeProto::Tensor &t) {
    return options_.emptyPast && t.shape().dim_size() >= 3 &&
           isa_and_nonnull<FloatType>(convertType(t.elem_type()));
  };
  std::set<std::string> notPast; // names of other inputs' dimensions
  for (bool pastInputs : {false, true})
    for (const ::onnx::ValueInfoProto &input : graph.input()) {
      if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape() ||
          options_.inputShapes.count(input.name()))
        continue;
      const auto &tensorType = input.type().tensor_type();
      bool past = isPast(tensorType);
      if (past != pastInputs)
        continue;
      for (const auto &[index, dim] : llvm::enumerate(tensorType.shape().dim())) {
        const std::string &param = dim.dim_param();
        if (!past)
          notPast.insert(param);
        if (param.empty() || isDimExpression(param) || named.count(param))
          continue;
        if (index == 0 && options_.batch)
          named[param] = *options_.batch;
        else if (past)
          named[param] = 0;
        else if (index == 1 && options_.seq)
          named[param] = *options_.seq;
      }
    }
  std::set<std::string> conditions; // inputs that are an If's condition
  for (const ::onnx::NodeProto &node : graph.node())
    if (node.op_type() == "If" && node.input_size() > 0)
      conditions.insert(node.input(0));
  for (const ::onnx::ValueInfoProto &input : graph.input()) {
    if (model_.weights.find(input.name()))
      continue; // IR < 4 lists initializers as inputs too.
    inputNames.insert(input.name());
    if (options_.emptyPast && conditions.count(input.name()) && input.type().has_tensor_type() &&
        input.type().tensor_type().elem_type() == ::onnx::TensorProto::BOOL) {
      falseConditions_.insert(input.name()); // a constant false, not an input
      continue;
    }
    if (!input.type().has_tensor_type())
      return emitError(fileLoc_) << "graph input '" << input.name()
                                 << "' is not a tensor",
             failure();
    const auto &tensorType = input.type().tensor_type();
    Type elementType = convertType(tensorType.elem_type());
    if (!elementType)
      return emitError(fileLoc_) << "graph input '" << input.name()
                                 << "' has unsupported type "
                                 << onnxTypeName(tensorType.elem_type()),
             failure();
    std::vector<int64_t> shape;
    auto given = options_.inputShapes.find(input.name());
    if (given != options_.inputShapes.end()) {
      shape = given->second;
      if (tensorType.has_shape() &&
          int(shape.size()) != tensorType.shape().dim_size())
        return emitError(fileLoc_)
                   << "--input-shape gives " << shape.size()
                   << " dimensions for '" << input.name() << "', which has rank "
                   << tensorType.shape().dim_size(),
               failure();
    } else if (!tensorType.has_shape()) {
      unbound += "\n  input '" + input.name() +
                 "' has no shape: give it with --input-shape " + input.name() +
                 "=AxB...";
      continue;
    } else {
      std::vector<std::string> missing;
      bool past = options_.emptyPast && tensorType.shape().dim_size() >= 3 &&
                  isa<FloatType>(elementType);
      for (const auto &[index, dim] : llvm::enumerate(tensorType.shape().dim())) {
        if (dim.has_dim_value()) {
          shape.push_back(dim.dim_value());
          continue;
        }
        std::string param = dim.dim_param();
        auto bound = options_.dims.find(param);
        if (past && !param.empty() && bound != options_.dims.end() && bound->second != 0 &&
            int(index) == tensorType.shape().dim_size() - 2 && !notPast.count(param))
          return emitError(fileLoc_)
                     << "--generate: input '" << input.name() << "' is past keys or values; "
                     << "its length, dim " << index << " '" << param << "', must be 0 (the "
                     << "decode step keeps its own cache), not " << bound->second
                     << ": leave it unbound",
                 failure();
        if (!param.empty() && bound != options_.dims.end()) {
          shape.push_back(bound->second);
        } else if (isDimExpression(param)) {
          // Never the positional --seq: the expression's own value.
          std::vector<std::string> names;
          DimExpression expression{param, named, names};
          if (std::optional<int64_t> value = expression.evaluate())
            shape.push_back(*value);
          else
            missing.push_back("dim " + std::to_string(index) + " '" + param + "'" +
                              (names.empty() ? std::string(" (not an expression of dimensions)")
                                             : " (bind " + llvm::join(names, ", ") + ")"));
        } else if (past && index > 0 && named.count(param)) {
          shape.push_back(named[param]); // an empty past
        } else if (index == 0 && options_.batch)
          shape.push_back(*options_.batch);
        else if (index == 1 && options_.seq)
          shape.push_back(*options_.seq);
        else if (!param.empty() && named.count(param)) // bound where it is a first/second dim
          shape.push_back(named[param]);
        else
          missing.push_back("dim " + std::to_string(index) + " '" +
                            (param.empty() ? "?" : param) + "'");
      }
      if (!missing.empty()) {
        unbound += "\n  input '" + input.name() + "': " +
                   llvm::join(missing, ", ");
        continue;
      }
    }
    for (int64_t d : shape)
      if (d < 0 || d > kMaxInputDim)
        return emitError(fileLoc_) << "graph input '" << input.name()
                                   << "' has a negative or absurd dimension "
                                   << d,
               failure();
    types.push_back(RankedTensorType::get(shape, elementType));
    names.push_back(input.name());
  }
  if (!unbound.empty())
    return emitError(fileLoc_)
               << "symbolic dimensions need values:" << unbound
               << "\nbind them with --input-shape NAME=DxD..., --dim NAME=N, "
                  "or --batch N / --seq N (first / second dimension)",
           failure();
  for (const auto &[name, shape] : options_.inputShapes)
    if (!inputNames.count(name))
      return emitError(fileLoc_) << "--input-shape names '" << name
                                 << "', which is not a graph input",
             failure();
  return success();
}

LogicalResult GraphImporter::sortNodes(std::vector<int> &order) {
  const ::onnx::GraphProto &graph = model_.proto.graph();
  int n = graph.node_size();
  std::map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const std::string &out : graph.node(i).output())
      if (!out.empty())
        producer[out] = i;
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> users(n);
  // A node with branches also waits for what they read from the graph.
  std::function<void(const ::onnx::NodeProto &, std::set<std::string> &)> branchReads =
      [&](const ::onnx::NodeProto &node, std::set<std::string> &out) {
        for (const ::onnx::AttributeProto &attr : node.attribute())
          if (attr.has_g())
            for (const ::onnx::NodeProto &inner : attr.g().node()) {
              out.insert(inner.input().begin(), inner.input().end());
              branchReads(inner, out);
            }
      };
  for (int i = 0; i < n; ++i) {
    std::set<std::string> implicit;
    branchReads(graph.node(i), implicit);
    for (const std::string &in : implicit) {
      auto it = producer.find(in);
      if (it != producer.end() && it->second != i) {
        ++pending[i];
        users[it->second].push_back(i);
      }
    }
    for (const std::string &in : graph.node(i).input()) {
      if (in.empty())
        continue;
      auto it = producer.find(in);
      if (it != producer.end()) {
        ++pending[i];
        users[it->second].push_back(i);
      } else if (!values_.count(in) && !model_.weights.find(in)) {
        return emitError(nodeLoc(graph.node(i), i))
                   << "node '" << nodeName(graph.node(i), i) << "' ("
                   << graph.node(i).op_type() << "): input '" << in
                   << "' is not a graph input, an initializer or any node's "
                      "output (missing initializer?)",
               failure();
      }
    }
  }
  // Kahn's algorithm, keeping the file's order among ready nodes.
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i)
    if (!pending[i])
      ready.push(i);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int user : users[i])
      if (--pending[user] == 0)
        ready.push(user);
  }
  if (int(order.size()) != n) {
    for (int i = 0; i < n; ++i)
      if (pending[i])
        return emitError(nodeLoc(graph.node(i), i))
                   << "node '" << nodeName(graph.node(i), i) << "' ("
                   << graph.node(i).op_type()
                   << "): the graph has a cycle through this node",
               failure();
  }
  return success();
}

LogicalResult GraphImporter::importNode(const ::onnx::NodeProto &node, int index) {
  Location loc = nodeLoc(node, index);
  std::string prefix = "node '" + cast<NameLoc>(loc).getName().str() + "' (" + node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    return emitError(loc) << prefix << ", domain '" << node.domain()
                          << "'): ops outside the default ONNX domain are not supported",
           failure();
  if (node.op_type() == "If")
    return importIf(node, loc);
  const OpHandler *handler = registry_.lookup(node.op_type(), opset_);
  if (!handler) {
    std::vector<std::string> names;
    for (const auto &entry : registry_.all())
      names.push_back(entry.first);
    return emitError(loc) << prefix << ", domain 'ai.onnx', opset " << opset_
                          << "): unsupported op; supported ops: " << llvm::join(names, ", "),
           failure();
  }
  OpBinder binder(*this, node, opset_, loc);
  return (*handler)(binder);
}

LogicalResult GraphImporter::importIf(const ::onnx::NodeProto &node, Location loc) {
  OpBinder binder(*this, node, opset_, loc);
  if (failed(binder.input(0)))
    return failure();
  std::optional<ConstTensor> condition = binder.constantInput(0);
  if (!condition || condition->numElements() != 1)
    return binder.error() << "its condition '" << node.input(0)
                          << "' is not a constant once input shapes are fixed: Tessera compiles "
                             "one branch (an Optimum merged decoder's use_cache_branch is "
                             "false with --generate)",
           failure();
  bool taken = condition->isFloat() ? condition->floats[0] != 0 : condition->ints[0] != 0;
  const ::onnx::AttributeProto *branch = binder.attr(taken ? "then_branch" : "else_branch");
  if (!branch || !branch->has_g())
    return binder.error() << "has no " << (taken ? "then_branch" : "else_branch"), failure();
  const ::onnx::GraphProto &g = branch->g();
  if (g.initializer_size() || g.sparse_initializer_size())
    return binder.error() << "its " << (taken ? "then" : "else")
                          << " branch holds initializers of its own (not supported: "
                             "branches read the graph's)",
           failure();
  if (g.output_size() != node.output_size())
    return binder.error() << "its branch has " << g.output_size() << " outputs, the node "
                          << node.output_size(),
           failure();
  // The branch's nodes in order (a graph's nodes are topologically sorted).
  for (auto [i, inner] : llvm::enumerate(g.node()))
    if (failed(importNode(inner, int(i))))
      return failure();
  for (auto [i, output] : llvm::enumerate(g.output())) {
    FailureOr<Value> value = lookup(output.name(), loc);
    if (failed(value))
      return failure();
    if (!node.output(int(i)).empty())
      values_[node.output(int(i))] = *value;
  }
  return success();
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  const ::onnx::ModelProto &proto = model_.proto;
  for (const auto &opset : proto.opset_import())
    if (opset.domain().empty() || opset.domain() == "ai.onnx")
      opset_ = opset.version();
  if (opset_ == 0) {
    emitError(fileLoc_) << "the model imports no default-domain opset";
    return nullptr;
  }
  if (opset_ > kMaxKnownOpset) {
    if (!options_.allowNewerOpset) {
      emitError(fileLoc_) << model_.path << ": the model imports opset " << opset_
                          << " of the default domain; Tessera knows opsets up to "
                          << kMaxKnownOpset
                          << " (an operator's meaning may have changed since; "
                             "--allow-newer-opset imports it as opset "
                          << kMaxKnownOpset << ")";
      return nullptr;
    }
    emitWarning(fileLoc_) << model_.path << ": the model imports opset " << opset_
                          << " of the default domain; importing it as opset " << kMaxKnownOpset
                          << ", the newest Tessera knows (--allow-newer-opset)";
    opset_ = kMaxKnownOpset;
  }

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc_);
  (*module)->setAttr("tsr.opset", builder_.getI64IntegerAttr(opset_));
  (*module)->setAttr("tsr.producer",
                     builder_.getStringAttr(proto.producer_name() + " " +
                                            proto.producer_version()));
  builder_.setInsertionPointToEnd(module->getBody());

  SmallVector<Type> inputTypes;
  SmallVector<std::string> inputNames;
  if (failed(importInputs(inputTypes, inputNames)))
    return nullptr;
  auto func = func::FuncOp::create(builder_, fileLoc_, "main",
                                   builder_.getFunctionType(inputTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(inputNames)) {
    func.setArgAttr(i, mlir::tsr::kNameAttr, builder_.getStringAttr(name));
    values_[name] = entry->getArgument(i);
  }
  builder_.setInsertionPointToStart(entry);
  for (const std::string &name : falseConditions_) {
    auto type = RankedTensorType::get({}, builder_.getI1Type());
    values_[name] = tsr::ConstantOp::create(builder_, fileLoc_, type,
                                            DenseElementsAttr::get(type, false));
  }
  weightInsertPoint_ = builder_.saveInsertionPoint();

  std::vector<int> order;
  if (failed(sortNodes(order)))
    return nullptr;
  const ::onnx::GraphProto &graph = proto.graph();
  std::function<void(const ::onnx::NodeProto &)> reads = [&](const ::onnx::NodeProto &node) {
    for (const std::string &input : node.input())
      read_.insert(input);
    for (const ::onnx::AttributeProto &attr : node.attribute())
      if (attr.has_g()) {
        for (const ::onnx::NodeProto &inner : attr.g().node())
          reads(inner);
        for (const ::onnx::ValueInfoProto &output : attr.g().output())
          read_.insert(output.name());
      }
  };
  for (const ::onnx::NodeProto &node : graph.node())
    reads(node);
  for (const ::onnx::ValueInfoProto &output : graph.output())
    read_.insert(output.name());
  for (int index : order) {
    builder_.setInsertionPointToEnd(entry);
    if (failed(importNode(graph.node(index), index)))
      return nullptr;
  }

  SmallVector<Value> results;
  for (const ::onnx::ValueInfoProto &output : graph.output()) {
    auto value = lookup(output.name(), fileLoc_);
    if (failed(value))
      return nullptr;
    results.push_back(*value);
  }
  builder_.setInsertionPointToEnd(entry);
  func::ReturnOp::create(builder_, fileLoc_, results);
  func.setType(builder_.getFunctionType(inputTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, mlir::tsr::kNameAttr, builder_.getStringAttr(output.name()));
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

OwningOpRef<ModuleOp> tessera::onnx::importModel(MLIRContext &context,
                                                 const ModelFile &model,
                                                 const ImportOptions &options) {
  context.loadDialect<tsr::TsrDialect, func::FuncDialect>();
  GraphImporter importer(context, model, options);
  return importer.run();
}

std::vector<std::pair<std::string, int>> tessera::onnx::supportedOps() {
  HandlerRegistry registry;
  registerElementwiseOps(registry);
  registerShapeOps(registry);
  registerMathOps(registry);
  std::vector<std::pair<std::string, int>> ops;
  for (const auto &[name, versions] : registry.all())
    ops.emplace_back(name, versions.begin()->first);
  return ops;
}
