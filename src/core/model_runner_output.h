#pragma once
// ModelRunnerOutput: the contract runner -> core for one step. Plain data; made
// by the runner, read by Scheduler::UpdateFromOutput on the engine thread.

#include <vector>

#include "core/ids.h"

namespace pagoda::core {

// Log-probabilities at one sampled position.
struct SampleLogprobs {
  std::vector<TokenId> token_ids;  // the sampled token first, then the top candidates
  std::vector<float> logprobs;     // parallel to token_ids
  int sampled_token_rank = 0;      // rank of the sampled token in the full distribution
};

struct RequestSample {
  RequestId request_id;
  // Usually one token; several with speculative decoding (accepted drafts + bonus).
  std::vector<TokenId> sampled_token_ids;
  // Empty unless logprobs were asked for; then one per sampled token.
  std::vector<SampleLogprobs> logprobs;
};

struct ModelRunnerOutput {
  // One entry per request that sampled in this step (no entry for a partial prefill).
  std::vector<RequestSample> samples;
};

}  // namespace pagoda::core
