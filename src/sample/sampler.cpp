#include "sample/sampler.h"

#include <algorithm>
#include <cmath>

namespace pagoda::sample {

// First version: greedy only (temperature 0 or no params). The sampling issue
// fills in the processors; until then the server refuses non-greedy requests.
std::vector<SampleResult> Sampler::Sample(float* logits, int64_t vocab_size, std::span<const SamplingRow> rows) {
  std::vector<SampleResult> out(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const float* row = logits + r * vocab_size;
    int64_t best = 0;
    for (int64_t i = 1; i < vocab_size; ++i)
      if (row[i] > row[best]) best = i;
    float mx = row[best];
    double sum = 0;
    for (int64_t i = 0; i < vocab_size; ++i) sum += std::exp(static_cast<double>(row[i]) - mx);
    out[r].token = static_cast<int32_t>(best);
    out[r].logprob = static_cast<float>(-std::log(sum));
    out[r].rank = 1;
  }
  return out;
}

}  // namespace pagoda::sample
