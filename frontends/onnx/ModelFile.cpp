//===- ModelFile.cpp - reading an ONNX file without its weights -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/ModelFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <climits>
#include <cstdlib>
#include <fstream>

using namespace tessera::onnx;

namespace {

/// Field numbers of the messages the walker descends into (onnx.proto).
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphInitializer = 5;
constexpr uint32_t kGraphSparseInitializer = 15;
constexpr uint32_t kTensorRawData = 9;

/// No real model comes near these; beyond them a file is hostile.
constexpr int64_t kMaxDim = int64_t(1) << 40;
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 44;

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// A bounds-checked cursor over protobuf wire format.
class WireReader {
public:
  WireReader(const uint8_t *begin, const uint8_t *end, const uint8_t *fileStart)
      : p(begin), end(end), fileStart(fileStart) {}

  bool atEnd() const { return p >= end; }
  uint64_t fileOffset() const { return uint64_t(p - fileStart); }

  bool varint(uint64_t &value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end)
        return false;
      uint8_t byte = *p++;
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return true;
    }
    return false;
  }

  /// Reads one field; `payload` covers a length-delimited field's bytes.
  bool field(uint32_t &number, uint32_t &wireType, const uint8_t *&fieldStart,
             const uint8_t *&payload, const uint8_t *&payloadEnd) {
    fieldStart = p;
    uint64_t tag;
    if (!varint(tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
      return false;
    number = uint32_t(tag >> 3);
    wireType = uint32_t(tag & 7);
    uint64_t skip = 0;
    switch (wireType) {
    case 0: {
      uint64_t ignored;
      if (!varint(ignored))
        return false;
      break;
    }
    case 1:
      skip = 8;
      break;
    case 2:
      if (!varint(skip))
        return false;
      break;
    case 5:
      skip = 4;
      break;
    default: // Groups (3, 4) are not used by onnx.proto.
      return false;
    }
    if (skip > uint64_t(end - p))
      return false;
    payload = p;
    p += skip;
    payloadEnd = p;
    return true;
  }

private:
  const uint8_t *p;
  const uint8_t *end;
  const uint8_t *fileStart;
};

void appendVarint(std::string &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(char(value | 0x80));
    value >>= 7;
  }
  out.push_back(char(value));
}

void appendLengthDelimited(std::string &out, uint32_t number,
                           const std::string &payload) {
  appendVarint(out, (uint64_t(number) << 3) | 2);
  appendVarint(out, payload.size());
  out += payload;
}

struct RawRange {
  uint64_t offset = 0, length = 0;
  bool present = false;
};

/// Copies `bytes` minus the field `dropField` of a message; records where the
/// dropped field's payload was.
bool stripField(const uint8_t *begin, const uint8_t *end, const uint8_t *file,
                uint32_t dropField, std::string &out, RawRange &dropped) {
  WireReader reader(begin, end, file);
  while (!reader.atEnd()) {
    uint32_t number, wireType;
    const uint8_t *start, *payload, *payloadEnd;
    if (!reader.field(number, wireType, start, payload, payloadEnd))
      return false;
    if (number == dropField && wireType == 2) {
      dropped = {uint64_t(payload - file), uint64_t(payloadEnd - payload), true};
      continue;
    }
    out.append(reinterpret_cast<const char *>(start), payloadEnd - start);
  }
  return true;
}

} // namespace

size_t tessera::onnx::onnxTypeSize(int32_t t) {
  switch (t) {
  case ::onnx::TensorProto::FLOAT:
  case ::onnx::TensorProto::INT32:
  case ::onnx::TensorProto::UINT32:
    return 4;
  case ::onnx::TensorProto::UINT8:
  case ::onnx::TensorProto::INT8:
  case ::onnx::TensorProto::BOOL:
    return 1;
  case ::onnx::TensorProto::UINT16:
  case ::onnx::TensorProto::INT16:
  case ::onnx::TensorProto::FLOAT16:
  case ::onnx::TensorProto::BFLOAT16:
    return 2;
  case ::onnx::TensorProto::INT64:
  case ::onnx::TensorProto::UINT64:
  case ::onnx::TensorProto::DOUBLE:
    return 8;
  default:
    return 0;
  }
}

const char *tessera::onnx::onnxTypeName(int32_t t) {
  if (::onnx::TensorProto::DataType_IsValid(t))
    return ::onnx::TensorProto::DataType_Name(
               ::onnx::TensorProto::DataType(t))
        .c_str();
  return "invalid";
}

