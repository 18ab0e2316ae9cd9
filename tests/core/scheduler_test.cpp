#include "core/scheduler.h"

#include <gtest/gtest.h>

#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Concat;
using testing::ExpectBlockInvariants;
using testing::FakeRun;
using testing::Ids;
using testing::Iota;
using testing::MakeRequest;

constexpr int kBs = 16;

// Defaults, with a max_model_len that small test pools can hold.
SchedulerConfig Small() { return {.max_num_seqs = 256, .max_num_batched_tokens = 2048, .max_model_len = 256}; }

struct Harness {
  explicit Harness(SchedulerConfig config, int num_blocks, bool caching = true) {
    auto s = Scheduler::Create(
        config, {.num_blocks = num_blocks, .block_size = kBs, .enable_prefix_caching = caching, .hash_fn = nullptr},
        [this] { return now; });
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    sched = std::move(s).value();
  }

  void Add(uint64_t id, std::vector<TokenId> prompt, RequestParams params = {}) {
    Status st = sched->AddRequest(MakeRequest(id, std::move(prompt), std::move(params)));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Schedule, run (every sampling request gets `token`), update.
  SchedulerOutput Step(TokenId token = 1) {
    SchedulerOutput out = sched->Schedule();
    ModelRunnerOutput run = FakeRun(*sched, out, [&](const Request&) { return token; });
    last = sched->UpdateFromOutput(out, run);
    ExpectBlockInvariants(*sched);
    return out;
  }

  const Request& Get(uint64_t id) const {
    const Request* r = sched->GetRequest(RequestId(id));
    EXPECT_NE(r, nullptr) << id;
    return *r;
  }

  double now = 0.0;
  std::unique_ptr<Scheduler> sched;
  CoreOutputs last;
};

int Scheduled(const SchedulerOutput& out, uint64_t id) { return out.NumScheduledTokens(RequestId(id)); }

TEST(SchedulerTest, NewRequestsThenDiffs) {
  Harness h(Small(), 100);
  h.Add(1, Iota(20, 0));
  h.Add(2, Iota(40, 100));
  SchedulerOutput s1 = h.Step(7);
  ASSERT_EQ(s1.scheduled_new_reqs.size(), 2u);
  EXPECT_TRUE(s1.scheduled_cached_reqs.empty());
  const NewRequestData& n1 = s1.scheduled_new_reqs[0];
  EXPECT_EQ(n1.request_id, RequestId(1));
  EXPECT_EQ(n1.prompt_token_ids, Iota(20, 0));
  EXPECT_EQ(n1.all_token_ids, Iota(20, 0));
  EXPECT_EQ(Ids(n1.block_ids), (std::vector<int>{1, 2}));
  EXPECT_EQ(n1.num_computed_tokens, 0);
  EXPECT_EQ(Ids(s1.scheduled_new_reqs[1].block_ids), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(Scheduled(s1, 1), 20);
  EXPECT_EQ(Scheduled(s1, 2), 40);
  EXPECT_EQ(s1.total_num_scheduled_tokens, 60);
  ASSERT_EQ(h.last.outputs.size(), 2u);
  EXPECT_EQ(h.last.outputs[0].new_token_ids, (std::vector<TokenId>{7}));
  EXPECT_FALSE(h.last.outputs[0].finished());

  SchedulerOutput s2 = h.Step(8);
  EXPECT_TRUE(s2.scheduled_new_reqs.empty());
  ASSERT_EQ(s2.scheduled_cached_reqs.size(), 2u);
  const CachedRequestData& c1 = s2.scheduled_cached_reqs[0];
  EXPECT_EQ(c1.request_id, RequestId(1));
  EXPECT_EQ(c1.new_token_ids, (std::vector<TokenId>{7}));
  EXPECT_TRUE(c1.new_block_ids.empty());
  EXPECT_EQ(c1.num_computed_tokens, 20);
  EXPECT_EQ(Scheduled(s2, 1), 1);
  // Request 2 has 40 + 1 tokens: still in block 3.
  EXPECT_TRUE(s2.scheduled_cached_reqs[1].new_block_ids.empty());
  EXPECT_EQ(h.Get(1).output_token_ids().size(), 2u);
}

TEST(SchedulerTest, ChunkedPrefillKeepsDecodesFlowing) {
  Harness h({.max_num_seqs = 256, .max_num_batched_tokens = 64, .max_model_len = 1024}, 200);
  h.Add(1, Iota(10, 0));
  h.Add(2, Iota(10, 50));
  h.Step();  // both prefilled
  h.Add(3, Iota(200, 1000));
  int prefilled = 0;
  for (int step = 0; step < 4; ++step) {
    SchedulerOutput out = h.Step();
    EXPECT_EQ(Scheduled(out, 1), 1) << step;
    EXPECT_EQ(Scheduled(out, 2), 1) << step;
    EXPECT_EQ(Scheduled(out, 3), std::min(62, 200 - prefilled)) << step;
    EXPECT_LE(out.total_num_scheduled_tokens, 64);
    prefilled += Scheduled(out, 3);
    // A partial chunk samples nothing; the last chunk samples the first token.
    EXPECT_EQ(h.Get(3).num_output_tokens(), prefilled == 200 ? 1 : 0) << step;
  }
  EXPECT_EQ(prefilled, 200);
  EXPECT_EQ(Scheduled(h.Step(), 3), 1);  // decoding
}

TEST(SchedulerTest, WithoutChunkedPrefillALongPromptWaitsForAWholeBudget) {
  Harness h({.max_num_seqs = 256, .max_num_batched_tokens = 64, .max_model_len = 64, .enable_chunked_prefill = false},
            100);
  h.Add(1, Iota(10, 0));
  h.Add(3, Iota(10, 50));
  h.Step();
  h.Add(2, Iota(63, 100));  // 63 > 64 - 2 decodes
  SchedulerOutput out = h.Step();
  EXPECT_EQ(Scheduled(out, 1), 1);
  EXPECT_EQ(Scheduled(out, 3), 1);
  EXPECT_EQ(Scheduled(out, 2), 0);
  EXPECT_EQ(h.sched->num_waiting(), 1);
}

TEST(SchedulerTest, MaxNumSeqs) {
  Harness h({.max_num_seqs = 3, .max_num_batched_tokens = 2048, .max_model_len = 256}, 100);
  for (uint64_t i = 1; i <= 5; ++i) h.Add(i, Iota(8, i * 100), {.max_tokens = 2});
  SchedulerOutput s1 = h.Step();
  EXPECT_EQ(s1.num_scheduled_tokens.size(), 3u);
  EXPECT_EQ(h.sched->num_running(), 3);
  EXPECT_EQ(h.sched->num_waiting(), 2);
  EXPECT_EQ(Scheduled(s1, 4), 0);
  SchedulerOutput s2 = h.Step();  // 1..3 reach max_tokens 2 and finish
  EXPECT_EQ(s2.num_scheduled_tokens.size(), 3u);
  EXPECT_EQ(h.sched->num_running(), 0);
  SchedulerOutput s3 = h.Step();
  EXPECT_EQ(Scheduled(s3, 4), 8);
  EXPECT_EQ(Scheduled(s3, 5), 8);
  ASSERT_EQ(s3.finished_req_ids.size(), 3u);
  EXPECT_EQ(s3.finished_req_ids[0], RequestId(1));
}

TEST(SchedulerTest, TokenBudgetIsSharedInOrder) {
  Harness h({.max_num_seqs = 256, .max_num_batched_tokens = 100, .max_model_len = 1024}, 200);
  h.Add(1, Iota(70, 0));
  h.Add(2, Iota(70, 500));
  h.Add(3, Iota(70, 900));
  SchedulerOutput s1 = h.Step();
  EXPECT_EQ(Scheduled(s1, 1), 70);
  EXPECT_EQ(Scheduled(s1, 2), 30);
  EXPECT_EQ(Scheduled(s1, 3), 0);
  EXPECT_EQ(s1.total_num_scheduled_tokens, 100);
  SchedulerOutput s2 = h.Step();
  EXPECT_EQ(Scheduled(s2, 1), 1);
  EXPECT_EQ(Scheduled(s2, 2), 40);
  EXPECT_EQ(Scheduled(s2, 3), 59);
}

TEST(SchedulerTest, MaxModelLen) {
  Harness h({.max_num_seqs = 8, .max_num_batched_tokens = 64, .max_model_len = 32}, 10);
  EXPECT_EQ(h.sched->AddRequest(MakeRequest(9, Iota(32, 0))).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(h.sched->AddRequest(MakeRequest(9, {})).code(), StatusCode::kInvalidArgument);
  h.Add(1, Iota(30, 0));
  h.Step();
  EXPECT_FALSE(h.last.outputs[0].finished());
  h.Step();
  ASSERT_EQ(h.last.outputs.size(), 1u);
  EXPECT_EQ(h.last.outputs[0].finish_reason, FinishReason::kLength);
  EXPECT_EQ(h.sched->GetRequest(RequestId(1)), nullptr);
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 9);
}

TEST(SchedulerTest, PoolTooSmallForMaxModelLenIsRejected) {
  auto s = Scheduler::Create({.max_num_seqs = 8, .max_num_batched_tokens = 64, .max_model_len = 64},
                             {.num_blocks = 4, .block_size = 16, .enable_prefix_caching = true, .hash_fn = nullptr});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("max_model_len"), std::string::npos);
}

TEST(SchedulerTest, PreemptsNewestFirstAndAdmitsNobodyThatStep) {
  // 8 usable blocks: 1 takes 2, 2 takes 4, 3 takes 2.
  Harness h({.max_num_seqs = 8, .max_num_batched_tokens = 256, .max_model_len = 96}, 9, /*caching=*/false);
  h.Add(1, Iota(30, 0));
  h.Add(2, Iota(60, 100));
  h.Add(3, Iota(30, 200));
  h.Step(5);
  h.Add(4, Iota(4, 300));  // waits: no block left
  h.Step(5);
  h.Step(5);
  EXPECT_EQ(h.sched->num_running(), 3);
  EXPECT_EQ(h.sched->num_waiting(), 1);
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 0);
  // 1 writes position 32 and needs a third block: the newest (3) is preempted,
  // not the biggest (2).
  SchedulerOutput out = h.Step(5);
  ASSERT_EQ(out.preempted_req_ids.size(), 1u);
  EXPECT_EQ(out.preempted_req_ids[0], RequestId(3));
  EXPECT_EQ(Scheduled(out, 1), 1);
  EXPECT_EQ(Scheduled(out, 2), 1);
  EXPECT_EQ(Scheduled(out, 3), 0);
  // One block is free now and 4 needs only one, but a step that preempted admits nobody.
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 1);
  EXPECT_EQ(Scheduled(out, 4), 0);
  EXPECT_EQ(h.Get(3).status(), RequestStatus::kPreempted);
  EXPECT_EQ(h.Get(3).num_computed_tokens(), 0);
  ASSERT_EQ(h.sched->num_waiting(), 2);
  EXPECT_EQ(h.sched->waiting()[0]->request_id(), RequestId(3));
  EXPECT_EQ(h.sched->waiting()[1]->request_id(), RequestId(4));
  EXPECT_EQ(h.sched->stats().num_preemptions, 1);
  // Next step: 3 (first in line) needs 3 blocks, so neither it nor 4 gets in (FCFS).
  SchedulerOutput next = h.Step(5);
  EXPECT_TRUE(next.preempted_req_ids.empty());
  EXPECT_EQ(Scheduled(next, 3), 0);
  EXPECT_EQ(Scheduled(next, 4), 0);
}

