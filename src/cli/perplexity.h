#pragma once
// Perplexity of a model on a token sequence, the way HF's perplexity guide
// computes it for fixed-length models: windows of `context` tokens starting
// every `stride` tokens; each window is a fresh sequence, and only the tokens
// past the previous window's end are scored (all but the first in the first
// window), each given every earlier token of its window. NLL in nats from a
// double-precision log-softmax of the model's float32 logits.
// Call from one thread (it drives Model::Forward on the given pool).

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "model/model.h"

namespace pagoda::cli {

struct PerplexityOptions {
  int64_t context = 512;    // tokens per window
  int64_t stride = 0;       // window start step; 0 = context (windows do not overlap)
  int64_t chunk = 128;      // tokens per forward pass inside a window (bounds logits memory)
  int64_t block_size = 16;  // KV cache block size
  backend::KvDType kv_dtype = backend::KvDType::kF32;
};

struct PerplexityResult {
  int64_t tokens_scored = 0;
  int64_t windows = 0;
  double nll_sum = 0;                 // nats
  std::vector<float> token_nll;      // per scored token, in text order
  double mean_nll() const { return tokens_scored > 0 ? nll_sum / static_cast<double>(tokens_scored) : 0.0; }
  double perplexity() const;
};

Result<PerplexityResult> ComputePerplexity(model::Model& m, ThreadPool& pool, const std::vector<int32_t>& ids, const PerplexityOptions& o);

}  // namespace pagoda::cli
