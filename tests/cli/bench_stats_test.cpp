// Statistics behind `pagoda bench`: numpy-style percentiles, vLLM's serving
// metric definitions, the seeded Poisson arrival generator and random lengths.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "cli/bench_dataset.h"
#include "cli/bench_stats.h"

namespace pagoda::cli {
namespace {

TEST(BenchPercentile, LinearInterpolationAsNumpy) {
  // numpy.percentile([1, 2, 3, 4], p): rank (n - 1) p / 100 between order statistics.
  const std::vector<double> v = {4, 1, 3, 2};  // unsorted on purpose
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4.0);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_NEAR(Percentile(v, 99), 3.97, 1e-12);
  EXPECT_NEAR(Percentile(v, 25), 1.75, 1e-12);
  EXPECT_DOUBLE_EQ(Median(v), 2.5);
  const std::vector<double> odd = {5, 1, 9};
  EXPECT_DOUBLE_EQ(Median(odd), 5.0);
  EXPECT_NEAR(Percentile(odd, 90), 5 + 0.8 * 4, 1e-12);  // rank 1.8
}

TEST(BenchPercentile, EmptyAndSingle) {
  const std::vector<double> none;
  EXPECT_EQ(Percentile(none, 99), 0.0);
  EXPECT_EQ(Mean(none), 0.0);
  EXPECT_EQ(StdDev(none), 0.0);
  const std::vector<double> one = {7.5};
  EXPECT_EQ(Percentile(one, 0), 7.5);
  EXPECT_EQ(Percentile(one, 99), 7.5);
}

TEST(BenchPercentile, MeanAndPopulationStd) {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(Mean(v), 5.0);
  EXPECT_DOUBLE_EQ(StdDev(v), 2.0);
  const double ps[] = {50, 99};
  const Summary s = Summarize(v, ps);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.median, 4.5);
  ASSERT_EQ(s.percentiles.size(), 2u);
  EXPECT_EQ(s.percentiles[1].first, 99);
  EXPECT_NEAR(s.percentiles[1].second, 7 + 0.93 * 2, 1e-12);  // rank 6.93
}

TEST(BenchTpot, ExcludesTheFirstToken) {
  RequestResult r;
  r.ttft = 0.1;
  r.latency = 1.0;
  r.output_tokens = 10;
  double t = 0;
  ASSERT_TRUE(Tpot(r, &t));
  EXPECT_NEAR(t, 0.9 / 9, 1e-12);
  r.output_tokens = 1;
  EXPECT_FALSE(Tpot(r, &t));
  r.output_tokens = 0;
  EXPECT_FALSE(Tpot(r, &t));
}

TEST(BenchServeMetrics, VllmDefinitions) {
  std::vector<RequestResult> rs(4);
  rs[0] = {true, "", 10, 5, 0.2, 0.6, {0.1, 0.1, 0.1, 0.1}};  // TPOT (0.6 - 0.2) / 4 = 0.1
  rs[1] = {true, "", 20, 3, 0.4, 0.8, {0.3, 0.1}};            // TPOT 0.4 / 2 = 0.2
  rs[2] = {true, "", 30, 1, 0.5, 0.5, {}};                    // one token: no TPOT sample
  rs[3] = {false, "HTTP 500", 40, 7, 0.0, 0.0, {9.0}};        // failed: counted only as failed
  const double ps[] = {99};
  const ServeMetrics m = ComputeServeMetrics(rs, 2.0, ps);
  EXPECT_EQ(m.completed, 3);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input, 60);
  EXPECT_EQ(m.total_output, 9);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(m.output_throughput, 4.5);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 34.5);
  EXPECT_NEAR(m.ttft_ms.mean, (200 + 400 + 500) / 3.0, 1e-9);
  EXPECT_NEAR(m.ttft_ms.median, 400, 1e-9);
  EXPECT_NEAR(m.tpot_ms.mean, 150, 1e-9);  // only the two requests with > 1 token
  EXPECT_NEAR(m.tpot_ms.median, 150, 1e-9);
  EXPECT_NEAR(m.itl_ms.mean, 800.0 / 6, 1e-9);  // the six gaps pooled
  EXPECT_NEAR(m.itl_ms.median, 100, 1e-9);
  EXPECT_NEAR(m.itl_ms.percentiles[0].second, 100 + 0.95 * 200, 1e-9);  // rank 4.95 of {.1 .1 .1 .1 .1 .3}
  EXPECT_NEAR(m.e2el_ms.mean, (600 + 800 + 500) / 3.0, 1e-9);
}