TEST(SchedulerTest, AVictimThatWouldFitIsStillNotReadmittedInTheSameStep) {
  // A small budget lets the victim come back as a chunk that fits in the blocks
  // freed by its own preemption: without the rule it would thrash in and out.
  Harness h({.max_num_seqs = 8, .max_num_batched_tokens = 20, .max_model_len = 96}, 9, /*caching=*/false);
  h.Add(1, Iota(30, 0));
  h.Add(2, Iota(30, 100));
  h.Add(3, Iota(60, 200));
  SchedulerOutput out;
  int steps = 0;
  while (out.preempted_req_ids.empty() && steps++ < 100) out = h.Step(5);
  ASSERT_EQ(out.preempted_req_ids.size(), 1u);
  EXPECT_EQ(out.preempted_req_ids[0], RequestId(3));
  EXPECT_EQ(Scheduled(out, 3), 0);
  const int free_after = h.sched->kv_cache_manager().num_free_blocks();
  const int budget_left = 20 - out.total_num_scheduled_tokens;
  EXPECT_GE(free_after, 1);
  // The same room one step later: now it is admitted, as a chunk.
  SchedulerOutput next = h.Step(5);
  EXPECT_TRUE(next.preempted_req_ids.empty());
  EXPECT_EQ(20 - (next.total_num_scheduled_tokens - Scheduled(next, 3)), budget_left);
  EXPECT_GT(Scheduled(next, 3), 0);
  EXPECT_LT(Scheduled(next, 3), 60);
  ASSERT_EQ(next.scheduled_new_reqs.size(), 1u);
  EXPECT_EQ(next.scheduled_new_reqs[0].request_id, RequestId(3));
}