namespace {

/// Checks dims and returns the element count, refusing negative, absurd and
/// overflowing shapes.
llvm::Expected<uint64_t> checkedCount(const std::string &what,
                                      const std::vector<int64_t> &dims) {
  uint64_t count = 1;
  for (int64_t dim : dims) {
    if (dim < 0 || dim > kMaxDim)
      return fail(what + ": dimension " + llvm::Twine(dim) +
                  " is negative or absurd");
    if (__builtin_mul_overflow(count, uint64_t(dim), &count))
      return fail(what + ": element count overflows");
  }
  return count;
}

/// Resolves an external data location inside `directory`, refusing absolute
/// paths, `..` and symlinks that lead out.
llvm::Expected<std::string> resolveExternal(const std::string &what,
                                            const std::string &directory,
                                            const std::string &location) {
  if (location.empty())
    return fail(what + ": external data has no location");
  if (llvm::sys::path::is_absolute(location))
    return fail(what + ": external data location '" + location +
                "' is absolute; it must be relative to the model's folder");
  for (auto it = llvm::sys::path::begin(location),
            e = llvm::sys::path::end(location);
       it != e; ++it)
    if (*it == "..")
      return fail(what + ": external data location '" + location +
                  "' escapes the model's folder");
  llvm::SmallString<256> joined(directory);
  llvm::sys::path::append(joined, location);
  char resolved[PATH_MAX];
  if (!realpath(joined.c_str(), resolved))
    return fail(what + ": external data file '" + joined.str() +
                "' does not exist");
  std::string real(resolved);
  if (real.compare(0, directory.size() + 1, directory + "/") != 0)
    return fail(what + ": external data location '" + location +
                "' resolves to '" + real +
                "', outside the model's folder (symlink?)");
  return real;
}

} // namespace

