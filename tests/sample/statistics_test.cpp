// Statistical tests: the tokens the sampler draws follow the exact target
// distribution of temperature / top-k / top-p / min-p sampling. The target is a
// direct computation (double precision, full sort); Pearson's chi-square test
// with bins of expected count >= 5 must give p >= kChiSquareAlpha (1e-4: each
// test fails with that probability for a random choice of seeds when the
// sampler is right; the seeds here are fixed, so a run is deterministic), and a
// token of probability 0 must never be drawn.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "sample/sampler.h"
#include "sample_test_util.h"

namespace pagoda::sample {
namespace {

using testing::ChiSquare;
using testing::kChiSquareAlpha;
using testing::RandomLogits;

// Target probabilities by direct computation: temperature, then min_p, top_k,
// top_p (vLLM's order), renormalized.
std::vector<double> Target(const std::vector<float>& logits, const SamplingParams& p) {
  const size_t V = logits.size();
  std::vector<double> l(V);
  for (size_t i = 0; i < V; ++i) l[i] = static_cast<double>(logits[i]) / p.temperature;
  std::vector<bool> keep(V, true);
  auto probs = [&]() {
    double m = -HUGE_VAL, s = 0;
    for (size_t i = 0; i < V; ++i)
      if (keep[i]) m = std::max(m, l[i]);
    std::vector<double> q(V, 0.0);
    for (size_t i = 0; i < V; ++i)
      if (keep[i]) s += q[i] = std::exp(l[i] - m);
    for (double& x : q) x /= s;
    return q;
  };
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l[a] > l[b]; });
  if (p.min_p > 0) {
    auto q = probs();
    for (size_t i = 0; i < V; ++i) keep[i] = keep[i] && q[i] >= p.min_p * q[order[0]];
  }
  if (p.top_k > 0)
    for (size_t r = static_cast<size_t>(p.top_k); r < V; ++r) keep[order[r]] = false;
  if (p.top_p < 1) {
    auto q = probs();
    double above = 0;
    for (size_t i : order) {
      if (!keep[i]) continue;
      if (!(above < p.top_p)) keep[i] = false;
      above += q[i];
    }
  }
  return probs();
}

struct StatCase {
  const char* name;
  double temperature, top_p;
  int top_k;
  double min_p;
  size_t vocab;
};

void PrintTo(const StatCase& c, std::ostream* os) { *os << c.name; }

class SamplingDistribution : public ::testing::TestWithParam<StatCase> {};

// N draws of one row: seeds 0..N-1 at output position 0 (every row of the batch
// is the same logits with its own seed).
std::vector<int64_t> DrawWithSeeds(const std::vector<float>& logits, const SamplingParams& base, int n) {
  const int64_t V = static_cast<int64_t>(logits.size());
  std::vector<int64_t> counts(logits.size(), 0);
  std::vector<SamplingParams> params(n, base);
  std::vector<SamplingRow> rows(n);
  for (int i = 0; i < n; ++i) {
    params[i].seed = static_cast<uint64_t>(i);
    rows[i].params = &params[i];
  }
  std::vector<float> batch(static_cast<size_t>(n) * logits.size());
  for (int i = 0; i < n; ++i) std::copy(logits.begin(), logits.end(), batch.begin() + i * V);
  Sampler sampler;
  for (const SampleResult& r : sampler.Sample(batch.data(), V, rows)) ++counts[r.token];
  return counts;
}

// N draws of one seeded request at output positions 0..N-1 (the stream of one
// request through time; its output history does not change the logits here).
std::vector<int64_t> DrawThroughTime(const std::vector<float>& logits, const SamplingParams& base, int n) {
  const int64_t V = static_cast<int64_t>(logits.size());
  std::vector<int64_t> counts(logits.size(), 0);
  SamplingParams p = base;
  p.seed = 99;
  std::vector<int32_t> history(n, 0);
  std::vector<SamplingRow> rows(n);
  for (int i = 0; i < n; ++i) {
    rows[i].params = &p;
    rows[i].output_ids = std::span<const int32_t>(history).first(i);
  }
  std::vector<float> batch(static_cast<size_t>(n) * logits.size());
  for (int i = 0; i < n; ++i) std::copy(logits.begin(), logits.end(), batch.begin() + i * V);
  Sampler sampler;
  for (const SampleResult& r : sampler.Sample(batch.data(), V, rows)) ++counts[r.token];
  return counts;
}

TEST_P(SamplingDistribution, MatchesTheTarget) {
  const StatCase& c = GetParam();
  SamplingParams p;
  p.temperature = c.temperature;
  p.top_p = c.top_p;
  p.top_k = c.top_k;
  p.min_p = c.min_p;
  const auto logits = RandomLogits(static_cast<uint32_t>(c.vocab * 7 + c.top_k), c.vocab, 1.5);
  const auto target = Target(logits, p);
  const int kDraws = 60000;
  for (int mode = 0; mode < 2; ++mode) {
    const auto counts = mode == 0 ? DrawWithSeeds(logits, p, kDraws) : DrawThroughTime(logits, p, kDraws);
    const auto r = ChiSquare(counts, target);
    std::printf("  %-16s %-12s chi2 %8.2f  dof %3d  p %.4f\n", c.name, mode ? "through time" : "across seeds", r.stat,
                r.dof, r.p_value);
    EXPECT_EQ(r.impossible, 0) << (mode ? "through time" : "across seeds");
    EXPECT_GE(r.p_value, kChiSquareAlpha)
        << (mode ? "through time" : "across seeds") << ": chi2 " << r.stat << " dof " << r.dof;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Params, SamplingDistribution,
    ::testing::Values(StatCase{"plain", 1.0, 1.0, 0, 0.0, 40}, StatCase{"temperature_0_6", 0.6, 1.0, 0, 0.0, 40},
                      StatCase{"temperature_2", 2.0, 1.0, 0, 0.0, 200}, StatCase{"top_k_5", 1.0, 1.0, 5, 0.0, 64},
                      StatCase{"top_p_0_8", 1.0, 0.8, 0, 0.0, 64}, StatCase{"top_p_0_5_t_1_5", 1.5, 0.5, 0, 0.0, 100},
                      StatCase{"min_p_0_1", 1.0, 1.0, 0, 0.1, 64},
                      StatCase{"all_of_them", 0.8, 0.9, 12, 0.02, 128}),
    [](const ::testing::TestParamInfo<StatCase>& info) { return std::string(info.param.name); });

// The chi-square machinery itself: textbook critical values, and a skewed
// sample it must reject.
TEST(ChiSquare, KnownValuesAndPower) {
  EXPECT_NEAR(testing::ChiSquarePValue(3.841, 1), 0.05, 1e-4);
  EXPECT_NEAR(testing::ChiSquarePValue(23.209, 10), 0.01, 1e-4);
  EXPECT_NEAR(testing::ChiSquarePValue(124.342, 100), 0.05, 1e-4);
  // A 2% shift of mass between two tokens at 60000 draws is detected.
  std::vector<double> probs = {0.3, 0.3, 0.2, 0.2};
  std::vector<int64_t> counts = {18000 + 1200, 18000 - 1200, 12000, 12000};
  EXPECT_LT(ChiSquare(counts, probs).p_value, 1e-6);
}

}  // namespace
}  // namespace pagoda::sample
