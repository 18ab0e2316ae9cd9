// Sampler: greedy, min_tokens with eos and stop ids, logprobs against a direct
// computation, seeded determinism across batches and step boundaries, child
// streams, the thread pool, generation_config defaults.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "common/thread_pool.h"
#include "loader/model_config.h"
#include "sample/generation_defaults.h"
#include "sample/logprobs.h"
#include "sample/sampler.h"
#include "sample_test_util.h"

namespace pagoda::sample {
namespace {

using testing::RandomLogits;

SamplingRow Row(const SamplingParams* p, std::span<const int32_t> prompt = {}, std::span<const int32_t> output = {},
                std::span<const int32_t> eos = {}) {
  SamplingRow r;
  r.params = p;
  r.prompt_ids = prompt;
  r.output_ids = output;
  r.eos_ids = eos;
  return r;
}

// Direct log_softmax in double.
std::vector<double> LogSoftmax(const std::vector<float>& l) {
  double m = -HUGE_VAL;
  for (float v : l) m = std::max(m, static_cast<double>(v));
  double s = 0;
  for (float v : l) s += std::exp(v - m);
  std::vector<double> out(l.size());
  for (size_t i = 0; i < l.size(); ++i) out[i] = l[i] - m - std::log(s);
  return out;
}

TEST(Sampler, GreedyIsTheArgmax) {
  const int V = 1000;
  std::vector<float> logits;
  for (int r = 0; r < 4; ++r) {
    auto row = RandomLogits(10 + r, V);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  std::vector<int64_t> expected;
  for (int r = 0; r < 4; ++r)
    expected.push_back(std::max_element(logits.begin() + r * V, logits.begin() + (r + 1) * V) -
                       (logits.begin() + r * V));
  SamplingParams greedy;
  greedy.temperature = 0;
  SamplingParams tiny;
  tiny.temperature = 1e-6;  // below vLLM's epsilon: greedy
  tiny.top_k = 3;
  std::vector<SamplingRow> rows = {Row(nullptr), Row(&greedy), Row(&tiny), Row(nullptr)};
  Sampler sampler;
  auto out = sampler.Sample(logits.data(), V, rows);
  ASSERT_EQ(out.size(), 4u);
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(out[r].token, expected[r]) << r;
    EXPECT_TRUE(out[r].top.empty());
    EXPECT_FALSE(out[r].all_masked);
  }
}

TEST(Sampler, MinTokensBlocksEosAndStopTokensUntilReached) {
  const int V = 50;
  const std::vector<int32_t> eos = {2};
  SamplingParams p;
  p.temperature = 0;
  p.min_tokens = 3;
  p.stop_token_ids = {7};
  std::vector<int32_t> history = {11, 12, 13, 14};
  Sampler sampler;
  for (size_t n = 0; n <= 4; ++n) {
    auto row = RandomLogits(20, V);
    row[2] = 50;   // eos is the argmax
    row[7] = 40;   // then the stop token
    row[30] = 30;  // then an ordinary token
    std::vector<SamplingRow> rows = {Row(&p, {}, std::span<const int32_t>(history).first(n), eos)};
    auto out = sampler.Sample(row.data(), V, rows);
    EXPECT_EQ(out[0].token, n < 3 ? 30 : 2) << "after " << n << " tokens";
  }
  // ignore_eos: eos is an ordinary token (not blocked), stop tokens still are.
  p.ignore_eos = true;
  auto row = RandomLogits(20, V);
  row[7] = 50;
  row[2] = 40;
  std::vector<SamplingRow> rows = {Row(&p, {}, {}, eos)};
  EXPECT_EQ(sampler.Sample(row.data(), V, rows)[0].token, 2);
}

TEST(Sampler, EverythingMaskedFallsBackToTheRawArgmax) {
  const int V = 20;
  const std::vector<int32_t> eos = {2};
  SamplingParams p;
  p.allowed_token_ids = {2};
  p.min_tokens = 1;
  auto row = RandomLogits(21, V);
  row[9] = 100;
  std::vector<SamplingRow> rows = {Row(&p, {}, {}, eos)};
  Sampler sampler;
  auto out = sampler.Sample(row.data(), V, rows);
  EXPECT_TRUE(out[0].all_masked);
  EXPECT_EQ(out[0].token, 9);
}

TEST(Sampler, RawLogprobsMatchDirectComputation) {
  const int V = 3000;
  SamplingParams p;
  p.temperature = 0.8;
  p.top_k = 20;
  p.repetition_penalty = 1.3;
  p.logprobs = 5;
  p.seed = 7;
  const std::vector<int32_t> prompt = {1, 2, 3};
  Sampler sampler;
  for (int trial = 0; trial < 20; ++trial) {
    auto row = RandomLogits(30 + trial, V);
    const auto raw = row;
    const std::vector<int32_t> output(trial, 5);  // trial tokens generated: a different draw each time
    std::vector<SamplingRow> rows = {Row(&p, prompt, output)};
    auto out = sampler.Sample(row.data(), V, rows);
    const auto lsm = LogSoftmax(raw);
    const int32_t t = out[0].token;
    EXPECT_NEAR(out[0].logprob, lsm[t], 1e-5);
    int rank = 0;
    for (int i = 0; i < V; ++i) rank += raw[i] >= raw[t];
    EXPECT_EQ(out[0].rank, rank);
    std::vector<int32_t> order(V);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return raw[a] > raw[b]; });
    ASSERT_EQ(out[0].top.size(), 5u);
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(out[0].top[k].token, order[k]);
      EXPECT_NEAR(out[0].top[k].logprob, lsm[order[k]], 1e-5);
    }
  }
}

