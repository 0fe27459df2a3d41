//===- TensorProto.cpp - ONNX TensorProto files without protobuf ----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/TensorProto.h"

#include <cstring>
#include <fstream>
#include <iterator>

namespace tessera::rt {
namespace {

struct Reader {
  const uint8_t *p, *end;
  bool varint(uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80))
        return true;
    }
    return false;
  }
};

/// onnx.TensorProto.DataType -> DType.
bool dtypeOf(uint64_t onnx, DType &out) {
  switch (onnx) {
  case 1: out = DType::F32; return true;
  case 3: out = DType::I8; return true;
  case 6: out = DType::I32; return true;
  case 7: out = DType::I64; return true;
  case 9: out = DType::Bool; return true;
  case 10: out = DType::F16; return true;
  case 11: out = DType::F64; return true;
  case 16: out = DType::BF16; return true;
  default: return false;
  }
}

} // namespace

Status readTensorProto(const std::string &path, HostTensor &out,
                       std::string &name) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status(StatusCode::NotFound, path + ": cannot open file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  auto bad = [&](const std::string &why) {
    return Status(StatusCode::DataLoss, path + ": " + why);
  };
  Reader r{bytes.data(), bytes.data() + bytes.size()};
  uint64_t dataType = 0;
  bool haveRaw = false;
  std::vector<int64_t> ints;   // int32_data / int64_data
  std::vector<double> floats;  // float_data / double_data
  std::vector<uint8_t> raw;
  out.shape.clear();
  while (r.p < r.end) {
    uint64_t tag;
    if (!r.varint(tag))
      return bad("malformed protobuf");
    uint32_t field = uint32_t(tag >> 3), wire = uint32_t(tag & 7);
    auto repeated = [&](auto &&each) -> bool {
      if (wire == 2) { // packed
        uint64_t len;
        if (!r.varint(len) || len > uint64_t(r.end - r.p))
          return false;
        Reader sub{r.p, r.p + len};
        r.p += len;
        while (sub.p < sub.end)
          if (!each(sub))
            return false;
        return true;
      }
      return each(r);
    };
    switch (field) {
    case 1: // dims
      if (!repeated([&](Reader &s) {
            uint64_t v;
            if (!s.varint(v))
              return false;
            out.shape.push_back(int64_t(v));
            return true;
          }))
        return bad("malformed dims");
      continue;
    case 2:
      if (!r.varint(dataType))
        return bad("malformed data_type");
      continue;
    case 4: // float_data (fixed32)
    case 10: { // double_data (fixed64)
      size_t width = field == 4 ? 4 : 8;
      if (!repeated([&](Reader &s) {
            if (size_t(s.end - s.p) < width)
              return false;
            if (width == 4) {
              float f;
              std::memcpy(&f, s.p, 4);
              floats.push_back(f);
            } else {
              double d;
              std::memcpy(&d, s.p, 8);
              floats.push_back(d);
            }
            s.p += width;
            return true;
          }))
        return bad("malformed float data");
      continue;
    }
    case 5: // int32_data
    case 7: // int64_data
      if (!repeated([&](Reader &s) {
            uint64_t v;
            if (!s.varint(v))
              return false;
            ints.push_back(field == 5 ? int64_t(int32_t(v)) : int64_t(v));
            return true;
          }))
        return bad("malformed integer data");
      continue;
    default:
      break;
    }
    // Everything else: skip (and keep name and raw_data).
    uint64_t len = 0;
    if (wire == 0) {
      uint64_t ignored;
      if (!r.varint(ignored))
        return bad("malformed protobuf");
      continue;
    }
    if (wire == 1 || wire == 5) {
      size_t width = wire == 1 ? 8 : 4;
      if (size_t(r.end - r.p) < width)
        return bad("truncated protobuf");
      r.p += width;
      continue;
    }
    if (wire != 2 || !r.varint(len) || len > uint64_t(r.end - r.p))
      return bad("truncated or malformed protobuf");
    if (field == 8)
      name.assign(reinterpret_cast<const char *>(r.p), len);
    else if (field == 9) {
      raw.assign(r.p, r.p + len);
      haveRaw = true;
    }
    r.p += len;
  }
  if (!dtypeOf(dataType, out.dtype))
    return Status(StatusCode::Unimplemented,
                  path + ": ONNX data type " + std::to_string(dataType) +
                      " is not supported");
  uint64_t count = 1;
  for (int64_t d : out.shape)
    if (d < 0 || __builtin_mul_overflow(count, uint64_t(d), &count))
      return bad("invalid dims");
  size_t size = dtypeSize(out.dtype);
  uint64_t total;
  if (__builtin_mul_overflow(count, uint64_t(size), &total))
    return bad("invalid dims");
  if (haveRaw) {
    if (raw.size() != total)
      return bad("raw_data has " + std::to_string(raw.size()) +
                 " bytes, dims need " + std::to_string(total));
    out.data = std::move(raw);
    return Status::okStatus();
  }
  // The values present bound the size: check before allocating (a hostile
  // file may declare any dims).
  // f32 and f64 come in float_data/double_data; every other type (f16 and
  // bf16 bit patterns included) in int32_data/int64_data.
  bool floating = out.dtype == DType::F32 || out.dtype == DType::F64;
  size_t have = floating ? floats.size() : ints.size();
  if (have != count || (floating ? !ints.empty() : !floats.empty()))
    return bad("holds " + std::to_string(floating ? floats.size() : ints.size()) + " " +
               (floating ? "float" : "integer") + " values (and " +
               std::to_string(floating ? ints.size() : floats.size()) +
               " of the other kind), dims need " + std::to_string(count));
  out.data.assign(total, 0);
  for (uint64_t i = 0; i < count; ++i) {
    uint8_t *dst = out.data.data() + i * size;
    switch (out.dtype) {
    case DType::F32: { float f = float(floats[i]); std::memcpy(dst, &f, 4); break; }
    case DType::F64: std::memcpy(dst, &floats[i], 8); break;
    case DType::I64: std::memcpy(dst, &ints[i], 8); break;
    case DType::I32: { int32_t v = int32_t(ints[i]); std::memcpy(dst, &v, 4); break; }
    case DType::F16:
    case DType::BF16: { uint16_t v = uint16_t(ints[i]); std::memcpy(dst, &v, 2); break; }
    default: *dst = uint8_t(ints[i]); break;
    }
  }
  return Status::okStatus();
}

Status readTensorFile(const std::string &path, HostTensor &out) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".pb") == 0) {
    std::string name;
    return readTensorProto(path, out, name);
  }
  return readNpy(path, out);
}

} // namespace tessera::rt
