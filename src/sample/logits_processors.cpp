#include "sample/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/check.h"
#include "sample/fast_exp.h"

namespace pagoda::sample {
namespace {

// Top-p histogram: buckets of 1/8 nat below the max; the last one takes the tail.
constexpr double kBucketsPerNat = 8.0;
constexpr int kNumBuckets = 256;

float MaxOf(std::span<const float> row) {
  float m = kNegInf;
  for (float v : row) m = v > m ? v : m;
  return m;
}

}  // namespace

void ApplyAllowedTokenIds(std::span<float> row, std::span<const int32_t> allowed, ProcessorScratch& scratch) {
  if (allowed.empty()) return;
  scratch.values.resize(allowed.size());
  for (size_t i = 0; i < allowed.size(); ++i) scratch.values[i] = row[allowed[i]];
  std::fill(row.begin(), row.end(), kNegInf);
  for (size_t i = 0; i < allowed.size(); ++i) row[allowed[i]] = scratch.values[i];
}

void ApplyBadWords(std::span<float> row, const std::vector<std::vector<int32_t>>& bad_words_ids,
                   std::span<const int32_t> output_ids) {
  for (const std::vector<int32_t>& word : bad_words_ids) {
    if (word.empty()) continue;
    const size_t prefix = word.size() - 1;
    if (prefix > output_ids.size()) continue;
    if (std::equal(word.begin(), word.end() - 1, output_ids.end() - static_cast<std::ptrdiff_t>(prefix)))
      row[word.back()] = kNegInf;
  }
}

void ApplyMinTokens(std::span<float> row, int min_tokens, size_t num_output_tokens, std::span<const int32_t> blocked) {
  if (num_output_tokens >= static_cast<size_t>(std::max(min_tokens, 0))) return;
  for (int32_t t : blocked) row[t] = kNegInf;
}

void ApplyLogitBias(std::span<float> row, const std::map<int32_t, double>& logit_bias) {
  for (const auto& [token, bias] : logit_bias) row[token] += static_cast<float>(bias);
}

void ApplyPenalties(std::span<float> row, std::span<const int32_t> prompt_ids, std::span<const int32_t> output_ids,
                    double repetition_penalty, double frequency_penalty, double presence_penalty,
                    ProcessorScratch& s) {
  const bool rep = repetition_penalty != 1.0;
  const bool freq_pres = frequency_penalty != 0.0 || presence_penalty != 0.0;
  if (!rep && !freq_pres) return;
  if (s.counts.size() < row.size()) {
    s.counts.assign(row.size(), 0);
    s.seen.assign(row.size(), 0);
  }
  s.touched.clear();
  // seen: bit 0 = in prompt or output (repetition); counts = occurrences in output.
  auto touch = [&](int32_t t) {
    if (!s.seen[t] && s.counts[t] == 0) s.touched.push_back(t);
  };
  if (rep) {
    for (int32_t t : prompt_ids) {
      touch(t);
      s.seen[t] = 1;
    }
  }
  for (int32_t t : output_ids) {
    touch(t);
    s.seen[t] = 1;
    ++s.counts[t];
  }
  const float rp = static_cast<float>(repetition_penalty);
  const float fp = static_cast<float>(frequency_penalty);
  const float pp = static_cast<float>(presence_penalty);
  for (int32_t t : s.touched) {
    float l = row[t];
    if (rep) l = l > 0 ? l / rp : l * rp;
    const int32_t c = s.counts[t];
    if (freq_pres && c > 0) {
      l -= fp * static_cast<float>(c);
      l -= pp;
    }
    row[t] = l;
    s.seen[t] = 0;
    s.counts[t] = 0;
  }
  s.touched.clear();
}

void ApplyTemperature(std::span<float> row, double temperature) {
  if (temperature == 1.0) return;
  const float t = static_cast<float>(temperature);
  for (float& v : row) v /= t;
}

void ApplyMinP(std::span<float> row, double min_p) {
  if (min_p <= 0) return;
  const float m = MaxOf(row);
  if (m == kNegInf) return;
  // p_i / p_max = exp(l_i - max); in double so that the cut is exact to rounding.
  const double cut = static_cast<double>(m) + std::log(min_p);
  for (float& v : row)
    if (static_cast<double>(v) < cut) v = kNegInf;
}

void ApplyTopK(std::span<float> row, int k, ProcessorScratch& s) {
  const size_t n = row.size();
  if (k <= 0 || static_cast<size_t>(k) >= n) return;
  float kth;
  if (static_cast<size_t>(k) <= n / 16) {
    // Min-heap of the k largest values seen; most values fail the first compare.
    std::vector<float>& heap = s.values;
    heap.assign(row.begin(), row.begin() + k);
    std::make_heap(heap.begin(), heap.end(), std::greater<float>());
    for (size_t i = static_cast<size_t>(k); i < n; ++i) {
      const float v = row[i];
      if (v > heap.front()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
        heap.back() = v;
        std::push_heap(heap.begin(), heap.end(), std::greater<float>());
      }
    }
    kth = heap.front();
  } else {
    s.values.assign(row.begin(), row.end());
    std::nth_element(s.values.begin(), s.values.begin() + (k - 1), s.values.end(), std::greater<float>());
    kth = s.values[k - 1];
  }
  if (kth == kNegInf) return;
  for (float& v : row)
    if (v < kth) v = kNegInf;
}

void ApplyTopP(std::span<float> row, double top_p, ProcessorScratch& s) {
  if (top_p >= 1.0) return;
  const float m = MaxOf(row);
  if (m == kNegInf) return;
  s.bucket_mass.assign(kNumBuckets, 0.0);
  double total = 0;
  auto bucket_of = [&](float v) {
    const double d = (static_cast<double>(m) - v) * kBucketsPerNat;
    return d >= kNumBuckets - 1 ? kNumBuckets - 1 : static_cast<int>(d);
  };
  for (float v : row) {
    if (v == kNegInf) continue;
    const double w = FastExp(v - m);
    s.bucket_mass[bucket_of(v)] += w;
    total += w;
  }
  const double target = top_p * total;
  double above = 0;
  int crossing = kNumBuckets - 1;
  for (int b = 0; b < kNumBuckets; ++b) {
    if (above + s.bucket_mass[b] < target) {
      above += s.bucket_mass[b];
    } else {
      crossing = b;
      break;
    }
  }
  s.bucket_ids.clear();
  for (size_t i = 0; i < row.size(); ++i)
    if (row[i] != kNegInf && bucket_of(row[i]) == crossing) s.bucket_ids.push_back(static_cast<int32_t>(i));
  PAGODA_CHECK(!s.bucket_ids.empty());
  std::sort(s.bucket_ids.begin(), s.bucket_ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
  float last_kept = row[s.bucket_ids.front()];
  for (int32_t t : s.bucket_ids) {
    if (!(above < target)) break;
    last_kept = row[t];
    above += FastExp(row[t] - m);
  }
  for (float& v : row)
    if (v < last_kept) v = kNegInf;
}

int64_t Argmax(std::span<const float> row) {
  int64_t best = 0;
  float bv = row[0];
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] > bv) {
      bv = row[i];
      best = static_cast<int64_t>(i);
    }
  }
  return best;
}

int64_t DrawFromLogits(std::span<const float> row, double u, ProcessorScratch& s) {
  const float m = MaxOf(row);
  if (m == kNegInf) return -1;
  const size_t n = row.size();
  s.weights.resize(n);
  float* w = s.weights.data();
  for (size_t i = 0; i < n; ++i) w[i] = FastExp(row[i] - m);  // -inf - m = -inf -> 0
  // Four running sums in double: the order is fixed (never depends on the batch).
  double lanes[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) lanes[j] += w[i + j];
  for (; i < n; ++i) lanes[0] += w[i];
  const double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  const double target = u * total;
  double acc = 0;
  int64_t last_positive = -1;
  for (size_t k = 0; k < n; ++k) {
    if (w[k] <= 0) continue;
    acc += w[k];
    last_positive = static_cast<int64_t>(k);
    if (acc > target) return last_positive;
  }
  return last_positive;  // rounding left acc a hair under u * total
}

}  // namespace pagoda::sample