TEST(Sampler, LogprobsZeroGivesOnlyTheSampledToken) {
  const int V = 100;
  SamplingParams p;
  p.temperature = 0;
  p.logprobs = 0;
  auto row = RandomLogits(40, V);
  const auto raw = row;
  std::vector<SamplingRow> rows = {Row(&p)};
  Sampler sampler;
  auto out = sampler.Sample(row.data(), V, rows);
  const auto lsm = LogSoftmax(raw);
  EXPECT_EQ(out[0].rank, 1);
  EXPECT_NEAR(out[0].logprob, lsm[out[0].token], 1e-6);
  EXPECT_TRUE(out[0].top.empty());
}

TEST(Sampler, ProcessedLogprobsComeFromTheSampledDistribution) {
  const int V = 500;
  SamplingParams p;
  p.temperature = 0.5;
  p.top_k = 4;
  p.logprobs = 6;
  p.seed = 3;
  auto row = RandomLogits(41, V);
  const auto raw = row;
  std::vector<SamplingRow> rows = {Row(&p)};
  Sampler sampler(SamplerConfig{LogprobsMode::kProcessedLogprobs});
  auto out = sampler.Sample(row.data(), V, rows);
  // Direct: the top 4 of raw / 0.5, renormalized; everything else -inf.
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return raw[a] > raw[b]; });
  double lse = 0;
  const double m = raw[order[0]] / 0.5;
  for (int k = 0; k < 4; ++k) lse += std::exp(raw[order[k]] / 0.5 - m);
  lse = m + std::log(lse);
  const int32_t t = out[0].token;
  ASSERT_TRUE(std::find(order.begin(), order.begin() + 4, t) != order.begin() + 4);
  EXPECT_NEAR(out[0].logprob, raw[t] / 0.5 - lse, 1e-5);
  ASSERT_EQ(out[0].top.size(), 6u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(out[0].top[k].token, order[k]);
    EXPECT_NEAR(out[0].top[k].logprob, raw[order[k]] / 0.5 - lse, 1e-5);
  }
  EXPECT_TRUE(std::isinf(out[0].top[4].logprob));  // masked tokens fill the list at -inf
}

TEST(Sampler, PromptLogprobs) {
  const int V = 64, P = 5;
  std::vector<float> logits;
  for (int i = 0; i < P; ++i) {
    auto row = RandomLogits(50 + i, V);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  const std::vector<int32_t> targets = {3, 9, 27, 0, 63};
  std::vector<SampleResult> out;
  ComputePromptLogprobs(logits.data(), V, targets, 2, out);
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < P; ++i) {
    std::vector<float> row(logits.begin() + i * V, logits.begin() + (i + 1) * V);
    const auto lsm = LogSoftmax(row);
    EXPECT_EQ(out[i].token, targets[i]);
    EXPECT_NEAR(out[i].logprob, lsm[targets[i]], 1e-5);
    ASSERT_EQ(out[i].top.size(), 2u);
    EXPECT_EQ(out[i].top[0].token, std::max_element(row.begin(), row.end()) - row.begin());
  }
}

