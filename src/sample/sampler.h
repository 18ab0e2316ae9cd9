#pragma once
// Sampler: turns one step's logits into tokens, one row per request that
// samples. Logits processors are applied in vLLM's order (see sampler.cpp).
// Deterministic: a seeded request draws from a stream keyed by (seed, number of
// tokens it has generated), so its samples do not depend on the rest of the batch
// or on step boundaries. Engine thread only (it keeps scratch buffers).

#include <cstdint>
#include <span>
#include <vector>

#include "sample/sampling_params.h"

namespace pagoda::sample {

struct SamplingRow {
  const SamplingParams* params = nullptr;  // null = greedy
  std::span<const int32_t> prompt_ids;
  std::span<const int32_t> output_ids;     // generated so far (before this step)
  std::span<const int32_t> eos_ids;        // blocked while output_ids.size() < min_tokens
  uint64_t request_seed = 0;               // used when params->seed is unset (per-request stream)
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

struct SampleResult {
  int32_t token = 0;
  float logprob = 0;                // log-softmax of the raw logits at the sampled token
  int rank = 0;                     // 1-based rank of the sampled token under the raw logits
  std::vector<TokenLogprob> top;    // top params->logprobs tokens, when asked
};

class Sampler {
 public:
  // logits: rows.size() x vocab_size, row-major; may be modified in place.
  std::vector<SampleResult> Sample(float* logits, int64_t vocab_size, std::span<const SamplingRow> rows);
};

}  // namespace pagoda::sample
