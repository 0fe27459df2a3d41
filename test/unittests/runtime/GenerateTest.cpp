//===- GenerateTest.cpp - the sampler of generation -----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace tessera::rt;

namespace {

std::vector<double> softmax(const std::vector<float> &logits, double temperature) {
  std::vector<double> p;
  double top = -1e300, sum = 0;
  for (float l : logits)
    top = std::max(top, double(l) / temperature);
  for (float l : logits)
    sum += std::exp(double(l) / temperature - top);
  for (float l : logits)
    p.push_back(std::exp(double(l) / temperature - top) / sum);
  return p;
}

const std::vector<float> kLogits = {1.0f, 3.0f, -0.5f, 3.0f, 0.25f, 2.0f};

TEST(SamplerTest, GreedyTakesTheFirstMaximum) {
  Sampler greedy(SamplingOptions{});
  EXPECT_EQ(greedy.next(kLogits.data(), int64_t(kLogits.size())), 1);
}

TEST(SamplerTest, TemperatureIsTheSoftmaxOfScaledLogits) {
  Sampler s(SamplingOptions{0.7, 0, 1.0, 1});
  std::vector<double> got = s.distribution(kLogits.data(), int64_t(kLogits.size()));
  std::vector<double> want = softmax(kLogits, 0.7);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-12) << i;
}

TEST(SamplerTest, TopKKeepsTheKMostLikely) {
  Sampler s(SamplingOptions{1.0, 3, 1.0, 1});
  std::vector<double> p = s.distribution(kLogits.data(), int64_t(kLogits.size()));
  // Tokens 1 and 3 (3.0) and 5 (2.0) stay, renormalised.
  double z = 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(p[1], std::exp(3.0) / z, 1e-12);
  EXPECT_NEAR(p[5], std::exp(2.0) / z, 1e-12);
  EXPECT_EQ(p[0], 0.0);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(p[4], 0.0);
}

TEST(SamplerTest, TopPKeepsTheSmallestSetReachingP) {
  std::vector<double> full = softmax(kLogits, 1.0);
  // The two 3.0 tokens hold full[1] + full[3] (about 0.63); p just above that
  // needs the 2.0 token too, p just below does not.
  double two = full[1] + full[3];
  Sampler below(SamplingOptions{1.0, 0, two - 1e-6, 1});
  std::vector<double> p = below.distribution(kLogits.data(), int64_t(kLogits.size()));
  EXPECT_NEAR(p[1] + p[3], 1.0, 1e-12);
  EXPECT_EQ(p[5], 0.0);
  Sampler above(SamplingOptions{1.0, 0, two + 1e-6, 1});
  p = above.distribution(kLogits.data(), int64_t(kLogits.size()));
  EXPECT_GT(p[5], 0.0);
  EXPECT_EQ(p[0], 0.0);
}

TEST(SamplerTest, SamplesFollowTheDistribution) {
  // Pearson's chi-square over 6 tokens (5 degrees of freedom): 20.5 is the
  // 0.1% critical value.
  Sampler s(SamplingOptions{0.7, 0, 1.0, 42});
  std::vector<double> want = softmax(kLogits, 0.7);
  const int n = 40000;
  std::vector<int> counts(kLogits.size(), 0);
  for (int i = 0; i < n; ++i)
    ++counts[size_t(s.next(kLogits.data(), int64_t(kLogits.size())))];
  double chi2 = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double expected = n * want[i];
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, 20.5);
}

TEST(SamplerTest, ASeedRepeatsAnotherDiffers) {
  auto draw = [](uint64_t seed) {
    Sampler s(SamplingOptions{1.0, 0, 1.0, seed});
    std::vector<int64_t> out;
    for (int i = 0; i < 64; ++i)
      out.push_back(s.next(kLogits.data(), int64_t(kLogits.size())));
    return out;
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

} // namespace
