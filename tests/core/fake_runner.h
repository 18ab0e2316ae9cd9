#pragma once
// A fake model runner for the core tests. It knows only what SchedulerOutput
// tells it (a persistent batch keyed by request id, as the real runner will),
// keeps a shadow KV cache where each slot holds a fingerprint of the whole token
// prefix ending at that position, and after writing a step's tokens checks that
// every position a request attends to holds the right fingerprint. A wrong prefix
// hit, a missed copy-on-write or a stale block table shows up as a mismatch.

#include <gtest/gtest.h>

#include <functional>
#include <unordered_map>
#include <vector>

#include "core/model_runner_output.h"
#include "core/scheduler.h"
#include "core/scheduler_output.h"

namespace pagoda::core::testing {

class FakeRunner {
 public:
  FakeRunner(int num_blocks, int block_size) : block_size_(block_size), kv_(num_blocks, std::vector<uint64_t>(block_size, 0)) {}

  // `sample` picks the token for a request that completes its tokens in this step.
  ModelRunnerOutput Execute(const SchedulerOutput& out, const std::function<TokenId(RequestId)>& sample) {
    for (RequestId id : out.finished_req_ids) EXPECT_EQ(batch_.erase(id), 1u) << "finished unknown " << id;
    for (RequestId id : out.preempted_req_ids) EXPECT_EQ(batch_.erase(id), 1u) << "preempted unknown " << id;
    for (const BlockCopy& c : out.block_copies) kv_[c.dst.value] = kv_[c.src.value];
    for (const NewRequestData& n : out.scheduled_new_reqs) {
      EXPECT_EQ(batch_.count(n.request_id), 0u) << "new request already in the batch: " << n.request_id;
      batch_[n.request_id] = {n.all_token_ids, n.block_ids, n.num_computed_tokens};
    }
    for (const CachedRequestData& c : out.scheduled_cached_reqs) {
      auto it = batch_.find(c.request_id);
      if (it == batch_.end()) {
        ADD_FAILURE() << "diff for a request not in the batch: " << c.request_id;
        continue;
      }
      Entry& e = it->second;
      e.tokens.insert(e.tokens.end(), c.new_token_ids.begin(), c.new_token_ids.end());
      for (const auto& r : c.replaced_blocks) e.table.at(r.block_index) = r.block_id;
      e.table.insert(e.table.end(), c.new_block_ids.begin(), c.new_block_ids.end());
      EXPECT_EQ(e.num_computed_tokens, c.num_computed_tokens) << c.request_id;
    }
    int total = 0;
    for (const ScheduledTokens& s : out.num_scheduled_tokens) {  // write KV
      Entry& e = batch_.at(s.request_id);
      total += s.num_tokens;
      EXPECT_LE(e.num_computed_tokens + s.num_tokens, static_cast<int>(e.tokens.size())) << s.request_id;
      uint64_t fp = Fingerprint(e.tokens, e.num_computed_tokens);
      for (int p = e.num_computed_tokens; p < e.num_computed_tokens + s.num_tokens; ++p) {
        fp = Extend(fp, e.tokens[p]);
        Slot(e, p) = fp;
      }
    }
    EXPECT_EQ(total, out.total_num_scheduled_tokens);
    ModelRunnerOutput result;
    for (const ScheduledTokens& s : out.num_scheduled_tokens) {  // attend and sample
      Entry& e = batch_.at(s.request_id);
      e.num_computed_tokens += s.num_tokens;
      uint64_t fp = 0;
      for (int p = 0; p < e.num_computed_tokens; ++p) {
        fp = Extend(fp, e.tokens[p]);
        if (Slot(e, p) != fp) {
          ADD_FAILURE() << s.request_id << " reads wrong KV at position " << p;
          break;
        }
      }
      if (e.num_computed_tokens == static_cast<int>(e.tokens.size())) {
        result.samples.push_back({s.request_id, {sample(s.request_id)}, {}});
      }
    }
    ++num_steps_;
    return result;
  }

  // The runner's view of a request must equal the scheduler's.
  void ExpectInSync(const Scheduler& sched, const SchedulerOutput& out) const {
    for (const ScheduledTokens& s : out.num_scheduled_tokens) {
      const Request* r = sched.GetRequest(s.request_id);
      ASSERT_NE(r, nullptr);
      const Entry& e = batch_.at(s.request_id);
      ASSERT_EQ(e.table, sched.kv_cache_manager().GetBlockIds(s.request_id)) << s.request_id;
      ASSERT_TRUE(std::equal(e.tokens.begin(), e.tokens.end(), r->all_token_ids().begin(), r->all_token_ids().end()))
          << s.request_id;
    }
  }

  size_t batch_size() const { return batch_.size(); }

 private:
  struct Entry {
    std::vector<TokenId> tokens;
    std::vector<BlockId> table;
    int num_computed_tokens = 0;
  };

  static uint64_t Extend(uint64_t fp, TokenId t) {
    uint64_t x = (fp ^ static_cast<uint32_t>(t)) * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    return x ^ (x >> 29);
  }
  static uint64_t Fingerprint(const std::vector<TokenId>& tokens, int n) {
    uint64_t fp = 0;
    for (int p = 0; p < n; ++p) fp = Extend(fp, tokens[p]);
    return fp;
  }
  uint64_t& Slot(const Entry& e, int p) { return kv_.at(e.table.at(p / block_size_).value).at(p % block_size_); }

  int block_size_;
  std::vector<std::vector<uint64_t>> kv_;
  std::unordered_map<RequestId, Entry> batch_;
  int num_steps_ = 0;
};

}  // namespace pagoda::core::testing
