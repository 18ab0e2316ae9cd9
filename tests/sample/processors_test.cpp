// Each logits processor against a direct computation (plain loops, full sorts,
// double precision) on random logits.

#include <gtest/gtest.h>

#include <limits>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "common/cpu_features.h"
#include "sample/fast_exp.h"
#include "sample/logits_processors.h"
#include "sample_test_util.h"

namespace pagoda::sample {
namespace {

using testing::RandomLogits;
using testing::Softmax;

bool IsMasked(float v) { return v == kNegInf; }

TEST(FastExp, MatchesStdExp) {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = -87.0f * static_cast<float>(i) / 200000.0f;
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(FastExp(x) - ref) / ref);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(FastExp(kNegInf), 0.0f);
  EXPECT_EQ(FastExp(-200.0f), 0.0f);
  EXPECT_EQ(FastExp(0.0f), 1.0f);
}

TEST(FastExp, VectorPathsGiveTheScalarFloatsAndTheSameSum) {
  for (size_t n : {1, 7, 8, 9, 15, 16, 17, 24, 31, 255, 256, 257, 1000, 4099, 49152}) {
    auto x = RandomLogits(static_cast<uint32_t>(n), n, 10.0);
    if (n > 1) x[0] = kNegInf;  // a masked token (callers never pass an all -inf row)
    float m = kNegInf;
    for (float v : x) m = std::max(m, v);
    std::vector<float> a(n), b(n);
    const double sa = detail::ExpShiftedPortable(x.data(), m, a.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], FastExp(x[i] - m)) << n << " " << i;
    EXPECT_EQ(detail::ExpShiftedPortable(x.data(), m, nullptr, n), sa);
    if (GetCpuFeatures().avx2) {
      const double sb = detail::ExpShiftedAvx2(x.data(), m, b.data(), n);
      EXPECT_EQ(a, b) << n;
      EXPECT_EQ(sa, sb) << n;
    }
    if (GetCpuFeatures().avx512f) {
      std::vector<float> c(n);
      const double sc = detail::ExpShiftedAvx512(x.data(), m, c.data(), n);
      EXPECT_EQ(a, c) << n;
      EXPECT_EQ(sa, sc) << n;
      EXPECT_EQ(detail::ExpShiftedAvx512(x.data(), m, nullptr, n), sa) << n;
    }
    double direct = 0;
    for (size_t i = 0; i < n; ++i) direct += std::exp(static_cast<double>(x[i]) - m);
    EXPECT_NEAR(ExpShifted(x.data(), m, b.data(), n), direct, 1e-6 * direct);
  }
}

TEST(FastExp, RowMaxIsTheSequentialMaxOnEveryPath) {
  for (size_t n : {0, 1, 7, 15, 16, 17, 31, 64, 255, 256, 257, 4099, 49152}) {
    auto x = RandomLogits(static_cast<uint32_t>(n + 3), n, 10.0);
    if (n > 2) x[1] = kNegInf;
    if (n > 5) x[n - 2] = std::numeric_limits<float>::quiet_NaN();  // never picked
    float want = kNegInf;
    for (float v : x) want = v > want ? v : want;
    EXPECT_EQ(detail::MaxPortable(x.data(), n), want) << n;
    EXPECT_EQ(MaxOfFloats(x.data(), n), want) << n;
    if (GetCpuFeatures().avx512f) {
      EXPECT_EQ(detail::MaxAvx512(x.data(), n), want) << n;
    }
    if (n > 20) {  // the maximum in the masked tail
      x[n - 1] = 1000.0f;
      EXPECT_EQ(MaxOfFloats(x.data(), n), 1000.0f) << n;
      if (GetCpuFeatures().avx512f) {
        EXPECT_EQ(detail::MaxAvx512(x.data(), n), 1000.0f) << n;
      }
    }
  }
}

