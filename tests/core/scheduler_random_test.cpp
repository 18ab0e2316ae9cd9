// Randomized long runs: random add / abort / fork / step events against a small
// pool, so preemption is frequent. After every event the block accounting must
// hold (ExpectBlockInvariants) and the fake runner checks that every request reads
// the KV of exactly its own token prefix.

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/scheduler.h"
#include "core_test_util.h"
#include "fake_runner.h"

namespace pagoda::core {
namespace {

using testing::ExpectBlockInvariants;
using testing::FakeRunner;

struct RandomRunConfig {
  uint32_t seed = 1;
  int num_events = 3000;
  int block_size = 4;
  int num_blocks = 40;
  bool prefix_caching = true;
  BlockHashFn hash_fn{};
  SchedulerConfig sched{.max_num_seqs = 8, .max_num_batched_tokens = 48, .max_model_len = 128};
};

struct RandomRunResult {
  int64_t preemptions = 0;
  int64_t prefix_hits = 0;
  int finished = 0;
  int aborted = 0;
  int forks = 0;
  int copies = 0;
};

RandomRunResult RandomRun(const RandomRunConfig& cfg) {
  RandomRunResult res;
  std::mt19937 rng(cfg.seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto created = Scheduler::Create(cfg.sched,
                                   {.num_blocks = cfg.num_blocks, .block_size = cfg.block_size,
                                    .enable_prefix_caching = cfg.prefix_caching, .hash_fn = cfg.hash_fn},
                                   [] { return 0.0; });
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) return res;
  Scheduler& sched = **created;
  FakeRunner runner(cfg.num_blocks, cfg.block_size);
  // A few shared prefixes, so prefix hits (and their verification) happen often.
  std::vector<std::vector<TokenId>> prefixes;
  for (int i = 0; i < 4; ++i) {
    std::vector<TokenId> p(uniform(4, 40));
    for (auto& t : p) t = uniform(1, 6);
    prefixes.push_back(p);
  }
  std::vector<RequestId> live;  // ids that may still be unfinished
  uint64_t next_id = 1;
  std::set<uint64_t> done;

  auto check = [&](const char* what, int event) {
    ExpectBlockInvariants(sched);
    if (::testing::Test::HasFailure()) ADD_FAILURE() << "after " << what << " at event " << event;
  };

  auto step = [&](int event) {
    SchedulerOutput out = sched.Schedule();
    EXPECT_LE(out.total_num_scheduled_tokens, cfg.sched.max_num_batched_tokens);
    EXPECT_LE(sched.num_running(), cfg.sched.max_num_seqs);
    res.copies += static_cast<int>(out.block_copies.size());
    ModelRunnerOutput run = runner.Execute(out, [&](RequestId) { return static_cast<TokenId>(uniform(0, 30)); });
    runner.ExpectInSync(sched, out);
    CoreOutputs co = sched.UpdateFromOutput(out, run);
    for (const CoreRequestOutput& o : co.outputs) {
      if (!o.finished()) continue;
      EXPECT_TRUE(done.insert(o.request_id.value).second) << "finished twice: " << o.request_id;
      if (*o.finish_reason == FinishReason::kAbort) {
        ++res.aborted;
      } else {
        ++res.finished;
      }
      EXPECT_EQ(sched.GetRequest(o.request_id), nullptr);
    }
    check("step", event);
  };

  for (int event = 0; event < cfg.num_events && !::testing::Test::HasFailure(); ++event) {
    const int dice = uniform(0, 99);
    if (dice < 25 && sched.num_waiting() < 40) {  // add (a bounded queue keeps the pool contended, not flooded)
      std::vector<TokenId> prompt;
      if (uniform(0, 1)) prompt = prefixes[uniform(0, 3)];
      const int extra = uniform(prompt.empty() ? 1 : 0, 60);
      for (int i = 0; i < extra; ++i) prompt.push_back(uniform(1, 6));
      if (prompt.empty()) prompt.push_back(1);
      if (static_cast<int>(prompt.size()) >= cfg.sched.max_model_len) prompt.resize(cfg.sched.max_model_len - 1);
      RequestParams params{.max_tokens = uniform(1, 50), .eos_token_ids = {0}};
      if (uniform(0, 9) == 0) params.cache_salt = uniform(0, 1) ? "s1" : "s0";
      RequestId id(next_id++);
      EXPECT_TRUE(sched.AddRequest(std::make_unique<Request>(id, std::move(prompt), params)).ok());
      live.push_back(id);
    } else if (dice < 30 && !live.empty()) {  // abort anything, even finished ones
      RequestId id = live[uniform(0, static_cast<int>(live.size()) - 1)];
      const bool known = sched.GetRequest(id) != nullptr;
      EXPECT_EQ(sched.AbortRequest(id).ok(), known);
      check("abort", event);
    } else if (dice < 34 && sched.num_running() > 0) {  // fork a running request
      const Request* parent = sched.running()[uniform(0, sched.num_running() - 1)];
      std::optional<TokenId> last;
      if (parent->num_output_tokens() > 0 && parent->num_computed_tokens() < parent->num_tokens()) {
        last = static_cast<TokenId>(uniform(0, 30));
      }
      RequestId child(next_id++);
      Status st = sched.ForkRequest(parent->request_id(), child, last);
      if (st.ok()) {
        ++res.forks;
        live.push_back(child);
      } else {
        EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
      }
      check("fork", event);
    } else {
      step(event);
    }
  }
  // Drain: everything must finish (no deadlock, no starvation), and nothing leaks.
  for (int i = 0; i < 20000 && sched.HasUnfinishedRequests() && !::testing::Test::HasFailure(); ++i) step(-1);
  EXPECT_FALSE(sched.HasUnfinishedRequests());
  for (const Request* r : sched.running()) {
    ADD_FAILURE() << "stuck running " << r->request_id() << " nc=" << r->num_computed_tokens()
                  << " tokens=" << r->num_tokens() << " out=" << r->num_output_tokens();
  }
  for (const Request* r : sched.waiting()) {
    ADD_FAILURE() << "stuck waiting " << r->request_id() << " tokens=" << r->num_tokens()
                  << " status=" << RequestStatusName(r->status());
  }
  for (RequestId id : live) {
    if (!done.count(id.value)) ADD_FAILURE() << "never reported finished: " << id;
  }
  EXPECT_EQ(sched.kv_cache_manager().num_free_blocks(), cfg.num_blocks - 1);
  EXPECT_TRUE(sched.kv_cache_manager().GetRequestIds().empty());
  // The last finished ids and abort outputs come with one more (empty) step.
  EXPECT_TRUE(sched.HasWork() || done.size() == live.size());
  if (sched.HasWork()) step(-1);
  EXPECT_FALSE(sched.HasWork());
  EXPECT_EQ(runner.batch_size(), 0u);
  EXPECT_EQ(done.size(), live.size());
  SchedulerStats st = sched.stats();
  res.preemptions = st.num_preemptions;
  res.prefix_hits = st.prefix_cache_hits;
  return res;
}

TEST(SchedulerRandomTest, ManySeedsWithPrefixCaching) {
  int64_t preemptions = 0, hits = 0;
  int forks = 0, copies = 0;
  for (uint32_t seed = 1; seed <= 4 && !HasFailure(); ++seed) {
    RandomRunResult r = RandomRun({.seed = seed});
    preemptions += r.preemptions;
    hits += r.prefix_hits;
    forks += r.forks;
    copies += r.copies;
  }
  // The run must actually exercise what it claims to.
  EXPECT_GT(preemptions, 50);
  EXPECT_GT(hits, 1000);
  EXPECT_GT(forks, 50);
  EXPECT_GT(copies, 20);
  std::printf("[ random ] preemptions=%lld prefix_hit_tokens=%lld forks=%d cow_copies=%d\n",
              static_cast<long long>(preemptions), static_cast<long long>(hits), forks, copies);
}

TEST(SchedulerRandomTest, PrefixCachingOff) {
  RandomRunResult r = RandomRun({.seed = 11, .prefix_caching = false});
  EXPECT_EQ(r.prefix_hits, 0);
  EXPECT_GT(r.preemptions, 10);
}

TEST(SchedulerRandomTest, WeakHashStillReadsTheRightKv) {
  // Hashes collide all the time; verification alone keeps hits correct.
  RandomRunResult r = RandomRun({.seed = 21,
                                 .hash_fn = [](BlockHash parent, std::span<const TokenId> t, const BlockExtraKeys&) {
                                   return BlockHash{(parent + static_cast<uint64_t>(t[0])) % 3};
                                 }});
  EXPECT_GT(r.prefix_hits, 100);
}

TEST(SchedulerRandomTest, BiggerBlocksAndChunkedPrefillThreshold) {
  RandomRunResult r = RandomRun({.seed = 31,
                                 .block_size = 16,
                                 .num_blocks = 12,
                                 .sched = {.max_num_seqs = 6,
                                           .max_num_batched_tokens = 40,
                                           .max_model_len = 160,
                                           .long_prefill_token_threshold = 16}});
  EXPECT_GT(r.finished, 100);
}

TEST(SlowSchedulerRandomTest, ManyMoreEvents) {
  for (uint32_t seed = 100; seed < 110 && !HasFailure(); ++seed) RandomRun({.seed = seed, .num_events = 30000});
}

}  // namespace
}  // namespace pagoda::core
