#pragma once
// SchedulerOutput: the contract core -> runner for one step (DESIGN.md "The two
// contracts"). The runner keeps a persistent batch keyed by request id, so a
// request is sent in full once (NewRequestData) and afterwards as a diff
// (CachedRequestData). Plain data; made and read on the engine thread.
//
// What the runner does with one:
//  1. drop finished_req_ids and preempted_req_ids from its persistent batch;
//  2. perform block_copies (copy-on-write of forked blocks) before any KV write;
//  3. add scheduled_new_reqs, apply scheduled_cached_reqs diffs;
//  4. run num_scheduled_tokens[r] tokens of each request r, starting at its
//     num_computed_tokens; write every scheduled token's KV (slot_mapping) before
//     attention reads the cache, since a request may hit prefix blocks that
//     another request fills in the same step;
//  5. sample for each request whose num_computed_tokens + num_scheduled_tokens
//     reaches its token count (a partial prefill chunk samples nothing).

#include <vector>

#include "core/ids.h"
#include "core/request.h"

namespace pagoda::core {

struct BlockCopy {
  BlockId src;
  BlockId dst;
  bool operator==(const BlockCopy&) const = default;
};

// A request the runner does not have: first scheduling, or resumed after preemption.
struct NewRequestData {
  RequestId request_id;
  std::vector<TokenId> prompt_token_ids;
  // Prompt and every output so far (equal to the prompt unless resumed after preemption).
  std::vector<TokenId> all_token_ids;
  std::vector<BlockId> block_ids;  // the whole block table
  int num_computed_tokens = 0;     // tokens already in the KV cache (prefix-cache hit)
  SamplingParamsHandle sampling_params;
};

// A request the runner already has: what changed since its last step.
struct CachedRequestData {
  struct ReplacedBlock {
    int block_index = 0;
    BlockId block_id;
  };
  RequestId request_id;
  std::vector<TokenId> new_token_ids;     // tokens appended since the runner last saw it
  std::vector<BlockId> new_block_ids;     // appended to its block table
  std::vector<ReplacedBlock> replaced_blocks;  // copy-on-write swaps, applied first
  int num_computed_tokens = 0;
};

struct ScheduledTokens {
  RequestId request_id;
  int num_tokens = 0;
};

struct SchedulerOutput {
  std::vector<NewRequestData> scheduled_new_reqs;
  std::vector<CachedRequestData> scheduled_cached_reqs;
  // One entry per scheduled request, in scheduling order.
  std::vector<ScheduledTokens> num_scheduled_tokens;
  int total_num_scheduled_tokens = 0;
  std::vector<BlockCopy> block_copies;
  // Finished or aborted since the previous step, and preempted in this one.
  std::vector<RequestId> finished_req_ids;
  std::vector<RequestId> preempted_req_ids;

  bool empty() const { return num_scheduled_tokens.empty(); }
  // 0 when the request is not scheduled in this step.
  int NumScheduledTokens(RequestId id) const;
};

}  // namespace pagoda::core
