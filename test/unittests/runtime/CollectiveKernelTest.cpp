//===- CollectiveKernelTest.cpp - the CPU collective kernels --------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "cpu/Kernels.h"
#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/tpkg_generated.h"

#include <gtest/gtest.h>

#include <thread>

using namespace tessera;
using namespace tessera::rt;
using namespace tessera::rt::cpu;
using namespace std::chrono_literals;

namespace {

/// A kernel `op` whose attributes are `ints` (name -> one value).
std::vector<uint8_t>
kernelWith(const char *op,
           const std::vector<std::pair<const char *, int64_t>> &ints) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<tpkg::Attr>> attrs;
  for (auto [name, value] : ints)
    attrs.push_back(
        tpkg::CreateAttr(fbb, fbb.CreateString(name),
                         fbb.CreateVector(std::vector<int64_t>{value})));
  std::vector<uint32_t> in{0}, out{1};
  fbb.Finish(tpkg::CreateKernel(fbb, fbb.CreateString(op), fbb.CreateVector(in),
                                fbb.CreateVector(out), fbb.CreateVector(attrs),
                                fbb.CreateString(op)));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

/// Runs all_reduce on 2 ranks as threads: rank r holds {r + 1, 10 - r, -r}.
std::vector<std::vector<float>>
allReduceOnTwoRanks(const std::vector<uint8_t> &kernel) {
  LocalGroup group(2, 5000ms);
  std::vector<std::vector<float>> results(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      std::vector<float> x = {float(r + 1), float(10 - r), float(-r)}, y(3);
      KernelCall call;
      call.kernel = flatbuffers::GetRoot<tpkg::Kernel>(kernel.data());
      call.comm = &group.communicator(r);
      call.inputs.push_back(
          {reinterpret_cast<uint8_t *>(x.data()), DType::F32, {3}});
      call.outputs.push_back(
          {reinterpret_cast<uint8_t *>(y.data()), DType::F32, {3}});
      Status s = cpuKernels().at("all_reduce")(call);
      EXPECT_TRUE(s.ok()) << s.message();
      results[size_t(r)] = y;
    });
  for (std::thread &t : threads)
    t.join();
  return results;
}

TEST(CollectiveKernels, AllReduceSumsByDefault) {
  for (const std::vector<float> &y :
       allReduceOnTwoRanks(kernelWith("all_reduce", {})))
    EXPECT_EQ(y, (std::vector<float>{3, 19, -1}));
}

TEST(CollectiveKernels, AllReduceTakesTheMaximumOfPartialMaxima) {
  // A partial maximum ("M" layout, attribute max = 1): the blocks' maxima.
  for (const std::vector<float> &y :
       allReduceOnTwoRanks(kernelWith("all_reduce", {{"max", 1}})))
    EXPECT_EQ(y, (std::vector<float>{2, 10, 0}));
}

} // namespace