TEST(LogitsProcessors, AllowedTokenIds) {
  auto row = RandomLogits(1, 300);
  const auto raw = row;
  std::vector<int32_t> allowed = {5, 17, 17, 299, 0, 120};
  ProcessorScratch s;
  ApplyAllowedTokenIds(row, allowed, s);
  std::set<int32_t> keep(allowed.begin(), allowed.end());
  for (int32_t i = 0; i < 300; ++i) {
    if (keep.count(i)) EXPECT_EQ(row[i], raw[i]) << i;
    else EXPECT_TRUE(IsMasked(row[i])) << i;
  }
  auto untouched = raw;
  ApplyAllowedTokenIds(untouched, {}, s);
  EXPECT_EQ(untouched, raw);
}

TEST(LogitsProcessors, BadWordsMatchTheOutputSuffix) {
  auto row = RandomLogits(2, 100);
  const auto raw = row;
  const std::vector<int32_t> output = {4, 9, 9, 31};
  const std::vector<std::vector<int32_t>> words = {
      {50},            // one token: always banned
      {9, 31, 60},     // output ends with 9 31: 60 banned
      {31, 61},        // ends with 31: 61 banned
      {9, 62},         // output ends with 31, not 9: not banned
      {1, 4, 9, 9, 31, 63},  // longer than the output: not banned
      {4, 9, 9, 31, 64},     // exactly the output: banned
  };
  ApplyBadWords(row, words, output);
  const std::set<int> banned = {50, 60, 61, 64};
  for (int i = 0; i < 100; ++i) {
    if (banned.count(i)) EXPECT_TRUE(IsMasked(row[i])) << i;
    else EXPECT_EQ(row[i], raw[i]) << i;
  }
  auto fresh = raw;
  ApplyBadWords(fresh, words, {});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(IsMasked(fresh[i]), i == 50) << i;
}

TEST(LogitsProcessors, MinTokensBlocksUntilReached) {
  const std::vector<int32_t> blocked = {2, 7};
  for (size_t n = 0; n <= 4; ++n) {
    auto row = RandomLogits(3, 16);
    const auto raw = row;
    ApplyMinTokens(row, 3, n, blocked);
    for (int i = 0; i < 16; ++i) {
      const bool should = n < 3 && (i == 2 || i == 7);
      if (should) EXPECT_TRUE(IsMasked(row[i]));
      else EXPECT_EQ(row[i], raw[i]);
    }
  }
}

TEST(LogitsProcessors, LogitBias) {
  auto row = RandomLogits(4, 50);
  const auto raw = row;
  std::map<int32_t, double> bias = {{0, -100.0}, {10, 2.5}, {49, 0.125}};
  ApplyLogitBias(row, bias);
  for (int i = 0; i < 50; ++i) {
    const float b = bias.count(i) ? static_cast<float>(bias[i]) : 0.0f;
    EXPECT_EQ(row[i], raw[i] + b);
  }
}

TEST(LogitsProcessors, PenaltiesMatchDirectComputation) {
  const int V = 400;
  std::mt19937 gen(5);
  std::uniform_int_distribution<int32_t> tok(0, 60);  // small range: many repeats and overlaps
  ProcessorScratch s;
  for (int trial = 0; trial < 50; ++trial) {
    auto row = RandomLogits(100 + trial, V);
    row[0] = 0.0f;  // the l == 0 branch
    const auto raw = row;
    std::vector<int32_t> prompt(trial % 7 * 3), output(trial % 11 * 2);
    for (auto& t : prompt) t = tok(gen);
    for (auto& t : output) t = tok(gen);
    const double rep = 0.5 + 0.05 * trial, freq = -1.0 + 0.04 * trial, pres = 0.8 - 0.03 * trial;
    ApplyPenalties(row, prompt, output, rep, freq, pres, s);
    std::map<int32_t, int> count;
    for (int32_t t : output) ++count[t];
    std::set<int32_t> seen(prompt.begin(), prompt.end());
    for (int32_t t : output) seen.insert(t);
    for (int i = 0; i < V; ++i) {
      float e = raw[i];
      if (seen.count(i)) e = e > 0 ? e / static_cast<float>(rep) : e * static_cast<float>(rep);
      if (count.count(i)) {
        e -= static_cast<float>(freq) * static_cast<float>(count[i]);
        e -= static_cast<float>(pres);
      }
      ASSERT_EQ(row[i], e) << "trial " << trial << " token " << i;
    }
  }
  // The scratch counters are left clean: a row with no history is untouched.
  auto row = RandomLogits(7, V);
  const auto raw = row;
  ApplyPenalties(row, {}, {}, 1.5, 0.5, 0.5, s);
  EXPECT_EQ(row, raw);
}

