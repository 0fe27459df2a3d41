//===- SessionTest.cpp - packages, sessions and the C API -----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Builds a small package by hand (y = relu(x + b) with b in the data
// section, then y reshaped) so that the runtime is tested without the
// compiler, as on a runtime-only machine.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Package.h"
#include "tessera/runtime/Session.h"
#include "tessera/runtime/tessera_runtime.h"
#include "tessera/runtime/tpkg_generated.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>

using namespace tessera;
using namespace tessera::rt;

namespace {

std::vector<uint8_t> tinyPackage() {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<int64_t> shape{2, 3};
  auto tensor = [&](const char *name, tpkg::Storage storage, uint64_t offset) {
    return tpkg::CreateTensor(fbb, fbb.CreateString(name), tpkg::DType::F32,
                              fbb.CreateVector(shape), storage, offset, 24);
  };
  std::vector<flatbuffers::Offset<tpkg::Tensor>> tensors{
      tensor("x", tpkg::Storage::Arena, 0),
      tensor("b", tpkg::Storage::Data, 0),
      tensor("sum", tpkg::Storage::Arena, 64),
      tensor("y", tpkg::Storage::Arena, 128)};
  auto kernel = [&](const char *op, std::vector<uint32_t> in,
                    std::vector<uint32_t> out) {
    return tpkg::CreateKernel(fbb, fbb.CreateString(op), fbb.CreateVector(in),
                              fbb.CreateVector(out), 0, fbb.CreateString(op));
  };
  std::vector<flatbuffers::Offset<tpkg::Kernel>> kernels{
      kernel("add", {0, 1}, {2}), kernel("relu", {2}, {3})};
  std::vector<uint32_t> inputs{0}, outputs{3}, mesh{1};
  auto program = tpkg::CreateProgram(fbb, 0, fbb.CreateVector(tensors),
                                     fbb.CreateVector(kernels),
                                     fbb.CreateVector(inputs),
                                     fbb.CreateVector(outputs), 192);
  std::vector<flatbuffers::Offset<tpkg::Program>> programs{program};
  tpkg::FinishPackageBuffer(
      fbb, tpkg::CreatePackage(fbb, fbb.CreateString("test"),
                               fbb.CreateVector(mesh), fbb.CreateVector(programs)));
  PackageHeader h{};
  std::memcpy(h.magic, kPackageMagic, 8);
  h.formatVersion = kPackageFormatVersion;
  h.headerSize = sizeof(PackageHeader);
  h.planOffset = sizeof(PackageHeader);
  h.planSize = fbb.GetSize();
  h.dataOffset = (h.planOffset + h.planSize + 63) / 64 * 64;
  h.dataSize = 64;
  std::vector<uint8_t> file(h.dataOffset + h.dataSize, 0);
  std::memcpy(file.data() + h.planOffset, fbb.GetBufferPointer(), fbb.GetSize());
  float bias[6] = {1, -1, 2, -2, 3, -3};
  std::memcpy(file.data() + h.dataOffset, bias, sizeof(bias));
  h.checksum = packageChecksum(file.data() + 64, file.size() - 64);
  std::memcpy(file.data(), &h, sizeof(h));
  return file;
}

std::string save(const std::vector<uint8_t> &bytes, const char *name) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
  return path;
}

TEST(Session, RunsAHandBuiltPackage) {
  std::shared_ptr<Package> package;
  Status s = Package::open(save(tinyPackage(), "tiny.tpkg"), package);
  ASSERT_TRUE(s.ok()) << s.message();
  std::unique_ptr<Session> session;
  s = Session::create(package, 0, session);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(session->inputs().size(), 1u);
  EXPECT_EQ(session->inputs()[0].name, "x");
  HostTensor x;
  x.dtype = DType::F32;
  x.shape = {2, 3};
  float values[6] = {0, 0, -5, 1, 0.5f, 10};
  x.data.assign(reinterpret_cast<uint8_t *>(values), reinterpret_cast<uint8_t *>(values) + 24);
  ASSERT_TRUE(session->setInput("x", x).ok());
  ASSERT_TRUE(session->run().ok());
  HostTensor y;
  ASSERT_TRUE(session->getOutput("y", y).ok());
  const float *out = reinterpret_cast<const float *>(y.data.data());
  float expected[6] = {1, 0, 0, 0, 3.5f, 7};
  for (int i = 0; i < 6; ++i)
    EXPECT_FLOAT_EQ(out[i], expected[i]) << i;
  EXPECT_EQ(session->arenaBytes(), 192u);
}

