//===- Npy.cpp - NumPy .npy files for inputs and outputs ------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace tessera::rt {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
/// No real model tensor comes near these; beyond them a header is hostile.
constexpr size_t kMaxRank = 32;
constexpr size_t kMaxHeaderSize = 1 << 20;

/// NumPy `descr` strings for each dtype (little-endian or byte-sized).
struct NpyDescr {
  const char *descr;
  DType dtype;
};
constexpr NpyDescr kDescrs[] = {
    {"<f4", DType::F32}, {"<f2", DType::F16}, {"<f8", DType::F64},
    {"|i1", DType::I8},  {"<i4", DType::I32}, {"<i8", DType::I64},
    {"|b1", DType::Bool},
};

Status error(StatusCode code, const std::string &name, const std::string &msg) {
  return Status(code, name + ": " + msg);
}

/// Finds `'key':` in the header dict and returns the position after it.
size_t findKey(const std::string &header, const char *key) {
  std::string quoted = std::string("'") + key + "'";
  size_t pos = header.find(quoted);
  if (pos == std::string::npos)
    return pos;
  pos = header.find(':', pos + quoted.size());
  return pos == std::string::npos ? pos : pos + 1;
}

size_t skipSpaces(const std::string &s, size_t pos) {
  while (pos < s.size() && s[pos] == ' ')
    ++pos;
  return pos;
}

Status parseHeader(const std::string &header, const std::string &name,
                   HostTensor &out) {
  size_t pos = findKey(header, "descr");
  if (pos == std::string::npos)
    return error(StatusCode::DataLoss, name, "npy header has no 'descr'");
  pos = skipSpaces(header, pos);
  size_t end = header.find('\'', pos + 1);
  if (pos >= header.size() || header[pos] != '\'' || end == std::string::npos)
    return error(StatusCode::DataLoss, name, "malformed 'descr' in npy header");
  std::string descr = header.substr(pos + 1, end - pos - 1);
  bool known = false;
  for (const NpyDescr &d : kDescrs) {
    // '=' means native order, which is little-endian on every host we run on.
    if (descr == d.descr || (descr[0] == '=' && descr.substr(1) ==
                                                    std::string(d.descr + 1))) {
      out.dtype = d.dtype;
      known = true;
    }
  }
  if (!known)
    return error(StatusCode::Unimplemented, name,
                 "unsupported npy dtype '" + descr +
                     "' (supported: <f4 <f2 <f8 |i1 <i4 <i8 |b1)");

  pos = findKey(header, "fortran_order");
  if (pos == std::string::npos)
    return error(StatusCode::DataLoss, name, "npy header has no 'fortran_order'");
  pos = skipSpaces(header, pos);
  if (header.compare(pos, 4, "True") == 0)
    return error(StatusCode::Unimplemented, name,
                 "Fortran-order arrays are not supported; save with "
                 "np.ascontiguousarray");
  if (header.compare(pos, 5, "False") != 0)
    return error(StatusCode::DataLoss, name, "malformed 'fortran_order'");

  pos = findKey(header, "shape");
  if (pos == std::string::npos)
    return error(StatusCode::DataLoss, name, "npy header has no 'shape'");
  pos = skipSpaces(header, pos);
  end = header.find(')', pos);
  if (pos >= header.size() || header[pos] != '(' || end == std::string::npos)
    return error(StatusCode::DataLoss, name, "malformed 'shape' in npy header");
  out.shape.clear();
  const char *p = header.c_str() + pos + 1;
  const char *stop = header.c_str() + end;
  while (p < stop) {
    if (*p == ' ' || *p == ',') {
      ++p;
      continue;
    }
    if (*p < '0' || *p > '9')
      return error(StatusCode::DataLoss, name,
                   "malformed dimension in npy shape '" +
                       header.substr(pos, end - pos + 1) + "'");
    int64_t dim = 0;
    while (p < stop && *p >= '0' && *p <= '9') {
      if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10)
        return error(StatusCode::DataLoss, name, "npy dimension overflows");
      dim = dim * 10 + (*p++ - '0');
    }
    out.shape.push_back(dim);
    if (out.shape.size() > kMaxRank)
      return error(StatusCode::DataLoss, name,
                   "npy rank exceeds " + std::to_string(kMaxRank));
  }
  return Status::okStatus();
}

} // namespace

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  if (shape.empty())
    return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

Status parseNpy(const std::vector<uint8_t> &bytes, const std::string &name,
                HostTensor &out) {
  if (bytes.size() < kMagicSize + 4 ||
      std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    return error(StatusCode::InvalidArgument, name, "not a .npy file");
  uint8_t major = bytes[6];
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = bytes[8] | (size_t(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return error(StatusCode::DataLoss, name, "truncated npy header");
    headerLen = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) |
                (size_t(bytes[11]) << 24);
    offset = 12;
  } else {
    return error(StatusCode::Unimplemented, name,
                 "npy format version " + std::to_string(major) +
                     " is not supported");
  }
  if (headerLen > kMaxHeaderSize || offset + headerLen > bytes.size())
    return error(StatusCode::DataLoss, name, "truncated npy header");
  std::string header(bytes.begin() + offset,
                     bytes.begin() + offset + headerLen);
  if (Status s = parseHeader(header, name, out); !s.ok())
    return s;

  // Size the payload with overflow checks before trusting the shape.
  size_t payload = bytes.size() - offset - headerLen;
  uint64_t expected = dtypeSize(out.dtype);
  bool overflow = false;
  for (int64_t dim : out.shape)
    overflow |= __builtin_mul_overflow(expected, uint64_t(dim), &expected);
  if (overflow)
    return error(StatusCode::DataLoss, name,
                 "npy shape " + formatShape(out.shape) +
                     " overflows a 64-bit byte count");
  if (expected != payload)
    return error(StatusCode::DataLoss, name,
                 "npy shape " + formatShape(out.shape) + " of " +
                     std::string(dtypeName(out.dtype)) + " needs " +
                     std::to_string(expected) + " data bytes, file has " +
                     std::to_string(payload));
  out.data.assign(bytes.begin() + offset + headerLen, bytes.end());
  return Status::okStatus();
}

Status readNpy(const std::string &path, HostTensor &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return error(StatusCode::NotFound, path, "cannot open file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad())
    return error(StatusCode::Internal, path, "read failed");
  return parseNpy(bytes, path, out);
}

std::vector<uint8_t> serializeNpy(const HostTensor &tensor) {
  // bf16 has no NumPy dtype; it is written as raw 2-byte records.
  const char *descr = "<V2";
  for (const NpyDescr &d : kDescrs)
    if (d.dtype == tensor.dtype)
      descr = d.descr;
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape.size(); ++i)
    header += (i ? ", " : "") + std::to_string(tensor.shape[i]);
  if (tensor.shape.size() == 1)
    header += ","; // A Python 1-tuple.
  header += ")";
  header += ", }";
  // Pad with spaces so that the data starts 64-byte aligned, newline last.
  size_t total = kMagicSize + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::vector<uint8_t> bytes(kMagic, kMagic + kMagicSize);
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(uint8_t(header.size() & 0xff));
  bytes.push_back(uint8_t(header.size() >> 8));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), tensor.data.begin(), tensor.data.end());
  return bytes;
}

Status writeNpy(const std::string &path, const HostTensor &tensor) {
  std::vector<uint8_t> bytes = serializeNpy(tensor);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    return error(StatusCode::NotFound, path, "cannot create file");
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  if (!out)
    return error(StatusCode::Internal, path, "write failed");
  return Status::okStatus();
}

} // namespace tessera::rt