llvm::Expected<std::unique_ptr<ModelFile>>
ModelFile::open(const std::string &path, bool allowAbsentWeights) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path + ": cannot open: " + buffer.getError().message());
  auto model = std::make_unique<ModelFile>();
  model->path = path;
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  char resolved[PATH_MAX];
  if (!realpath(dir.c_str(), resolved))
    return fail(path + ": cannot resolve the model's folder");
  model->directory = resolved;
  char resolvedFile[PATH_MAX];
  std::string realModel = realpath(path.c_str(), resolvedFile) ? resolvedFile : path;

  // Rebuild the model bytes without initializer payloads.
  const uint8_t *file =
      reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart());
  const uint8_t *fileEnd = file + (*buffer)->getBufferSize();
  std::string stripped;
  std::vector<RawRange> raw;
  WireReader reader(file, fileEnd, file);
  bool sawGraph = false;
  while (!reader.atEnd()) {
    uint32_t number, wireType;
    const uint8_t *start, *payload, *payloadEnd;
    uint64_t at = reader.fileOffset();
    if (!reader.field(number, wireType, start, payload, payloadEnd))
      return fail(path + ": truncated or malformed protobuf at byte " +
                  llvm::Twine(at));
    if (number != kModelGraph || wireType != 2) {
      stripped.append(reinterpret_cast<const char *>(start), payloadEnd - start);
      continue;
    }
    sawGraph = true;
    std::string graph;
    WireReader graphReader(payload, payloadEnd, file);
    while (!graphReader.atEnd()) {
      uint32_t gNumber, gWire;
      const uint8_t *gStart, *gPayload, *gEnd;
      uint64_t at = graphReader.fileOffset();
      if (!graphReader.field(gNumber, gWire, gStart, gPayload, gEnd))
        return fail(path + ": truncated or malformed graph at byte " +
                    llvm::Twine(at));
      if (gNumber == kGraphSparseInitializer)
        return fail(path + ": sparse initializers are not supported");
      if (gNumber != kGraphInitializer || gWire != 2) {
        graph.append(reinterpret_cast<const char *>(gStart), gEnd - gStart);
        continue;
      }
      std::string tensor;
      RawRange range;
      if (!stripField(gPayload, gEnd, file, kTensorRawData, tensor, range))
        return fail(path + ": truncated or malformed initializer " +
                    llvm::Twine(raw.size()) + " at byte " +
                    llvm::Twine(uint64_t(gPayload - file)));
      raw.push_back(range);
      appendLengthDelimited(graph, kGraphInitializer, tensor);
    }
    appendLengthDelimited(stripped, kModelGraph, graph);
  }
  if (!sawGraph)
    return fail(path + ": not an ONNX model (no graph)");
  if (!model->proto.ParseFromString(stripped))
    return fail(path + ": malformed ONNX protobuf");

  // One record per initializer, checked before anything trusts it.
  const ::onnx::GraphProto &graph = model->proto.graph();
  for (int i = 0; i < graph.initializer_size(); ++i) {
    const ::onnx::TensorProto &t = graph.initializer(i);
    std::string what = path + ": initializer '" + t.name() + "'";
    WeightRecord record;
    record.name = t.name();
    record.onnxType = t.data_type();
    record.shape.assign(t.dims().begin(), t.dims().end());
    size_t elementSize = onnxTypeSize(t.data_type());
    if (!elementSize)
      return fail(what + ": unsupported data type " +
                  onnxTypeName(t.data_type()));
    auto count = checkedCount(what, record.shape);
    if (!count)
      return count.takeError();
    uint64_t bytes;
    if (__builtin_mul_overflow(*count, uint64_t(elementSize), &bytes) ||
        bytes > kMaxTensorBytes)
      return fail(what + ": size overflows");
    record.length = bytes;

    if (t.data_location() == ::onnx::TensorProto::EXTERNAL) {
      std::string location;
      uint64_t offset = 0, length = bytes;
      bool hasLength = false;
      for (const auto &entry : t.external_data()) {
        char *endp = nullptr;
        if (entry.key() == "location") {
          location = entry.value();
        } else if (entry.key() == "offset" || entry.key() == "length") {
          errno = 0;
          unsigned long long v = std::strtoull(entry.value().c_str(), &endp, 10);
          if (entry.value().empty() || *endp || errno || entry.value()[0] == '-')
            return fail(what + ": bad external data " + entry.key() + " '" +
                        entry.value() + "'");
          if (entry.key() == "offset")
            offset = v;
          else {
            length = v;
            hasLength = true;
          }
        }
      }
      if (allowAbsentWeights && !location.empty() &&
          !llvm::sys::path::is_absolute(location) &&
          llvm::StringRef(location).find("..") == llvm::StringRef::npos) {
        llvm::SmallString<256> joined(model->directory);
        llvm::sys::path::append(joined, location);
        if (!llvm::sys::fs::exists(joined)) {
          record.absent = true;
          model->weights.add(std::move(record));
          continue;
        }
      }
      auto file = resolveExternal(what, model->directory, location);
      if (!file)
        return file.takeError();
      if (hasLength && length != bytes)
        return fail(what + ": external length " + llvm::Twine(length) +
                    " differs from the " + llvm::Twine(bytes) +
                    " bytes its shape needs");
      uint64_t fileSize = 0;
      if (llvm::sys::fs::file_size(*file, fileSize))
        return fail(what + ": cannot stat external file '" + *file + "'");
      if (offset > fileSize || bytes > fileSize - offset)
        return fail(what + ": external data [" + llvm::Twine(offset) + ", " +
                    llvm::Twine(offset + bytes) + ") lies beyond the end of '" +
                    *file + "' (" + llvm::Twine(fileSize) + " bytes)");
      record.file = *file;
      record.offset = offset;
    } else if (raw[i].present) {
      if (raw[i].length != bytes)
        return fail(what + ": raw_data has " + llvm::Twine(raw[i].length) +
                    " bytes, its shape needs " + llvm::Twine(bytes));
      record.file = realModel;
      record.offset = raw[i].offset;
    } else {
      // Typed fields: small tensors, already parsed; copy them out.
      auto put = [&](const void *data, size_t size) {
        const uint8_t *b = static_cast<const uint8_t *>(data);
        record.inlineBytes.insert(record.inlineBytes.end(), b, b + size);
      };
      uint64_t have = 0;
      switch (t.data_type()) {
      case ::onnx::TensorProto::FLOAT:
        have = t.float_data_size();
        put(t.float_data().data(), have * 4);
        break;
      case ::onnx::TensorProto::DOUBLE:
        have = t.double_data_size();
        put(t.double_data().data(), have * 8);
        break;
      case ::onnx::TensorProto::INT64:
        have = t.int64_data_size();
        put(t.int64_data().data(), have * 8);
        break;
      case ::onnx::TensorProto::INT32:
        have = t.int32_data_size();
        put(t.int32_data().data(), have * 4);
        break;
      default:
        // int32_data carries narrow types (at most 4 bytes) one value per
        // entry; wider ones (uint32/uint64 in uint64_data) are not read.
        if (elementSize > 4)
          return fail(what + ": typed values of " + onnxTypeName(t.data_type()) +
                      " are not supported; store them in raw_data");
        have = t.int32_data_size();
        for (int32_t v : t.int32_data())
          put(&v, elementSize);
        break;
      }
      if (have != *count)
        return fail(what + ": holds " + llvm::Twine(have) +
                    " values, its shape needs " + llvm::Twine(*count));
    }
    model->weights.add(std::move(record));
  }
  return model;
}

llvm::Expected<std::vector<uint8_t>>
ModelFile::readWeight(const WeightRecord &record, uint64_t maxBytes) const {
  if (record.file.empty())
    return std::vector<uint8_t>(record.inlineBytes.begin(),
                                record.inlineBytes.begin() +
                                    std::min<uint64_t>(maxBytes, record.inlineBytes.size()));
  std::ifstream in(record.file, std::ios::binary);
  if (!in)
    return fail(record.file + ": cannot open weight file");
  std::vector<uint8_t> bytes(std::min(record.length, maxBytes));
  in.seekg(std::streamoff(record.offset));
  in.read(reinterpret_cast<char *>(bytes.data()), std::streamsize(bytes.size()));
  if (!in)
    return fail(record.file + ": cannot read " + llvm::Twine(record.length) +
                " bytes of '" + record.name + "' at offset " +
                llvm::Twine(record.offset));
  return bytes;
}