TEST(SchedulerTest, PreemptedRequestComesBackAndRecomputes) {
  Harness h({.max_num_seqs = 8, .max_num_batched_tokens = 256, .max_model_len = 96}, 7, /*caching=*/false);
  h.Add(1, Iota(30, 0), {.max_tokens = 20});
  h.Add(2, Iota(30, 100), {.max_tokens = 20});
  h.Add(3, Iota(30, 200), {.max_tokens = 20});
  for (int i = 0; i < 4; ++i) h.Step(static_cast<TokenId>(40 + i));
  ASSERT_EQ(h.Get(3).status(), RequestStatus::kPreempted);
  const std::vector<TokenId> all3(h.Get(3).all_token_ids().begin(), h.Get(3).all_token_ids().end());
  EXPECT_EQ(all3, Concat(Iota(30, 200), {40, 41, 42}));
  // 1 and 2 finish after 20 tokens; then 3 resumes with everything so far.
  bool resumed = false;
  for (int i = 0; i < 300 && !resumed; ++i) {
    SchedulerOutput out = h.Step(50);
    for (const NewRequestData& n : out.scheduled_new_reqs) {
      if (n.request_id != RequestId(3)) continue;
      resumed = true;
      EXPECT_EQ(n.all_token_ids, all3);
      EXPECT_EQ(n.prompt_token_ids, Iota(30, 200));
      EXPECT_EQ(n.num_computed_tokens, 0);
      EXPECT_EQ(Scheduled(out, 3), 33);  // recompute prompt and outputs
    }
  }
  ASSERT_TRUE(resumed);
  EXPECT_EQ(h.Get(3).num_output_tokens(), 4);  // the recompute sampled the next one
  while (h.sched->HasUnfinishedRequests()) h.Step(50);
  EXPECT_EQ(h.last.outputs.back().finish_reason, FinishReason::kLength);
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 6);
}

