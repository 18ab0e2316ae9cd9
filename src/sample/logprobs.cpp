#include "sample/logprobs.h"

#include <algorithm>
#include <cmath>

#include "sample/fast_exp.h"
#include "sample/logits_processors.h"

namespace pagoda::sample {
namespace {

// "a ranks before b": larger value, then lower token id.
bool Better(const TokenLogprob& a, const TokenLogprob& b) {
  return a.logprob > b.logprob || (a.logprob == b.logprob && a.token < b.token);
}

}  // namespace

double LogSumExp(std::span<const float> row) {
  const float m = MaxLogit(row);
  if (m == kNegInf) return -HUGE_VAL;
  const double total = SumExpShifted(row.data(), m, row.size());
  return static_cast<double>(m) + std::log(total);
}

void ComputeLogprobs(std::span<const float> row, int32_t token, int num_top, SampleResult* out,
                     std::vector<TokenLogprob>& heap) {
  const double lse = LogSumExp(row);
  const float tv = row[token];
  out->logprob = static_cast<float>(static_cast<double>(tv) - lse);
  int rank = 0;
  for (float v : row) rank += v >= tv ? 1 : 0;
  out->rank = rank;
  out->top.clear();
  if (num_top <= 0) return;
  const size_t k = std::min(static_cast<size_t>(num_top), row.size());
  // Min-heap (worst on top) of the k best (logit, id) pairs.
  heap.clear();
  const size_t n = row.size();
  for (size_t b = 0; b < n; b += 64) {
    const size_t end = std::min(n, b + 64);
    // A block whose (vectorized) max cannot enter the full heap is skipped.
    if (heap.size() == k && MaxLogit(row.subspan(b, end - b)) < heap.front().logprob) continue;
    for (size_t i = b; i < end; ++i) {
      if (heap.size() == k && row[i] < heap.front().logprob) continue;
      const TokenLogprob c{static_cast<int32_t>(i), row[i]};
      if (heap.size() < k) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), Better);
      } else if (Better(c, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), Better);
        heap.back() = c;
        std::push_heap(heap.begin(), heap.end(), Better);
      }
    }
  }
  std::sort(heap.begin(), heap.end(), Better);
  for (TokenLogprob& t : heap) t.logprob = static_cast<float>(static_cast<double>(t.logprob) - lse);
  out->top.assign(heap.begin(), heap.end());
}

void ComputePromptLogprobs(const float* logits, int64_t vocab_size, std::span<const int32_t> target_ids, int num_top,
                           std::vector<SampleResult>& out) {
  out.resize(target_ids.size());
  std::vector<TokenLogprob> heap;
  for (size_t i = 0; i < target_ids.size(); ++i) {
    std::span<const float> row(logits + static_cast<int64_t>(i) * vocab_size, static_cast<size_t>(vocab_size));
    out[i].token = target_ids[i];
    out[i].all_masked = false;
    ComputeLogprobs(row, target_ids[i], num_top, &out[i], heap);
  }
}

}  // namespace pagoda::sample
