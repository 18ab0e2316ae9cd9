// The scheduler's side of a steady decode step allocates nothing: Schedule
// into a reused SchedulerOutput, UpdateFromOutput into reused CoreOutputs,
// with prefix caching on (blocks that fill up are hashed and enter the cache),
// requests crossing block boundaries and one finishing (its blocks freed)
// inside the counted steps. counting_allocator.cpp counts every operator new.

#include <gtest/gtest.h>

#include <vector>

#include "../model/counting_allocator.h"
#include "core/scheduler.h"
#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Concat;
using testing::ExpectBlockInvariants;
using testing::Iota;
using testing::MakeRequest;

constexpr int kBs = 16;
constexpr int kWarmupSteps = 3;    // the prefill and two decodes
constexpr int kCountedSteps = 24;  // every request crosses at least one block boundary

TokenId SampleFor(RequestId id, int step) { return static_cast<TokenId>(100 + 13 * id.value + step); }

TEST(StepAllocTest, DecodeStepsWithPrefixCachingAllocateNothing) {
  auto s = Scheduler::Create({.max_num_seqs = 8, .max_num_batched_tokens = 512, .max_model_len = 256},
                             {.num_blocks = 64, .block_size = kBs, .enable_prefix_caching = true, .hash_fn = nullptr},
                             [] { return 0.0; });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Scheduler& sched = **s;
  // Requests 1 and 2 share a two-block prefix; 4 finishes at counted step 10.
  const std::vector<TokenId> shared = Iota(2 * kBs, 1000);
  const std::vector<std::vector<TokenId>> prompts = {
      Concat(shared, Iota(7, 3000)), Concat(shared, Iota(12, 4000)), Iota(21, 5000), Iota(9, 6000)};
  const std::vector<int> max_tokens = {40, 40, 40, kWarmupSteps + 10};
  for (size_t r = 0; r < prompts.size(); ++r) {
    RequestParams p;
    p.max_tokens = max_tokens[r];
    p.eos_token_ids = {2};
    ASSERT_TRUE(sched.AddRequest(MakeRequest(r + 1, prompts[r], p)).ok());
  }

  SchedulerOutput so;
  ModelRunnerOutput ro;
  ro.samples.resize(prompts.size());
  for (RequestSample& rs : ro.samples) rs.sampled_token_ids.resize(1);
  CoreOutputs outs;
  // The fake runner's part: one token for every request scheduled (each
  // completes its tokens: the prompts fit one step), written into samples
  // sized in advance.
  auto run = [&](int step) {
    size_t n = 0;
    for (const ScheduledTokens& t : so.num_scheduled_tokens) {
      ro.samples[n].request_id = t.request_id;
      ro.samples[n].sampled_token_ids[0] = SampleFor(t.request_id, step);
      ++n;
    }
    ro.samples.resize(n);  // shrinking keeps the capacity
  };

  for (int step = 0; step < kWarmupSteps; ++step) {
    sched.Schedule(&so);
    ASSERT_EQ(so.num_scheduled_tokens.size(), prompts.size()) << "step " << step;
    run(step);
    sched.UpdateFromOutput(so, ro, &outs);
    ExpectBlockInvariants(sched);
  }
  ASSERT_EQ(so.scheduled_new_reqs.size(), 0u);  // the warm-up ends in a decode step
  const int cached_before = sched.kv_cache_manager().block_pool().num_cached_blocks();

  int finished = 0;
  int finished_seen_by_runner = 0;
  for (int step = kWarmupSteps; step < kWarmupSteps + kCountedSteps; ++step) {
    ::pagoda::testing::ScopedAllocationCounter counter;
    sched.Schedule(&so);
    run(step);
    sched.UpdateFromOutput(so, ro, &outs);
    const int64_t n = counter.Stop();
    EXPECT_EQ(n, 0) << "step " << step << ": " << n << " heap allocations (first of "
                    << ::pagoda::testing::FirstCountedAllocationSize() << " bytes)";
    ExpectBlockInvariants(sched);
    finished_seen_by_runner += static_cast<int>(so.finished_req_ids.size());
    for (const CoreRequestOutput& o : outs.outputs) {
      ASSERT_EQ(o.new_token_ids.size(), 1u);
      EXPECT_EQ(o.new_token_ids[0], SampleFor(o.request_id, step));
      finished += o.finished() ? 1 : 0;
    }
  }
  // The counted steps did what they were meant to: request 4 finished (and
  // its release reached the runner), full blocks entered the prefix cache.
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(finished_seen_by_runner, 1);
  EXPECT_EQ(sched.GetRequest(RequestId(4)), nullptr);
  EXPECT_GT(sched.kv_cache_manager().block_pool().num_cached_blocks(), cached_before + 3);
  EXPECT_EQ(sched.GetRequest(RequestId(1))->num_output_tokens(), kWarmupSteps + kCountedSteps);
}

}  // namespace
}  // namespace pagoda::core
