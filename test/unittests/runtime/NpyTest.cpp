//===- NpyTest.cpp - .npy reading and writing -----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

using namespace tessera::rt;

namespace {

HostTensor makeF32(std::vector<int64_t> shape) {
  HostTensor t;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  t.data.resize(size_t(t.numElements()) * 4);
  for (int64_t i = 0; i < t.numElements(); ++i) {
    float v = 0.5f * float(i) - 3.0f;
    std::memcpy(t.data.data() + 4 * i, &v, 4);
  }
  return t;
}

/// A hand-written .npy image with the given header dict and payload size.
std::vector<uint8_t> npyImage(const std::string &dict, size_t payload) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string image = std::string("\x93NUMPY\x01\x00", 8);
  image += char(header.size() & 0xff);
  image += char(header.size() >> 8);
  image += header;
  std::vector<uint8_t> bytes(image.begin(), image.end());
  bytes.resize(bytes.size() + payload, 0);
  return bytes;
}

TEST(Npy, RoundTripsShapesAndDTypes) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{2, 3}, {5}, {}, {0, 4}, {1, 1, 7}}) {
    HostTensor in = makeF32(shape);
    HostTensor out;
    Status s = parseNpy(serializeNpy(in), "mem", out);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(out.dtype, DType::F32);
    EXPECT_EQ(out.shape, in.shape);
    EXPECT_EQ(out.data, in.data);
  }
  HostTensor ids;
  ids.dtype = DType::I64;
  ids.shape = {2, 2};
  ids.data.assign(32, 7);
  HostTensor out;
  ASSERT_TRUE(parseNpy(serializeNpy(ids), "mem", out).ok());
  EXPECT_EQ(out.dtype, DType::I64);
  EXPECT_EQ(out.data, ids.data);
}

TEST(Npy, WritesNumPyHeadersWithAlignedData) {
  std::vector<uint8_t> bytes = serializeNpy(makeF32({5}));
  std::string text(bytes.begin(), bytes.end());
  EXPECT_NE(text.find("'shape': (5,)"), std::string::npos);
  EXPECT_NE(text.find("'descr': '<f4'"), std::string::npos);
  EXPECT_EQ((bytes.size() - 20) % 64, 0u) << "data must start 64-byte aligned";
  bytes = serializeNpy(makeF32({}));
  text.assign(bytes.begin(), bytes.end());
  EXPECT_NE(text.find("'shape': ()"), std::string::npos);
}

TEST(Npy, FileRoundTrip) {
  std::string path = ::testing::TempDir() + "/tessera_npy_test.npy";
  HostTensor in = makeF32({3, 4});
  ASSERT_TRUE(writeNpy(path, in).ok());
  HostTensor out;
  Status s = readNpy(path, out);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(out.shape, in.shape);
  EXPECT_EQ(out.data, in.data);
  std::remove(path.c_str());
}

TEST(Npy, MissingFileIsNotFound) {
  HostTensor out;
  Status s = readNpy("/nonexistent/dir/x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::NotFound);
  EXPECT_NE(s.message().find("/nonexistent/dir/x.npy"), std::string::npos);
}

TEST(Npy, RejectsNonNpy) {
  std::vector<uint8_t> bytes = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  HostTensor out;
  Status s = parseNpy(bytes, "x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(s.message(), "x.npy: not a .npy file");
}

TEST(Npy, RejectsTruncatedData) {
  std::vector<uint8_t> bytes = serializeNpy(makeF32({4, 4}));
  bytes.resize(bytes.size() - 3);
  HostTensor out;
  Status s = parseNpy(bytes, "x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::DataLoss);
  EXPECT_NE(s.message().find("needs 64 data bytes, file has 61"),
            std::string::npos)
      << s.message();
}

TEST(Npy, RejectsTrailingData) {
  std::vector<uint8_t> bytes = serializeNpy(makeF32({2}));
  bytes.push_back(0);
  HostTensor out;
  EXPECT_EQ(parseNpy(bytes, "x.npy", out).code(), StatusCode::DataLoss);
}

TEST(Npy, RejectsAbsurdShapeWithoutAllocating) {
  auto bytes = npyImage("{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (4000000000000, 4000000000000), }",
                        16);
  HostTensor out;
  Status s = parseNpy(bytes, "x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::DataLoss);
  EXPECT_NE(s.message().find("overflows a 64-bit byte count"),
            std::string::npos)
      << s.message();
}

TEST(Npy, RejectsOverflowingDimension) {
  auto bytes = npyImage("{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (99999999999999999999999,), }",
                        4);
  HostTensor out;
  EXPECT_EQ(parseNpy(bytes, "x.npy", out).code(), StatusCode::DataLoss);
}

TEST(Npy, RejectsFortranOrderAndBigEndian) {
  HostTensor out;
  Status s = parseNpy(npyImage("{'descr': '<f4', 'fortran_order': True, "
                               "'shape': (2, 2), }",
                               16),
                      "x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::Unimplemented);
  EXPECT_NE(s.message().find("Fortran-order"), std::string::npos);
  s = parseNpy(npyImage("{'descr': '>f4', 'fortran_order': False, "
                        "'shape': (2,), }",
                        8),
               "x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::Unimplemented);
  EXPECT_NE(s.message().find("unsupported npy dtype '>f4'"), std::string::npos);
}

TEST(Npy, RejectsHeaderLongerThanFile) {
  std::vector<uint8_t> bytes = serializeNpy(makeF32({2}));
  bytes[8] = 0xff;
  bytes[9] = 0x7f;
  HostTensor out;
  Status s = parseNpy(bytes, "x.npy", out);
  EXPECT_EQ(s.code(), StatusCode::DataLoss);
  EXPECT_NE(s.message().find("truncated npy header"), std::string::npos);
}

TEST(DType, NamesAndSizesRoundTrip) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I8,
                  DType::I32, DType::I64, DType::Bool}) {
    auto parsed = parseDType(dtypeName(d));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_FALSE(parseDType("f128").has_value());
}

} // namespace
