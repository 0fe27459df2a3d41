//===- Untie.cpp - parameters an exporter merged because they were equal --===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/Untie.h"

#include "llvm/ADT/StringRef.h"

#include <cmath>
#include <cstring>
#include <map>

using namespace tessera::onnx;

namespace {

/// Names every graph attribute of `node` reads from the enclosing scope.
void subgraphReads(const ::onnx::NodeProto &node, std::set<std::string> &out) {
  for (const ::onnx::AttributeProto &attr : node.attribute()) {
    auto visit = [&](const ::onnx::GraphProto &g) {
      for (const ::onnx::NodeProto &inner : g.node()) {
        for (const std::string &in : inner.input())
          out.insert(in);
        subgraphReads(inner, out);
      }
    };
    if (attr.has_g())
      visit(attr.g());
    for (const ::onnx::GraphProto &g : attr.graphs())
      visit(g);
  }
}

/// Whether every element of `bytes` (elements of `size` bytes) is the first.
bool constantValued(const std::vector<uint8_t> &bytes, size_t size) {
  for (size_t i = size; i + size <= bytes.size(); i += size)
    if (std::memcmp(bytes.data(), bytes.data() + i, size) != 0)
      return false;
  return true;
}

/// "model.layers.1.attn.k_proj.bias" for reader "/model/layers.1/attn/k_proj/Add"
/// of "model.layers.0.attn.q_proj.bias"; "" where the reader's name is no
/// module path.
std::string moduleName(llvm::StringRef node, llvm::StringRef initializer) {
  if (!node.consume_front("/"))
    return "";
  size_t slash = node.rfind('/');
  if (slash == llvm::StringRef::npos || slash == 0)
    return "";
  std::string path = node.substr(0, slash).str();
  for (char &c : path)
    if (c == '/')
      c = '.';
  size_t dot = initializer.rfind('.');
  return path + "." + (dot == llvm::StringRef::npos ? initializer : initializer.substr(dot + 1)).str();
}

bool isFloatType(int32_t t) {
  using T = ::onnx::TensorProto;
  return t == T::FLOAT || t == T::DOUBLE || t == T::FLOAT16 || t == T::BFLOAT16;
}

} // namespace

llvm::Expected<std::vector<Untied>>
tessera::onnx::untieEqualValued(ModelFile &model, const UntieOptions &options) {
  ::onnx::GraphProto &graph = *model.proto.mutable_graph();
  std::set<std::string> inSubgraphs, graphOutputs, taken;
  std::map<std::string, std::vector<int>> readers; // initializer -> node indices
  for (const ::onnx::ValueInfoProto &o : graph.output())
    graphOutputs.insert(o.name());
  for (const auto &[name, record] : model.weights.records())
    taken.insert(name);
  for (int n = 0; n < graph.node_size(); ++n) {
    const ::onnx::NodeProto &node = graph.node(n);
    subgraphReads(node, inSubgraphs);
    for (const std::string &o : node.output())
      taken.insert(o);
    std::set<std::string> seen;
    for (const std::string &in : node.input())
      if (model.weights.find(in) && seen.insert(in).second)
        readers[in].push_back(n);
  }
  for (const ::onnx::ValueInfoProto &i : graph.input())
    taken.insert(i.name());

  std::vector<Untied> out;
  std::set<int> dropped; // Identity readers that became parameters
  for (auto &[name, nodes] : readers) {
    const WeightRecord *record = model.weights.find(name);
    int64_t count = 1;
    for (int64_t d : record->shape)
      count *= d;
    if (nodes.size() < 2 || count < 2 || !isFloatType(record->onnxType) || record->absent ||
        options.keep.count(name) || inSubgraphs.count(name) || graphOutputs.count(name))
      continue;
    if (!options.force.count(name)) {
      auto bytes = model.readWeight(*record);
      if (!bytes)
        return bytes.takeError();
      if (!constantValued(*bytes, onnxTypeSize(record->onnxType)))
        continue;
    }
    Untied untied{name, {}};
    WeightRecord copy = *record;
    copy.copyOf = name;
    auto addCopy = [&](const std::string &fresh) {
      copy.name = fresh;
      model.weights.add(copy);
      untied.copies.push_back(fresh);
    };
    // A reader that is an Identity (TorchScript's deduplication writes one
    // per merged parameter, its output named as the parameter) becomes that
    // parameter: a copy under the Identity's output name, the node dropped.
    bool firstKept = false;
    for (int n : nodes) {
      ::onnx::NodeProto &node = *graph.mutable_node(n);
      if (node.op_type() == "Identity" && node.domain().empty() && node.output_size() == 1 &&
          !graphOutputs.count(node.output(0)) && !model.weights.find(node.output(0))) {
        addCopy(node.output(0));
        dropped.insert(n);
        continue;
      }
      if (!firstKept) {
        firstKept = true; // the first other reader keeps the initializer
        continue;
      }
      std::string fresh = moduleName(node.name(), name);
      if (fresh.empty() || taken.count(fresh))
        fresh = name + "@" + (node.name().empty() ? "node" + std::to_string(n) : node.name());
      for (int suffix = 2; taken.count(fresh); ++suffix)
        fresh = name + "@" + node.name() + "#" + std::to_string(suffix);
      taken.insert(fresh);
      for (std::string &in : *node.mutable_input())
        if (in == name)
          in = fresh;
      addCopy(fresh);
    }
    out.push_back(std::move(untied));
  }
  if (!dropped.empty()) {
    ::onnx::GraphProto kept;
    for (int n = 0; n < graph.node_size(); ++n)
      if (!dropped.count(n))
        *kept.add_node() = graph.node(n);
    graph.mutable_node()->Swap(kept.mutable_node());
  }
  return out;
}