TEST(SchedulerTest, AbortFreesBlocksAtOnce) {
  Harness h(Small(), 20);
  h.Add(1, Iota(40, 0));
  h.Add(2, Iota(40, 100));
  h.Step();
  h.Add(3, Iota(40, 200), {});
  const int free_before = h.sched->kv_cache_manager().num_free_blocks();
  ASSERT_TRUE(h.sched->AbortRequest(RequestId(1)).ok());  // running
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), free_before + 3);
  ASSERT_TRUE(h.sched->AbortRequest(RequestId(3)).ok());  // waiting
  EXPECT_EQ(h.sched->AbortRequest(RequestId(3)).code(), StatusCode::kNotFound);
  EXPECT_EQ(h.sched->num_waiting(), 0);
  SchedulerOutput out = h.Step();
  // Only 1 was known to the runner.
  ASSERT_EQ(out.finished_req_ids.size(), 1u);
  EXPECT_EQ(out.finished_req_ids[0], RequestId(1));
  EXPECT_EQ(Scheduled(out, 2), 1);
  ASSERT_EQ(h.last.outputs.size(), 3u);
  EXPECT_EQ(h.last.outputs[0].request_id, RequestId(1));
  EXPECT_EQ(h.last.outputs[0].finish_reason, FinishReason::kAbort);
  EXPECT_EQ(h.last.outputs[1].request_id, RequestId(3));
  EXPECT_EQ(h.last.outputs[1].finish_reason, FinishReason::kAbort);
}