TEST(LogitsProcessors, Temperature) {
  auto row = RandomLogits(8, 64);
  const auto raw = row;
  ApplyTemperature(row, 0.37);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(row[i], raw[i] / 0.37f);
}

TEST(LogitsProcessors, MinPMatchesDirectComputation) {
  for (int trial = 0; trial < 40; ++trial) {
    auto row = RandomLogits(200 + trial, 1000, 1.0 + trial * 0.1);
    if (trial % 3 == 0) row[trial] = kNegInf;
    const auto raw = row;
    const double min_p = 0.01 + 0.02 * trial;
    ApplyMinP(row, min_p);
    const auto p = Softmax(raw);
    const double pmax = *std::max_element(p.begin(), p.end());
    for (int i = 0; i < 1000; ++i) {
      const bool keep = p[i] > 0 && p[i] >= min_p * pmax;
      ASSERT_EQ(!IsMasked(row[i]), keep) << "trial " << trial << " token " << i << " p/pmax " << p[i] / pmax;
      if (keep) { ASSERT_EQ(row[i], raw[i]); }
    }
  }
}

// Direct top-k: the k-th largest by a full sort; keep everything >= it.
std::vector<bool> DirectTopK(const std::vector<float>& l, int k) {
  std::vector<float> sorted = l;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const float kth = sorted[k - 1];
  std::vector<bool> keep(l.size());
  for (size_t i = 0; i < l.size(); ++i) keep[i] = kth == kNegInf ? !IsMasked(l[i]) : l[i] >= kth;
  return keep;
}

TEST(LogitsProcessors, TopKMatchesDirectComputation) {
  ProcessorScratch s;
  for (int k : {1, 2, 5, 50, 63, 64, 65, 600, 999}) {  // both the heap and the nth_element paths
    auto row = RandomLogits(300 + k, 1000);
    const auto raw = row;
    ApplyTopK(row, k, s);
    const auto keep = DirectTopK(raw, k);
    int kept = 0;
    for (int i = 0; i < 1000; ++i) {
      ASSERT_EQ(!IsMasked(row[i]), keep[i]) << "k " << k << " token " << i;
      kept += keep[i];
    }
    EXPECT_EQ(kept, k);
  }
  auto row = RandomLogits(9, 100);
  const auto raw = row;
  ApplyTopK(row, 0, s);
  EXPECT_EQ(row, raw);
  ApplyTopK(row, 100, s);
  EXPECT_EQ(row, raw);
}

TEST(LogitsProcessors, TopKKeepsTiesAtTheBoundary) {
  ProcessorScratch s;
  std::vector<float> row = {1, 5, 3, 3, 3, 0, 5, 2};
  ApplyTopK(row, 3, s);  // 5, 5, then three 3s tied for third place: all kept
  const std::vector<bool> keep = {false, true, true, true, true, false, true, false};
  for (size_t i = 0; i < row.size(); ++i) EXPECT_EQ(!IsMasked(row[i]), keep[i]) << i;
  std::vector<float> few = {kNegInf, 1, kNegInf, 2};
  ApplyTopK(few, 3, s);  // fewer finite tokens than k: nothing more removed
  EXPECT_EQ(few[1], 1);
  EXPECT_EQ(few[3], 2);
}

