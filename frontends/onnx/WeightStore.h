//===- WeightStore.h - where a model's weights live -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The IR names weights (`tsr.weight "name"`); this store says where each one's
// bytes are: a range of the model file, a range of an external data file, or
// (for small initializers written in typed protobuf fields) a copy. Nothing
// is read when the store is built; readers map the ranges they need.
//
// Thread safety: immutable after import; concurrent readers are safe.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_WEIGHTSTORE_H
#define TESSERA_FRONTENDS_ONNX_WEIGHTSTORE_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera::onnx {

/// One initializer: its metadata and where its little-endian bytes are.
struct WeightRecord {
  std::string name;
  int32_t onnxType = 0;        ///< onnx::TensorProto::DataType
  std::vector<int64_t> shape;
  std::string file;            ///< absolute path of the file holding the bytes
  uint64_t offset = 0;         ///< byte offset in `file`
  uint64_t length = 0;         ///< byte length (elements x element size)
  std::vector<uint8_t> inlineBytes; ///< the bytes, when `file` is empty
  bool absent = false; ///< its external file is missing (plan-only compiles)
  /// A reader's own copy of this initializer (untieEqualValued): the same
  /// bytes under another name, in no initializer list of the file.
  std::string copyOf;
};

/// The weights of one imported model, by name.
class WeightStore {
public:
  void add(WeightRecord record) {
    std::string name = record.name;
    records_[name] = std::move(record);
  }
  const WeightRecord *find(const std::string &name) const {
    auto it = records_.find(name);
    return it == records_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, WeightRecord> &records() const { return records_; }

  /// Total bytes of all weights.
  uint64_t totalBytes() const {
    uint64_t total = 0;
    for (const auto &entry : records_)
      total += entry.second.length;
    return total;
  }

private:
  std::map<std::string, WeightRecord> records_;
};

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_WEIGHTSTORE_H