TEST(SchedulerTest, AbortBetweenScheduleAndUpdateIsSafe) {
  Harness h(Small(), 20);
  h.Add(1, Iota(20, 0));
  SchedulerOutput out = h.sched->Schedule();
  ModelRunnerOutput run = FakeRun(*h.sched, out, [](const Request&) { return 3; });
  ASSERT_TRUE(h.sched->AbortRequest(RequestId(1)).ok());
  CoreOutputs res = h.sched->UpdateFromOutput(out, run);
  ASSERT_EQ(res.outputs.size(), 1u);
  EXPECT_EQ(res.outputs[0].finish_reason, FinishReason::kAbort);
  EXPECT_TRUE(res.outputs[0].new_token_ids.empty());
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 19);
}

TEST(SchedulerTest, StopTokensFinishAndFreeInTheSameStep) {
  Harness h(Small(), 20);
  h.Add(1, Iota(20, 0), {.eos_token_ids = {2}});
  h.Add(2, Iota(20, 50), {.ignore_eos = true, .eos_token_ids = {2}, .stop_token_ids = {}});
  h.Step(2);
  ASSERT_EQ(h.last.outputs.size(), 2u);
  EXPECT_EQ(h.last.outputs[0].finish_reason, FinishReason::kStop);
  EXPECT_EQ(h.last.outputs[0].stop_token, 2);
  EXPECT_EQ(h.last.outputs[0].new_token_ids, (std::vector<TokenId>{2}));
  EXPECT_FALSE(h.last.outputs[1].finished());
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 19 - 2);
}

TEST(SchedulerTest, SeveralSampledTokensStopAtTheFirstStop) {
  Harness h(Small(), 20);
  h.Add(1, Iota(20, 0), {.stop_token_ids = {9}});
  SchedulerOutput out = h.sched->Schedule();
  ModelRunnerOutput run;
  run.samples.push_back({RequestId(1), {4, 9, 5}, {}});
  CoreOutputs res = h.sched->UpdateFromOutput(out, run);
  ASSERT_EQ(res.outputs.size(), 1u);
  EXPECT_EQ(res.outputs[0].new_token_ids, (std::vector<TokenId>{4, 9}));
  EXPECT_EQ(res.outputs[0].finish_reason, FinishReason::kStop);
  EXPECT_EQ(h.sched->stats().num_generation_tokens, 2);
}

TEST(SchedulerTest, PrefixHitNeverCoversTheLastPromptToken) {
  Harness h(Small(), 20);
  const std::vector<TokenId> prompt = Iota(2 * kBs, 0);
  h.Add(1, prompt);
  h.Add(2, prompt);
  SchedulerOutput out = h.Step();
  EXPECT_EQ(Scheduled(out, 1), 32);
  EXPECT_EQ(Scheduled(out, 2), 16);  // hit block 1 only; block 2 holds the last token
  ASSERT_EQ(out.scheduled_new_reqs.size(), 2u);
  EXPECT_EQ(out.scheduled_new_reqs[1].num_computed_tokens, 16);
  EXPECT_EQ(out.scheduled_new_reqs[1].block_ids[0], out.scheduled_new_reqs[0].block_ids[0]);
  EXPECT_NE(out.scheduled_new_reqs[1].block_ids[1], out.scheduled_new_reqs[0].block_ids[1]);
  SchedulerStats st = h.sched->stats();
  EXPECT_EQ(st.prefix_cache_queries, 64);
  EXPECT_EQ(st.prefix_cache_hits, 16);
}