// Direct top-p: full sort in double; a token is kept when the mass ranked
// strictly above it is < top_p; ties with the last kept token are kept.
std::vector<bool> DirectTopP(const std::vector<float>& l, double top_p) {
  const auto p = Softmax(l);
  std::vector<size_t> order(l.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l[a] > l[b]; });
  double above = 0;
  float last = l[order[0]];
  for (size_t i : order) {
    if (!(above < top_p)) break;
    last = l[i];
    above += p[i];
  }
  std::vector<bool> keep(l.size());
  for (size_t i = 0; i < l.size(); ++i) keep[i] = !IsMasked(l[i]) && l[i] >= last;
  return keep;
}

TEST(LogitsProcessors, TopPMatchesDirectComputation) {
  ProcessorScratch s;
  int checked = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const double stddev = trial % 3 == 0 ? 0.2 : (trial % 3 == 1 ? 2.0 : 6.0);  // flat .. peaked
    const size_t V = trial % 10 == 9 ? 20000 : (trial % 2 ? 5000 : 700);  // 20000 flat: over 8192 candidates
    auto row = RandomLogits(400 + trial, V, stddev);
    if (trial % 4 == 0)
      for (size_t i = 0; i < V; i += 3) row[i] = kNegInf;  // earlier filters left holes
    const auto raw = row;
    const double top_p = 0.05 + 0.9 * ((trial * 37) % 60) / 60.0;
    auto listed = row;
    ApplyTopP(row, top_p, s);
    std::vector<int32_t> kept;
    ASSERT_TRUE(ApplyTopP(listed, top_p, s, &kept));  // the candidate-list path
    const auto keep = DirectTopP(raw, top_p);
    for (size_t i = 0; i < V; ++i) {
      ASSERT_EQ(!IsMasked(row[i]), keep[i]) << "trial " << trial << " top_p " << top_p << " token " << i;
      ASSERT_EQ(!IsMasked(listed[i]), keep[i]) << "listed, trial " << trial << " top_p " << top_p << " token " << i;
      if (keep[i]) { ASSERT_EQ(row[i], raw[i]); }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 60);
}

TEST(LogitsProcessors, TopPKeepsTiesAndTheCrossingToken) {
  ProcessorScratch s;
  // probabilities 0.4, 0.2, 0.2, 0.2: top_p 0.5 needs the 0.4 and one 0.2; the
  // three tied 0.2s are all kept (HF/vLLM would keep one, by sort order).
  std::vector<float> row = {std::log(0.2f), std::log(0.4f), std::log(0.2f), std::log(0.2f)};
  ApplyTopP(row, 0.5, s);
  for (float v : row) EXPECT_FALSE(IsMasked(v));
  std::vector<float> two = {std::log(0.1f), std::log(0.6f), std::log(0.3f)};
  ApplyTopP(two, 0.59, s);  // mass above the 0.3 token is 0.6, not < 0.59: removed
  EXPECT_FALSE(IsMasked(two[1]));
  EXPECT_TRUE(IsMasked(two[2]));
  EXPECT_TRUE(IsMasked(two[0]));
  std::vector<float> three = {std::log(0.1f), std::log(0.6f), std::log(0.3f)};
  ApplyTopP(three, 0.61, s);
  EXPECT_FALSE(IsMasked(three[2]));
  EXPECT_TRUE(IsMasked(three[0]));
}

TEST(LogitsProcessors, SurvivorListPathsMatchTheDenseOnes) {
  ProcessorScratch s;
  for (int trial = 0; trial < 30; ++trial) {
    const size_t V = trial % 2 ? 3000 : 200;
    auto dense = RandomLogits(500 + trial, V, 1.0 + trial % 4);
    const int k = 1 + trial * 7 % 90;
    if (trial % 5 == 0)  // fewer finite logits than k (min_p or allowed ids came first)
      for (size_t i = 0; i < V; ++i)
        if (i % 50 != 3) dense[i] = kNegInf;
    auto sparse = dense;
    ApplyTopK(dense, k, s);
    std::vector<int32_t> kept;
    ASSERT_TRUE(ApplyTopK(sparse, k, s, &kept));
    ASSERT_EQ(dense, sparse);
    ASSERT_TRUE(std::is_sorted(kept.begin(), kept.end()));
    for (size_t i = 0, j = 0; i < V; ++i) {
      const bool listed = j < kept.size() && kept[j] == static_cast<int32_t>(i);
      ASSERT_EQ(listed, !IsMasked(dense[i]));
      j += listed;
    }
    const double top_p = 0.1 + 0.03 * trial;
    ApplyTopP(dense, top_p, s);
    ApplyTopPOnKept(sparse, kept, top_p, s);
    ASSERT_EQ(dense, sparse) << "trial " << trial;
    size_t finite = 0;
    for (float v : dense) finite += !IsMasked(v);
    ASSERT_EQ(kept.size(), finite);
    for (double u : {0.0, 0.1, 0.37, 0.5, 0.81, 0.999999}) {
      ASSERT_EQ(DrawFromKept(sparse, kept, u), DrawFromLogits(dense, u, s)) << "trial " << trial << " u " << u;
    }
  }
}