// The logits a toy "model" gives a request at a given output position: a fixed
// function of (request, position), so alone or batched the row is the same.
std::vector<float> ToyLogits(int request, size_t position, int V) {
  return RandomLogits(static_cast<uint32_t>(1000 * request + position), V, 1.5);
}

struct ToyRequest {
  SamplingParams params;
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  uint64_t request_seed = 0;
  uint32_t sample_index = 0;
  int logits_key = 0;  // which toy logits it gets (children of one request share it)
};

// Runs `steps` decode steps; at each step the requests listed in active[step]
// sample together in the order given.
void RunSteps(std::vector<ToyRequest>& reqs, const std::vector<std::vector<int>>& active, int V, Sampler& sampler) {
  for (const auto& batch : active) {
    std::vector<float> logits;
    std::vector<SamplingRow> rows;
    for (int r : batch) {
      auto l = ToyLogits(reqs[r].logits_key, reqs[r].output.size(), V);
      logits.insert(logits.end(), l.begin(), l.end());
      SamplingRow row = Row(&reqs[r].params, reqs[r].prompt, reqs[r].output);
      row.request_seed = reqs[r].request_seed;
      row.sample_index = reqs[r].sample_index;
      rows.push_back(row);
    }
    auto out = sampler.Sample(logits.data(), V, rows);
    for (size_t i = 0; i < batch.size(); ++i) reqs[batch[i]].output.push_back(out[i].token);
  }
}

std::vector<ToyRequest> MakeRequests() {
  std::vector<ToyRequest> reqs(5);
  for (int i = 0; i < 5; ++i) {
    reqs[i].prompt = {1, 2, 3, static_cast<int32_t>(i)};
    reqs[i].params.temperature = 0.9 + 0.1 * i;
    reqs[i].params.top_p = 0.95;
    reqs[i].params.top_k = i % 2 ? 40 : 0;
    reqs[i].params.frequency_penalty = 0.2;
    reqs[i].params.logprobs = i == 2 ? std::optional<int>(3) : std::nullopt;
    reqs[i].request_seed = 777 + i;
    reqs[i].logits_key = i;
  }
  reqs[0].params.seed = 1234;  // the seeded request under test
  return reqs;
}

TEST(Sampler, SeededRequestIsTheSameAloneAndInAnyBatch) {
  const int V = 2048, kSteps = 40;
  Sampler sampler;
  auto alone = MakeRequests();
  RunSteps(alone, std::vector<std::vector<int>>(kSteps, {0}), V, sampler);

  // Request 0 in different batch positions, with others joining and leaving.
  auto batched = MakeRequests();
  std::vector<std::vector<int>> schedule;
  for (int s = 0; s < kSteps; ++s) {
    std::vector<int> b;
    if (s % 3 != 0) b.push_back(1);
    if (s % 5 < 3) b.push_back(2);
    b.insert(b.begin() + (s % (b.size() + 1)), 0);
    if (s > 10) b.push_back(3);
    schedule.push_back(b);
  }
  RunSteps(batched, schedule, V, sampler);
  EXPECT_EQ(alone[0].output, batched[0].output);

  // Different step boundaries: the request pauses (preempted, not scheduled)
  // for some steps; its token at each output position is unchanged.
  auto paused = MakeRequests();
  std::vector<std::vector<int>> gaps;
  for (int s = 0; s < kSteps; ++s) {
    gaps.push_back({1});
    if (s % 4 != 1) gaps.push_back({2, 0});
  }
  RunSteps(paused, gaps, V, sampler);
  ASSERT_LE(paused[0].output.size(), alone[0].output.size());
  EXPECT_TRUE(std::equal(paused[0].output.begin(), paused[0].output.end(), alone[0].output.begin()));

  // The stream really depends on the seed: another seed gives another sequence.
  auto other = MakeRequests();
  other[0].params.seed = 1235;
  RunSteps(other, std::vector<std::vector<int>>(kSteps, {0}), V, sampler);
  EXPECT_NE(other[0].output, alone[0].output);
}

TEST(Sampler, UnseededRequestsUseTheirRequestSeed) {
  const int V = 1024, kSteps = 30;
  Sampler sampler;
  auto a = MakeRequests();
  RunSteps(a, std::vector<std::vector<int>>(kSteps, {3, 1}), V, sampler);
  auto b = MakeRequests();
  RunSteps(b, std::vector<std::vector<int>>(kSteps, {1, 4, 3}), V, sampler);
  EXPECT_EQ(a[1].output, b[1].output);
  EXPECT_EQ(a[3].output, b[3].output);
}