TEST(BenchPoisson, SeededAndOrdered) {
  const auto a = PoissonArrivals(1000, 4.0, 7), b = PoissonArrivals(1000, 4.0, 7), c = PoissonArrivals(1000, 4.0, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 1000u);
  EXPECT_EQ(a[0], 0.0);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_GT(a[1], 0.0);
}

TEST(BenchPoisson, InfiniteRateSendsAllAtOnce) {
  for (double rate : {std::numeric_limits<double>::infinity(), 0.0, -1.0}) {
    const auto t = PoissonArrivals(50, rate, 1);
    ASSERT_EQ(t.size(), 50u);
    for (double x : t) EXPECT_EQ(x, 0.0);
  }
  EXPECT_TRUE(PoissonArrivals(0, 2.0, 1).empty());
}

TEST(BenchPoisson, GapsAreExponential) {
  // Gaps of a Poisson process of rate r are Exp(r): check the mean (5 sigma) and a
  // Kolmogorov-Smirnov distance against 1 - exp(-r x) (1.63 / sqrt(n) is the 1 % level).
  const double rate = 2.5;
  const int n = 20000;
  const auto t = PoissonArrivals(n + 1, rate, 12345);
  std::vector<double> gaps;
  for (int i = 1; i <= n; ++i) gaps.push_back(t[i] - t[i - 1]);
  EXPECT_NEAR(Mean(gaps), 1 / rate, 5 * (1 / rate) / std::sqrt(n));
  std::sort(gaps.begin(), gaps.end());
  double d = 0;
  for (int i = 0; i < n; ++i) {
    const double cdf = 1 - std::exp(-rate * gaps[i]);
    d = std::max({d, std::abs(cdf - static_cast<double>(i) / n), std::abs(cdf - static_cast<double>(i + 1) / n)});
  }
  EXPECT_LT(d, 1.63 / std::sqrt(n));
  // Arrivals in unit windows are Poisson(rate): their variance matches the mean.
  std::vector<double> counts(static_cast<size_t>(t.back()), 0);
  for (double x : t)
    if (x < static_cast<double>(counts.size())) counts[static_cast<size_t>(x)] += 1;
  EXPECT_NEAR(Mean(counts), rate, 0.1);
  EXPECT_NEAR(StdDev(counts) * StdDev(counts), rate, 0.3);
}