llvm::Expected<std::vector<std::string>> tessera::onnx::rotaryTables(const ModelFile &model) {
  // Candidates: float32, at least a matrix, the first elements within [-1, 1].
  std::map<std::vector<int64_t>, std::vector<std::pair<std::string, std::vector<float>>>> byShape;
  auto floats = [](const std::vector<uint8_t> &bytes) {
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
  };
  auto withinOne = [](const std::vector<float> &v) {
    for (float x : v)
      if (!(x >= -1.0f && x <= 1.0f))
        return false;
    return true;
  };
  for (const auto &[name, record] : model.weights.records()) {
    if (record.onnxType != ::onnx::TensorProto::FLOAT || record.shape.size() < 2 ||
        record.absent || !record.copyOf.empty() || record.length < 8)
      continue;
    auto prefix = model.readWeight(record, 256);
    if (!prefix)
      return prefix.takeError();
    if (!withinOne(floats(*prefix)))
      continue;
    auto bytes = model.readWeight(record);
    if (!bytes)
      return bytes.takeError();
    std::vector<float> values = floats(*bytes);
    if (withinOne(values))
      byShape[record.shape].push_back({name, std::move(values)});
  }
  auto unitCircle = [](const float *a, const float *b, size_t n, size_t strideA, size_t strideB,
                       size_t rowLength) {
    for (size_t i = 0; i < n; ++i) {
      size_t row = i / rowLength, col = i % rowLength;
      float x = a[row * strideA + col], y = b[row * strideB + col];
      if (std::abs(x * x + y * y - 1.0f) > 1e-5f)
        return false;
    }
    return true;
  };
  std::set<std::string> found;
  for (auto &[shape, tables] : byShape) {
    size_t n = tables.front().second.size();
    for (size_t i = 0; i < tables.size(); ++i)
      for (size_t j = i + 1; j < tables.size(); ++j)
        if (unitCircle(tables[i].second.data(), tables[j].second.data(), n, 1, 1, n)) {
          found.insert(tables[i].first);
          found.insert(tables[j].first);
        }
    // One table holding cos and sin side by side along its last dimension.
    size_t last = size_t(shape.back());
    if (last % 2 == 0)
      for (auto &[name, values] : tables)
        if (unitCircle(values.data(), values.data() + last / 2, n / 2, last, last, last / 2))
          found.insert(name);
  }
  return std::vector<std::string>(found.begin(), found.end());
}
