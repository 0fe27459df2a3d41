//===- DropoutTest.cpp - the counter-based dropout ------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Training-mode dropout (runtime/src/cpu/Dropout.h): the share of dropped
// elements, the scale of the kept ones, the same draws for any block of the
// whole tensor (what each rank of a mesh computes), and different draws for
// another step, stream or seed.
//
//===----------------------------------------------------------------------===//

#include "cpu/Dropout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace tessera::rt::cpu;

namespace {

std::vector<float> ones(size_t n) { return std::vector<float>(n, 1.0f); }

TEST(Dropout, DropsTheRatioAndScalesTheRest) {
  for (double ratio : {0.1, 0.5, 0.9}) {
    std::vector<int64_t> shape{64, 1024};
    size_t n = 64 * 1024;
    std::vector<float> x = ones(n), y(n);
    dropoutBlock(x.data(), y.data(), shape, shape, {0, 0}, ratio, dropoutKey(3, 1, 0));
    size_t dropped = 0;
    for (float v : y) {
      if (v == 0.0f)
        ++dropped;
      else
        EXPECT_FLOAT_EQ(v, float(1.0 / (1.0 - ratio)));
    }
    // Within 5 standard deviations of a binomial.
    double sigma = std::sqrt(double(n) * ratio * (1 - ratio));
    EXPECT_NEAR(double(dropped), ratio * double(n), 5 * sigma) << "ratio " << ratio;
  }
}

TEST(Dropout, AnyBlockDrawsWhatTheWholeTensorDraws) {
  std::vector<int64_t> whole{6, 4, 10};
  size_t n = 6 * 4 * 10;
  std::vector<float> x(n), all(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = float(i) + 1.0f;
  uint64_t key = dropoutKey(0, 5, 17);
  dropoutBlock(x.data(), all.data(), whole, whole, {0, 0, 0}, 0.5, key);
  // The block [2..5) x [0..4) x [4..9), as a rank holding it computes it.
  std::vector<int64_t> shape{3, 4, 5}, origin{2, 0, 4};
  std::vector<float> in, out(3 * 4 * 5);
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t c = 0; c < 5; ++c)
        in.push_back(x[size_t(((a + 2) * 4 + b) * 10 + c + 4)]);
  dropoutBlock(in.data(), out.data(), shape, whole, origin, 0.5, key);
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t c = 0; c < 5; ++c)
        EXPECT_EQ(out[size_t((a * 4 + b) * 5 + c)], all[size_t(((a + 2) * 4 + b) * 10 + c + 4)]);
}

TEST(Dropout, AnotherStepStreamOrSeedDrawsAgain) {
  std::vector<int64_t> shape{4096};
  std::vector<float> x = ones(4096), base(4096), other(4096);
  dropoutBlock(x.data(), base.data(), shape, shape, {0}, 0.5, dropoutKey(0, 0, 0));
  dropoutBlock(x.data(), other.data(), shape, shape, {0}, 0.5, dropoutKey(0, 0, 0));
  EXPECT_EQ(base, other); // the same key: the same draws
  for (uint64_t k : {dropoutKey(0, 0, 1), dropoutKey(0, 1, 0), dropoutKey(1, 0, 0)}) {
    dropoutBlock(x.data(), other.data(), shape, shape, {0}, 0.5, k);
    size_t differ = 0;
    for (size_t i = 0; i < base.size(); ++i)
      differ += base[i] != other[i];
    // Independent draws differ in about half the elements.
    EXPECT_GT(differ, 1800u);
    EXPECT_LT(differ, 2300u);
  }
}

} // namespace