TEST(BenchRng, UniformIntCoversTheRangeOnly) {
  BenchRng rng(3);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const int64_t x = rng.UniformInt(-2, 5);
    ASSERT_GE(x, -2);
    ASSERT_LE(x, 5);
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(rng.UniformInt(4, 4), 4);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(BenchRandomLengths, RangeRatio) {
  BenchRng rng(1);
  const auto fixed = RandomLengths(100, 128, 0.0, rng);
  for (int64_t x : fixed) EXPECT_EQ(x, 128);
  const auto spread = RandomLengths(5000, 100, 0.25, rng);
  std::set<int64_t> seen(spread.begin(), spread.end());
  EXPECT_EQ(*seen.begin(), 75);
  EXPECT_EQ(*seen.rbegin(), 125);
  EXPECT_EQ(seen.size(), 51u);
  const auto tiny = RandomLengths(100, 1, 0.9, rng);
  for (int64_t x : tiny) EXPECT_GE(x, 1);
}

TEST(BenchRandomRequests, SeededIdsInVocabulary) {
  const auto a = RandomRequests(20, 16, 8, 0.5, 100, 42), b = RandomRequests(20, 16, 8, 0.5, 100, 42);
  ASSERT_EQ(a.size(), 20u);
  std::set<int64_t> lens;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].prompt_ids, b[i].prompt_ids);
    EXPECT_EQ(a[i].output_len, b[i].output_len);
    EXPECT_EQ(a[i].prompt_len, static_cast<int64_t>(a[i].prompt_ids.size()));
    EXPECT_GE(a[i].prompt_len, 8);
    EXPECT_LE(a[i].prompt_len, 24);
    EXPECT_GE(a[i].output_len, 4);
    EXPECT_LE(a[i].output_len, 12);
    lens.insert(a[i].prompt_len);
    for (int32_t id : a[i].prompt_ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, 100);
    }
  }
  EXPECT_GT(lens.size(), 1u);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(BenchDatasetFile, JsonlPromptsAndLengths) {
  const std::string path = WriteTemp("bench_prompts.jsonl",
                                     "{\"prompt_ids\": [1, 2, 3], \"output_len\": 7}\n\n"
                                     "{\"prompt\": \"hello\", \"max_tokens\": 5}\n"
                                     "{\"prompt_ids\": [4]}\n");
  DatasetFileOptions o;
  o.output_len = 9;
  auto r = LoadDatasetFile(path, nullptr, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ((*r)[0].prompt_len, 3);
  EXPECT_EQ((*r)[0].output_len, 7);
  EXPECT_EQ((*r)[1].prompt_text, "hello");
  EXPECT_EQ((*r)[1].prompt_len, 0);  // no tokenizer to count it
  EXPECT_EQ((*r)[1].output_len, 5);
  EXPECT_EQ((*r)[2].output_len, 9);
  o.force_output_len = true;
  o.output_len = 2;
  o.num_prompts = 2;
  r = LoadDatasetFile(path, nullptr, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].output_len, 2);
  EXPECT_EQ((*r)[1].output_len, 2);
}

TEST(BenchDatasetFile, ShareGptArray) {
  const std::string path = WriteTemp("bench_sharegpt.json",
                                     "[{\"conversations\": [{\"from\": \"human\", \"value\": \"Q1\"}, {\"from\": \"gpt\", \"value\": \"A1\"}]},"
                                     " {\"conversations\": [{\"from\": \"human\", \"value\": \"alone\"}]},"
                                     " {\"conversations\": [{\"from\": \"system\", \"value\": \"s\"}, {\"from\": \"human\", \"value\": \"Q3\"},"
                                     " {\"from\": \"gpt\", \"value\": \"A3\"}]}]");
  auto r = LoadDatasetFile(path, nullptr, DatasetFileOptions{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);  // the one-turn conversation has no reply: skipped
  EXPECT_EQ((*r)[0].prompt_text, "Q1");
  EXPECT_EQ((*r)[1].prompt_text, "Q3");
}

TEST(BenchDatasetFile, Errors) {
  EXPECT_FALSE(LoadDatasetFile(::testing::TempDir() + "does_not_exist.jsonl", nullptr, {}).ok());
  EXPECT_FALSE(LoadDatasetFile(WriteTemp("bad1.jsonl", "{\"prompt_ids\": [1]}\nnot json\n"), nullptr, {}).ok());
  EXPECT_FALSE(LoadDatasetFile(WriteTemp("bad2.jsonl", "{\"other\": 1}\n"), nullptr, {}).ok());
  EXPECT_FALSE(LoadDatasetFile(WriteTemp("bad3.jsonl", "{\"prompt_ids\": [1], \"output_len\": 0}\n"), nullptr, {}).ok());
  EXPECT_FALSE(LoadDatasetFile(WriteTemp("bad4.jsonl", "\n\n"), nullptr, {}).ok());
  auto r = LoadDatasetFile(WriteTemp("bad5.jsonl", "{\"prompt_ids\": [1]}\n[1, 2]\n"), nullptr, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(":2"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace pagoda::cli
