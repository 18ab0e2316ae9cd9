// Steady-state Sample() calls (the overload that fills a caller-owned vector,
// no thread pool) allocate nothing: every scratch buffer has grown during the
// warm-up steps. Counts calls to the global operator new while enabled.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "sample/sampler.h"
#include "sample_test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// Every (non-aligned) replaceable form, so that each allocation is paired with
// a matching deallocation (sanitizers check this).
namespace {
void* CountedAlloc(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace pagoda::sample {
namespace {

TEST(SamplerAllocation, SteadyStateStepsDoNotAllocate) {
  const int64_t V = 20000;
  std::vector<SamplingParams> params(9);
  params[0].temperature = 0;                       // greedy with params
  params[1].temperature = 0;
  params[1].logprobs = 5;
  params[2].temperature = 0.8;                     // plain sampling
  params[3].top_k = 40;
  params[3].top_p = 0.9;
  params[3].logprobs = 3;
  params[4].top_p = 0.95;                          // top-p alone
  params[5].min_p = 0.05;
  params[5].repetition_penalty = 1.2;
  params[5].frequency_penalty = 0.5;
  params[5].presence_penalty = 0.5;
  params[6].allowed_token_ids = {1, 2, 3, 500, 900, 19999};
  params[6].logit_bias = {{3, 5.0}};
  params[7].bad_words_ids = {{7}, {8, 9}, {4, 11}};
  params[7].min_tokens = 100;
  params[7].stop_token_ids = {12};
  params[8].temperature = 1.3;
  params[8].top_k = 5000;                          // the nth_element top-k path
  for (size_t i = 0; i < params.size(); ++i) params[i].seed = i;
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int32_t> output = {4, 4, 9, 10, 11, 4};
  const std::vector<int32_t> eos = {2};
  std::vector<SamplingRow> rows(params.size() + 1);  // the last row: null params (greedy)
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].params = i < params.size() ? &params[i] : nullptr;
    rows[i].prompt_ids = prompt;
    rows[i].output_ids = output;
    rows[i].eos_ids = eos;
  }
  std::vector<float> base;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto r = testing::RandomLogits(static_cast<uint32_t>(i), V);
    base.insert(base.end(), r.begin(), r.end());
  }
  std::vector<float> logits(base.size());
  std::vector<SampleResult> out;
  Sampler sampler;
  for (int warmup = 0; warmup < 2; ++warmup) {
    logits = base;
    sampler.Sample(logits.data(), V, rows, out);
  }
  long allocations = 0;
  for (int step = 0; step < 3; ++step) {
    logits = base;  // same capacity: no allocation
    for (auto& r : rows) r.output_ids = std::span<const int32_t>(output).first(output.size() - step);
    g_allocations = 0;
    g_counting = true;
    sampler.Sample(logits.data(), V, rows, out);
    g_counting = false;
    allocations += g_allocations;
  }
  EXPECT_EQ(allocations, 0);
  ASSERT_EQ(out.size(), rows.size());
  EXPECT_EQ(out[1].top.size(), 5u);
}

}  // namespace
}  // namespace pagoda::sample