TEST(Session, WrongInputsAreRefused) {
  std::shared_ptr<Package> package;
  ASSERT_TRUE(Package::open(save(tinyPackage(), "tiny2.tpkg"), package).ok());
  std::unique_ptr<Session> session;
  ASSERT_TRUE(Session::create(package, 0, session).ok());
  HostTensor x;
  x.dtype = DType::F32;
  x.shape = {3, 2};
  x.data.resize(24);
  Status s = session->setInput("x", x);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(s.message(), "input 'x' must be f32 2x3, got f32 3x2");
  EXPECT_EQ(session->setInput("z", x).code(), StatusCode::NotFound);
  EXPECT_EQ(Session::create(package, 3, session).code(), StatusCode::InvalidArgument);
}

TEST(Package, EveryFlippedByteIsCaught) {
  std::vector<uint8_t> good = tinyPackage();
  // Flip each byte after the header in turn: the checksum must notice.
  for (size_t i = 64; i < good.size(); i += 7) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x5a;
    std::shared_ptr<Package> package;
    Status s = Package::open(save(bad, "flipped.tpkg"), package);
    EXPECT_EQ(s.code(), StatusCode::DataLoss) << "byte " << i;
  }
  for (size_t cut : {size_t(0), size_t(10), size_t(63), good.size() / 2, good.size() - 1}) {
    std::vector<uint8_t> bad(good.begin(), good.begin() + long(cut));
    std::shared_ptr<Package> package;
    EXPECT_FALSE(Package::open(save(bad, "cut.tpkg"), package).ok()) << cut;
  }
}

TEST(CApi, RunsAndReportsErrors) {
  std::string path = save(tinyPackage(), "capi.tpkg");
  tsr_package_t *package = nullptr;
  ASSERT_EQ(tsr_package_open(path.c_str(), &package), TSR_OK) << tsr_last_error();
  tsr_session_options_t options;
  tsr_session_options_initialize(&options);
  EXPECT_EQ(options.rank, 0);
  tsr_session_t *session = nullptr;
  ASSERT_EQ(tsr_session_create(package, &options, &session), TSR_OK);
  ASSERT_EQ(tsr_session_input_count(session), 1u);
  const char *name;
  tsr_dtype_t dtype;
  const int64_t *shape;
  size_t rank;
  ASSERT_EQ(tsr_session_output_info(session, 0, &name, &dtype, &shape, &rank), TSR_OK);
  EXPECT_STREQ(name, "y");
  EXPECT_EQ(dtype, TSR_F32);
  ASSERT_EQ(rank, 2u);
  EXPECT_EQ(shape[1], 3);
  float x[6] = {1, 1, 1, 1, 1, 1}, y[6];
  int64_t dims[2] = {2, 3};
  ASSERT_EQ(tsr_session_set_input(session, "x", TSR_F32, dims, 2, x, sizeof(x)), TSR_OK);
  ASSERT_EQ(tsr_session_run(session), TSR_OK);
  ASSERT_EQ(tsr_session_get_output(session, "y", y, sizeof(y)), TSR_OK);
  EXPECT_FLOAT_EQ(y[0], 2);
  EXPECT_FLOAT_EQ(y[1], 0);
  EXPECT_EQ(tsr_session_get_output(session, "y", y, 8), TSR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tsr_last_error()).find("24 bytes"), std::string::npos);
  EXPECT_EQ(tsr_session_set_input(session, "x", TSR_I64, dims, 2, x, 48), TSR_INVALID_ARGUMENT);
  tsr_session_release(session);
  // Other backends: a CPU package is refused by the CUDA ones, with the reason.
  EXPECT_STREQ(options.backend, "cpu");
  options.backend = "cuda-host";
  EXPECT_EQ(tsr_session_create(package, &options, &session), TSR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tsr_last_error()).find("was not compiled for CUDA"), std::string::npos)
      << tsr_last_error();
  options.backend = "tpu";
  EXPECT_EQ(tsr_session_create(package, &options, &session), TSR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tsr_last_error()).find("unknown backend 'tpu'"), std::string::npos);
  tsr_package_release(package);
  EXPECT_EQ(tsr_package_open("/nonexistent.tpkg", &package), TSR_NOT_FOUND);
  EXPECT_NE(std::string(tsr_last_error()).find("/nonexistent.tpkg"), std::string::npos);
}

} // namespace