TEST(Sampler, ChildrenOfOneRequestHaveTheirOwnStreams) {
  const int V = 1024, kSteps = 30;
  Sampler sampler;
  auto reqs = MakeRequests();
  reqs[1] = reqs[0];        // same params and seed,
  reqs[1].sample_index = 1; // child 1
  reqs[2] = reqs[0];        // child 0 again: identical to the parent stream
  RunSteps(reqs, std::vector<std::vector<int>>(kSteps, {0, 1, 2}), V, sampler);
  EXPECT_NE(reqs[0].output, reqs[1].output);
  EXPECT_EQ(reqs[0].output, reqs[2].output);
}

TEST(Sampler, ThreadPoolGivesTheSameResults) {
  const int V = 4096, R = 37;
  std::vector<float> logits;
  std::vector<SamplingParams> params(R);
  std::vector<int32_t> history = {5, 6, 7, 5, 5};
  for (int r = 0; r < R; ++r) {
    auto row = RandomLogits(60 + r, V);
    logits.insert(logits.end(), row.begin(), row.end());
    params[r].temperature = r % 4 == 0 ? 0.0 : 0.7;
    params[r].top_p = r % 3 ? 0.9 : 1.0;
    params[r].top_k = r % 5 ? 0 : 10;
    params[r].min_p = r % 7 ? 0.0 : 0.05;
    params[r].presence_penalty = 0.5;
    params[r].logprobs = r % 2 ? std::optional<int>(4) : std::nullopt;
    params[r].seed = r;
  }
  std::vector<SamplingRow> rows;
  for (int r = 0; r < R; ++r) rows.push_back(Row(&params[r], {}, history));
  auto copy = logits;
  Sampler single;
  auto a = single.Sample(logits.data(), V, rows);
  ThreadPool pool(3);
  Sampler pooled(SamplerConfig{}, &pool);
  std::vector<SampleResult> b;
  pooled.Sample(copy.data(), V, rows, b);
  ASSERT_EQ(a.size(), b.size());
  for (int r = 0; r < R; ++r) {
    EXPECT_EQ(a[r].token, b[r].token);
    EXPECT_EQ(a[r].logprob, b[r].logprob);
    EXPECT_EQ(a[r].rank, b[r].rank);
    ASSERT_EQ(a[r].top.size(), b[r].top.size());
  }
}

TEST(GenerationDefaults, FromGenerationConfig) {
  auto gc = loader::ParseGenerationConfig(R"({"do_sample": true, "temperature": 0.6, "top_p": 0.9,
      "top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05, "max_new_tokens": 512,
      "eos_token_id": [1, 2], "bos_token_id": 0})");
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  SamplingParams p = DefaultsFromGenerationConfig(*gc);
  EXPECT_DOUBLE_EQ(p.temperature, 0.6);
  EXPECT_DOUBLE_EQ(p.top_p, 0.9);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_DOUBLE_EQ(p.min_p, 0.05);
  EXPECT_DOUBLE_EQ(p.repetition_penalty, 1.05);
  ASSERT_TRUE(p.max_tokens.has_value());
  EXPECT_EQ(*p.max_tokens, 512);
  EXPECT_TRUE(p.Validate(1000).ok());

  // Missing keys keep SamplingParams' defaults (top_k off, not HF's 50).
  auto empty = loader::ParseGenerationConfig(R"({"bos_token_id": 1})");
  ASSERT_TRUE(empty.ok());
  SamplingParams d = DefaultsFromGenerationConfig(*empty);
  SamplingParams base;
  EXPECT_EQ(d.temperature, base.temperature);
  EXPECT_EQ(d.top_k, base.top_k);
  EXPECT_EQ(d.top_p, base.top_p);
  EXPECT_FALSE(d.max_tokens.has_value());

  // do_sample false: greedy by default, as in HF generate().
  auto greedy = loader::ParseGenerationConfig(R"({"do_sample": false, "temperature": 0.7})");
  ASSERT_TRUE(greedy.ok());
  EXPECT_TRUE(DefaultsFromGenerationConfig(*greedy).greedy());
}

}  // namespace
}  // namespace pagoda::sample