TEST(SchedulerTest, ForkCopiesTheSharedPartialBlock) {
  Harness h(Small(), 20);
  h.Add(1, Iota(20, 0));
  h.Step(7);  // 20 computed + token 7
  ASSERT_TRUE(h.sched->ForkRequest(RequestId(1), RequestId(2), TokenId{8}).ok());
  EXPECT_EQ(h.sched->ForkRequest(RequestId(1), RequestId(2)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.sched->ForkRequest(RequestId(9), RequestId(3)).code(), StatusCode::kNotFound);
  {  // Between Schedule() and UpdateFromOutput() the parent has no uncomputed token.
    Harness g(Small(), 20);
    g.Add(1, Iota(20, 0));
    SchedulerOutput so = g.sched->Schedule();
    EXPECT_EQ(g.sched->ForkRequest(RequestId(1), RequestId(2)).code(), StatusCode::kFailedPrecondition);
    (void)g.sched->UpdateFromOutput(so, FakeRun(*g.sched, so, [](const Request&) { return 1; }));
    EXPECT_TRUE(g.sched->ForkRequest(RequestId(1), RequestId(2)).ok());
  }
  SchedulerOutput out = h.Step(9);
  ASSERT_EQ(out.block_copies.size(), 1u);
  // The parent is scheduled first and copies; the child keeps block 2.
  EXPECT_EQ(out.block_copies[0], (BlockCopy{BlockId(2), BlockId(3)}));
  ASSERT_EQ(out.scheduled_cached_reqs.size(), 1u);
  const CachedRequestData& p = out.scheduled_cached_reqs[0];
  EXPECT_EQ(p.request_id, RequestId(1));
  ASSERT_EQ(p.replaced_blocks.size(), 1u);
  EXPECT_EQ(p.replaced_blocks[0].block_index, 1);
  EXPECT_EQ(p.replaced_blocks[0].block_id, BlockId(3));
  ASSERT_EQ(out.scheduled_new_reqs.size(), 1u);
  const NewRequestData& c = out.scheduled_new_reqs[0];
  EXPECT_EQ(c.request_id, RequestId(2));
  EXPECT_EQ(c.all_token_ids, Concat(Iota(20, 0), {8}));
  EXPECT_EQ(Ids(c.block_ids), (std::vector<int>{1, 2}));
  EXPECT_EQ(c.num_computed_tokens, 20);
  EXPECT_EQ(Scheduled(out, 2), 1);
  EXPECT_EQ(h.sched->kv_cache_manager().block_pool().block(BlockId(1)).ref_cnt, 2);
  EXPECT_TRUE(h.sched->AbortRequest(RequestId(1)).ok());
  EXPECT_TRUE(h.sched->AbortRequest(RequestId(2)).ok());
  EXPECT_EQ(h.sched->kv_cache_manager().num_free_blocks(), 19);
}

TEST(SchedulerTest, TimestampsAndCounters) {
  Harness h(Small(), 20);
  h.now = 1.0;
  h.Add(1, Iota(20, 0), {.max_tokens = 3});
  h.now = 2.0;
  h.Step();
  const Request& r = h.Get(1);
  EXPECT_EQ(r.timestamps().arrival, 1.0);
  EXPECT_EQ(r.timestamps().first_scheduled, 2.0);
  EXPECT_EQ(r.timestamps().first_token, 2.0);
  h.now = 3.0;
  h.Step();
  h.now = 4.5;
  h.Step();
  ASSERT_TRUE(h.last.outputs[0].finished());
  const RequestTimestamps& t = h.last.outputs[0].timestamps;
  EXPECT_EQ(t.arrival, 1.0);
  EXPECT_EQ(t.first_token, 2.0);
  EXPECT_EQ(t.last_token, 4.5);
  SchedulerStats st = h.sched->stats();
  EXPECT_EQ(st.num_prompt_tokens, 20);
  EXPECT_EQ(st.num_generation_tokens, 3);
  EXPECT_EQ(st.num_scheduled_tokens, 22);
  EXPECT_EQ(st.num_steps, 3);
  EXPECT_EQ(st.num_running, 0);
  EXPECT_DOUBLE_EQ(st.kv_cache_usage, 0.0);
}

}  // namespace
}  // namespace pagoda::core
