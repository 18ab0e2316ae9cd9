#include "cli/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/kv_cache.h"
#include "model/forward_batch.h"

namespace pagoda::cli {

namespace {

// -log softmax(row)[target], in double.
double Nll(const float* row, int64_t n, int32_t target) {
  const double mx = *std::max_element(row, row + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(row[i]) - mx);
  return std::log(sum) + mx - static_cast<double>(row[target]);
}

}  // namespace

double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

Result<PerplexityResult> ComputePerplexity(model::Model& m, ThreadPool& pool, const std::vector<int32_t>& ids, const PerplexityOptions& o) {
  const loader::ModelConfig& c = m.config();
  const int64_t L = o.context, S = o.stride > 0 ? o.stride : o.context, N = static_cast<int64_t>(ids.size());
  if (L < 2) return InvalidArgument("perplexity: context must be at least 2 tokens, got " + std::to_string(L));
  if (S > L) return InvalidArgument("perplexity: stride " + std::to_string(S) + " exceeds the context " + std::to_string(L));
  if (o.chunk < 1 || o.block_size < 1) return InvalidArgument("perplexity: chunk and block size must be positive");
  if (N < 2) return InvalidArgument("perplexity: need at least 2 tokens, got " + std::to_string(N));
  if (c.learned_positions && L > c.max_position_embeddings)
    return InvalidArgument("perplexity: context " + std::to_string(L) + " exceeds the model's " + std::to_string(c.max_position_embeddings) +
                           " positions");
  for (int32_t id : ids)
    if (id < 0 || id >= c.vocab_size) return InvalidArgument("perplexity: token id " + std::to_string(id) + " outside the vocabulary");

  const int64_t bs = o.block_size, nblocks = (L + bs - 1) / bs;
  backend::KvCache kv(c.num_layers, nblocks, bs, c.num_kv_heads, c.head_dim, o.kv_dtype);
  std::vector<int32_t> table(static_cast<size_t>(nblocks));
  for (int64_t i = 0; i < nblocks; ++i) table[i] = static_cast<int32_t>(i);
  std::vector<float> logits(static_cast<size_t>(std::min(o.chunk, L) * c.vocab_size));

  PerplexityResult r;
  int64_t prev_end = 0;  // tokens [0, prev_end) are scored already
  for (int64_t begin = 0; prev_end < N; begin += S) {
    const int64_t end = std::min(begin + L, N);
    const std::vector<int32_t> window(ids.begin() + begin, ids.begin() + end);
    const int64_t len = end - begin;
    // Score window positions p (0-based in the window) with begin + p >= max(prev_end, begin + 1):
    // the logits at p - 1 predict token p.
    const int64_t first_scored = std::max(prev_end, begin + 1) - begin;
    for (int64_t done = 0; done < len; done += o.chunk) {
      const int64_t n = std::min(o.chunk, len - done);
      model::ForwardBatch fb;
      fb.AddSequence(window, static_cast<int32_t>(done), static_cast<int32_t>(n), table, static_cast<int32_t>(bs), true);
      PAGODA_RETURN_IF_ERROR(m.Forward(pool, fb, kv, logits.data()));
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = done + i + 1;  // the token these logits predict
        if (p < first_scored || p >= len) continue;
        const double nll = Nll(logits.data() + i * c.vocab_size, c.vocab_size, window[p]);
        r.nll_sum += nll;
        r.token_nll.push_back(static_cast<float>(nll));
        ++r.tokens_scored;
      }
    }
    ++r.windows;
    prev_end = end;
    if (end == N) break;
  }
  return r;
}

}  // namespace pagoda::cli
