#pragma once
// Helpers shared by the core tests: request builders, a fake runner and the
// block-accounting invariants checked after every step.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "core/kv_cache_manager.h"
#include "core/scheduler.h"

namespace pagoda::core::testing {

inline std::vector<TokenId> Iota(int n, TokenId first) {
  std::vector<TokenId> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

inline std::vector<TokenId> Concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline std::unique_ptr<Request> MakeRequest(uint64_t id, std::vector<TokenId> prompt, RequestParams params = {}) {
  return std::make_unique<Request>(RequestId(id), std::move(prompt), std::move(params));
}

inline std::vector<int> Ids(const std::vector<BlockId>& ids) {
  std::vector<int> out;
  for (BlockId b : ids) out.push_back(b.value);
  return out;
}

inline std::vector<int> Ids(const std::vector<KvCacheBlock*>& blocks) {
  std::vector<int> out;
  for (const KvCacheBlock* b : blocks) out.push_back(b->block_id.value);
  return out;
}

// Samples a token for every request whose scheduled tokens reach its end, the way
// the runner does; `next_token` picks it.
template <typename NextToken>
ModelRunnerOutput FakeRun(const Scheduler& sched, const SchedulerOutput& out, NextToken next_token) {
  ModelRunnerOutput result;
  for (const ScheduledTokens& s : out.num_scheduled_tokens) {
    const Request* r = sched.GetRequest(s.request_id);
    if (r == nullptr || r->num_computed_tokens() < r->num_tokens()) continue;  // partial prefill chunk
    result.samples.push_back({s.request_id, {next_token(*r)}, {}});
  }
  return result;
}

// Every block's ref count equals the number of block tables holding it; free
// blocks (ref 0) are exactly those in the free queue; used + free == usable;
// every running request's table covers ceil(num_computed_tokens / block_size)
// blocks and waiting ones hold none.
inline void ExpectBlockInvariants(const Scheduler& sched) {
  const KvCacheManager& kv = sched.kv_cache_manager();
  const BlockPool& pool = kv.block_pool();
  std::map<int, int> holders;
  for (const Request* r : sched.running()) {
    std::vector<BlockId> ids = kv.GetBlockIds(r->request_id());
    const int bs = kv.block_size();
    ASSERT_EQ(static_cast<int>(ids.size()), (r->num_computed_tokens() + bs - 1) / bs)
        << r->request_id() << " nc=" << r->num_computed_tokens();
    for (BlockId b : ids) ++holders[b.value];
  }
  for (const Request* r : sched.waiting()) {
    ASSERT_TRUE(kv.GetBlockIds(r->request_id()).empty()) << r->request_id();
    ASSERT_EQ(r->num_computed_tokens(), 0);
  }
  // The manager knows no table the scheduler does not.
  for (RequestId id : kv.GetRequestIds()) {
    const Request* r = sched.GetRequest(id);
    ASSERT_NE(r, nullptr) << "leaked block table of " << id;
    if (r->status() != RequestStatus::kRunning) {
      ASSERT_TRUE(kv.GetBlockIds(id).empty());
    }
  }
  ASSERT_EQ(holders.count(0), 0u) << "the null block is in a block table";
  int num_free = 0;
  for (int i = 1; i < pool.num_blocks(); ++i) {
    const KvCacheBlock& b = pool.block(BlockId(i));
    const int expected = holders.count(i) ? holders[i] : 0;
    ASSERT_EQ(b.ref_cnt, expected) << "block " << i;
    ASSERT_EQ(pool.IsInFreeQueue(BlockId(i)), b.ref_cnt == 0) << "block " << i;
    if (b.ref_cnt == 0) ++num_free;
  }
  ASSERT_EQ(num_free, pool.num_free_blocks());
  ASSERT_EQ(pool.num_free_blocks() + pool.num_used_blocks(), pool.num_usable_blocks());
  ASSERT_EQ(static_cast<int>(pool.GetFreeBlockIds().size()), pool.num_free_blocks());
}

}  // namespace pagoda::core::testing
