#pragma once
// What the sampler returns for one row: the token and, when asked, its
// log-probability, its rank and the top candidates. Plain data.

#include <cstdint>
#include <vector>

namespace pagoda::sample {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct SampleResult {
  int32_t token = 0;
  // Filled only when the row asks for logprobs (params->logprobs set):
  float logprob = 0;              // log-softmax at the sampled token (raw logits by default, see LogprobsMode)
  int rank = 0;                   // vLLM's rank: number of tokens with logprob >= the sampled one's (1 = best)
  std::vector<TokenLogprob> top;  // the params->logprobs best tokens, best first (ties: lower id first)
  // Every token was filtered out (e.g. allowed_token_ids all blocked by
  // min_tokens); the token is then the argmax of the unfiltered logits.
  bool all_masked = false;
};

}  // namespace pagoda::sample
