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
constexpr size_t kMaxListed = 8192;  // top-p: the most candidates sorted directly

constexpr size_t kBlock = 256;  // DrawFromLogits' block of weights

// Sets every logit below `cut` to -inf.
void MaskBelow(std::span<float> row, float cut) {
  for (float& v : row) v = v < cut ? kNegInf : v;
}

// MaskBelow that also lists the finite survivors in increasing order; a block
// of 64 entirely below the cut (or all -inf) is filled at once, so the cost is
// one vectorized pass when few tokens survive.
void MaskBelowAndList(std::span<float> row, float cut, std::vector<int32_t>& kept) {
  const size_t n = row.size();
  kept.clear();
  for (size_t b = 0; b < n; b += 64) {
    const size_t end = std::min(n, b + 64);
    const float bm = MaxOfFloats(row.data() + b, end - b);
    if (bm < cut || bm == kNegInf) {
      std::fill(row.begin() + b, row.begin() + end, kNegInf);
      continue;
    }
    for (size_t i = b; i < end; ++i) {
      if (row[i] < cut) row[i] = kNegInf;
      else if (row[i] != kNegInf) kept.push_back(static_cast<int32_t>(i));
    }
  }
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

bool ApplyMinP(std::span<float> row, double min_p, std::vector<int32_t>* kept) {
  if (min_p <= 0) return false;
  const float m = MaxOfFloats(row.data(), row.size());
  if (m == kNegInf) return false;
  // p_i / p_max = exp(l_i - max); the cut in double, then the smallest float
  // >= it, so that the float compare is the double one.
  const double cut = static_cast<double>(m) + std::log(min_p);
  float fcut = static_cast<float>(cut);
  if (static_cast<double>(fcut) < cut) fcut = std::nextafter(fcut, HUGE_VALF);
  if (!kept) {
    MaskBelow(row, fcut);
    return false;
  }
  MaskBelowAndList(row, fcut, *kept);
  return true;
}

void ApplyTopKOnKept(std::span<float> row, std::vector<int32_t>& kept, int k, ProcessorScratch& s) {
  if (k <= 0 || kept.size() <= static_cast<size_t>(k)) return;
  s.values.resize(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) s.values[i] = row[kept[i]];
  std::nth_element(s.values.begin(), s.values.begin() + (k - 1), s.values.end(), std::greater<float>());
  const float kth = s.values[k - 1];
  size_t out = 0;
  for (int32_t t : kept) {
    if (row[t] < kth) row[t] = kNegInf;
    else kept[out++] = t;
  }
  kept.resize(out);
}

bool ApplyTopK(std::span<float> row, int k, ProcessorScratch& s, std::vector<int32_t>* kept) {
  const size_t n = row.size();
  if (k <= 0 || static_cast<size_t>(k) >= n) return false;
  float kth;
  if (static_cast<size_t>(k) <= n / 16) {
    // Min-heap of the k largest values seen; most values fail the first compare.
    std::vector<float>& heap = s.values;
    heap.assign(row.begin(), row.begin() + k);
    std::make_heap(heap.begin(), heap.end(), std::greater<float>());
    // Blocks whose (vectorized) max cannot enter the heap are skipped whole.
    for (size_t b = static_cast<size_t>(k); b < n; b += 64) {
      const size_t end = std::min(n, b + 64);
      if (MaxOfFloats(row.data() + b, end - b) <= heap.front()) continue;
      for (size_t i = b; i < end; ++i) {
        const float v = row[i];
        if (v > heap.front()) {
          std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
          heap.back() = v;
          std::push_heap(heap.begin(), heap.end(), std::greater<float>());
        }
      }
    }
    kth = heap.front();
  } else {
    s.values.assign(row.begin(), row.end());
    std::nth_element(s.values.begin(), s.values.begin() + (k - 1), s.values.end(), std::greater<float>());
    kth = s.values[k - 1];
  }
  if (!kept) {
    if (kth != kNegInf) MaskBelow(row, kth);  // -inf: fewer than k finite logits, nothing to remove
    return false;
  }
  MaskBelowAndList(row, kth, *kept);
  return true;
}

namespace {

// Top-p over a list holding every token that can survive: `total` is the mass
// of the whole distribution in units of exp(m), m the largest logit.
void TopPOnList(std::span<float> row, std::vector<int32_t>& kept, float m, double total, double top_p,
                ProcessorScratch& s) {
  const double target = top_p * total;
  s.bucket_ids.assign(kept.begin(), kept.end());
  std::sort(s.bucket_ids.begin(), s.bucket_ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
  double above = 0;
  float last_kept = row[s.bucket_ids.front()];
  for (int32_t t : s.bucket_ids) {
    if (!(above < target)) break;
    last_kept = row[t];
    above += FastExp(row[t] - m);
  }
  size_t out = 0;
  for (int32_t t : kept) {
    if (row[t] < last_kept) row[t] = kNegInf;
    else kept[out++] = t;
  }
  kept.resize(out);
}

}  // namespace

void ApplyTopPOnKept(std::span<float> row, std::vector<int32_t>& kept, double top_p, ProcessorScratch& s) {
  if (top_p >= 1.0 || kept.empty()) return;
  float m = kNegInf;
  for (int32_t t : kept) m = std::max(m, row[t]);
  double total = 0;
  for (int32_t t : kept) total += FastExp(row[t] - m);
  TopPOnList(row, kept, m, total, top_p, s);
}

int64_t DrawFromKept(std::span<const float> row, std::span<const int32_t> kept, double u) {
  if (kept.empty()) return -1;
  float m = kNegInf;
  for (int32_t t : kept) m = std::max(m, row[t]);
  if (m == kNegInf) return -1;
  double total = 0;
  for (int32_t t : kept) total += FastExp(row[t] - m);
  const double target = std::min(u * total, std::nextafter(total, 0.0));
  double acc = 0;
  int64_t last_positive = -1;
  for (int32_t t : kept) {
    const double w = FastExp(row[t] - m);
    if (w <= 0) continue;
    acc += w;
    last_positive = t;
    if (acc > target) return t;
  }
  return last_positive;
}

bool ApplyTopP(std::span<float> row, double top_p, ProcessorScratch& s, std::vector<int32_t>* kept) {
  if (top_p >= 1.0) return false;
  const size_t n = row.size();
  const float m = MaxOfFloats(row.data(), n);
  if (m == kNegInf) return false;
  if (kept) {
    // Tokens of weight w < t = (1 - top_p) * total / n can never survive: all
    // of them together weigh less than (1 - top_p) * total, so the mass above
    // each is >= top_p * total. Usually few tokens are above t: list them and
    // finish on the list (0.999: a margin for rounding).
    const double total = SumExpShifted(row.data(), m, n);
    const double t = 0.999 * (1.0 - top_p) * total / static_cast<double>(n);
    const float cut = static_cast<float>(static_cast<double>(m) + std::log(t));
    size_t count = 0;
    for (float v : row) count += v >= cut ? 1 : 0;
    if (count <= kMaxListed) {
      MaskBelowAndList(row, cut, *kept);
      TopPOnList(row, *kept, m, total, top_p, s);
      return true;
    }
  }
  s.weights.resize(n);
  s.bucket_of.resize(n);
  s.bucket_mass.assign(kNumBuckets, 0.0);
  float* w = s.weights.data();
  uint8_t* bk = s.bucket_of.data();
  // Weights (vectorized), then bucket ids and the histogram (a scatter).
  ExpShifted(row.data(), m, w, n);
  const float scale = static_cast<float>(kBucketsPerNat);
  for (size_t i = 0; i < n; ++i) {
    const float d = (m - row[i]) * scale;  // +inf for a -inf logit
    const int b = d >= kNumBuckets - 1 ? kNumBuckets - 1 : static_cast<int>(d);
    bk[i] = static_cast<uint8_t>(b);
    s.bucket_mass[b] += w[i];
  }
  double total = 0;
  for (double b : s.bucket_mass) total += b;
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
  for (size_t i = 0; i < n; ++i)
    if (bk[i] == crossing && w[i] > 0) s.bucket_ids.push_back(static_cast<int32_t>(i));
  PAGODA_CHECK(!s.bucket_ids.empty());
  std::sort(s.bucket_ids.begin(), s.bucket_ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
  float last_kept = row[s.bucket_ids.front()];
  for (int32_t t : s.bucket_ids) {
    if (!(above < target)) break;
    last_kept = row[t];
    above += w[t];
  }
  if (!kept) {
    MaskBelow(row, last_kept);
    return false;
  }
  MaskBelowAndList(row, last_kept, *kept);
  return true;
}

float MaxLogit(std::span<const float> row) { return MaxOfFloats(row.data(), row.size()); }

int64_t Argmax(std::span<const float> row) {
  // One pass: a vectorized max per block; only a block that beats the best so
  // far is scanned for its first maximal index.
  constexpr size_t kArgBlock = 64;
  int64_t best = 0;
  float bv = row[0];
  for (size_t b = 0; b < row.size(); b += kArgBlock) {
    const size_t len = std::min(kArgBlock, row.size() - b);
    const float m = MaxOfFloats(row.data() + b, len);
    if (m > bv || b == 0) {
      for (size_t i = b; i < b + len; ++i) {
        if (row[i] == m) {
          best = static_cast<int64_t>(i);
          break;
        }
      }
      bv = m;
    }
  }
  return best;
}

int64_t DrawFromLogits(std::span<const float> row, double u, ProcessorScratch& s) {
  const size_t n = row.size();
  const float m = MaxOfFloats(row.data(), n);
  if (m == kNegInf) return -1;
  const size_t num_blocks = (n + kBlock - 1) / kBlock;
  s.weights.resize(n);
  s.block_mass.resize(num_blocks);
  float* w = s.weights.data();
  // Weights and per-block sums (four float lanes, then double): the order of
  // every sum is fixed, never dependent on the batch.
  double total = 0;
  for (size_t b = 0; b < num_blocks; ++b) {
    const size_t begin = b * kBlock, end = std::min(n, begin + kBlock);
    const double mass = ExpShifted(row.data() + begin, m, w + begin, end - begin);
    s.block_mass[b] = mass;
    total += mass;
  }
  // Inverse CDF: skip whole blocks, then walk inside the one holding the
  // target. acc adds the block sums in the same order as total, so the last
  // block with mass always holds a target below total.
  const double target = std::min(u * total, std::nextafter(total, 0.0));
  double acc = 0;
  for (size_t b = 0; b < num_blocks; ++b) {
    const double mass = s.block_mass[b];
    if (mass <= 0) continue;
    if (acc + mass <= target) {
      acc += mass;
      continue;
    }
    const size_t begin = b * kBlock, end = std::min(n, begin + kBlock);
    int64_t last_positive = -1;
    for (size_t i = begin; i < end; ++i) {
      if (w[i] <= 0) continue;
      acc += w[i];
      last_positive = static_cast<int64_t>(i);
      if (acc > target) return last_positive;
    }
    return last_positive;  // the walk's sum rounded a hair below the block's lane sum
  }
  return -1;  // unreachable: total > 0
}

}  // namespace pagoda::sample