TEST(LogitsProcessors, SurvivorListsAfterMinPAndTopP) {
  ProcessorScratch s;
  for (int trial = 0; trial < 30; ++trial) {
    const size_t V = trial % 2 ? 4000 : 300;
    const auto raw = RandomLogits(700 + trial, V, 0.5 + trial % 5);
    // min-p with and without the list, then top-k on the list vs dense.
    auto dense = raw, sparse = raw;
    const double min_p = 0.001 + 0.01 * trial;
    EXPECT_FALSE(ApplyMinP(dense, min_p));
    std::vector<int32_t> kept;
    ASSERT_TRUE(ApplyMinP(sparse, min_p, &kept));
    ASSERT_EQ(dense, sparse) << "trial " << trial;
    size_t finite = 0;
    for (float v : dense) finite += !IsMasked(v);
    ASSERT_EQ(kept.size(), finite);
    ASSERT_TRUE(std::is_sorted(kept.begin(), kept.end()));
    const int k = 1 + trial * 3;
    ApplyTopK(dense, k, s);
    ApplyTopKOnKept(sparse, kept, k, s);
    ASSERT_EQ(dense, sparse) << "trial " << trial << " k " << k;
    // top-p with and without the list, and the draws over each.
    auto dense_p = raw, sparse_p = raw;
    const double top_p = 0.05 + 0.03 * trial;
    EXPECT_FALSE(ApplyTopP(dense_p, top_p, s));
    ASSERT_TRUE(ApplyTopP(sparse_p, top_p, s, &kept));
    ASSERT_EQ(dense_p, sparse_p) << "trial " << trial;
    finite = 0;
    for (float v : dense_p) finite += !IsMasked(v);
    ASSERT_EQ(kept.size(), finite);
    for (double u : {0.0, 0.2, 0.5, 0.77, 0.999}) ASSERT_EQ(DrawFromKept(sparse_p, kept, u), DrawFromLogits(dense_p, u, s));
  }
}

TEST(LogitsProcessors, ArgmaxTakesTheFirstMax) {
  std::vector<float> row = {1, 3, 2, 3, kNegInf};
  EXPECT_EQ(Argmax(row), 1);
}

TEST(LogitsProcessors, DrawFollowsTheCdfInTokenOrder) {
  ProcessorScratch s;
  // p = 0.1, 0, 0.2, 0.3, 0.4 (token 1 masked): cumulative 0.1, 0.3, 0.6, 1.0.
  std::vector<float> row = {std::log(0.1f), kNegInf, std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  EXPECT_EQ(DrawFromLogits(row, 0.0, s), 0);
  EXPECT_EQ(DrawFromLogits(row, 0.05, s), 0);
  EXPECT_EQ(DrawFromLogits(row, 0.15, s), 2);
  EXPECT_EQ(DrawFromLogits(row, 0.35, s), 3);
  EXPECT_EQ(DrawFromLogits(row, 0.65, s), 4);
  EXPECT_EQ(DrawFromLogits(row, 0.9999999999, s), 4);
  std::vector<float> none = {kNegInf, kNegInf};
  EXPECT_EQ(DrawFromLogits(none, 0.5, s), -1);
}

}  // namespace
}  // namespace pagoda::sample
