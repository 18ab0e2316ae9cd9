#include "cli/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pagoda::cli {

double Percentile(std::span<const double> values, double p) {
  if (values.empty()) return 0;
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  p = std::clamp(p, 0.0, 100.0);
  const double rank = static_cast<double>(v.size() - 1) * p / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

double Mean(std::span<const double> values) {
  if (values.empty()) return 0;
  double s = 0;
  for (double x : values) s += x;
  return s / static_cast<double>(values.size());
}

double Median(std::span<const double> values) { return Percentile(values, 50); }

double StdDev(std::span<const double> values) {
  if (values.empty()) return 0;
  const double m = Mean(values);
  double s = 0;
  for (double x : values) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(values.size()));
}

Summary Summarize(std::span<const double> values, std::span<const double> percentiles) {
  Summary s;
  s.mean = Mean(values);
  s.median = Median(values);
  s.std = StdDev(values);
  for (double p : percentiles) s.percentiles.emplace_back(p, Percentile(values, p));
  return s;
}

BenchRng::BenchRng(uint64_t seed) : gen_(seed) {}

double BenchRng::Uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

int64_t BenchRng::UniformInt(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
  // Rejection keeps every value equally likely.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x = gen_();
  while (x >= limit) x = gen_();
  return lo + static_cast<int64_t>(x % range);
}

double BenchRng::Exponential(double rate) { return -std::log1p(-Uniform()) / rate; }

std::vector<double> PoissonArrivals(int64_t n, double rate, uint64_t seed) {
  std::vector<double> t(static_cast<size_t>(std::max<int64_t>(n, 0)), 0.0);
  if (!(rate > 0) || std::isinf(rate)) return t;
  BenchRng rng(seed);
  for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] + rng.Exponential(rate);
  return t;
}

std::vector<int64_t> RandomLengths(int64_t n, int64_t len, double range_ratio, BenchRng& rng) {
  const double r = std::max(range_ratio, 0.0);
  const int64_t lo = std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(len) * (1 - r))));
  const int64_t hi = std::max<int64_t>(lo, static_cast<int64_t>(std::ceil(static_cast<double>(len) * (1 + r))));
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (auto& x : out) x = rng.UniformInt(lo, hi);
  return out;
}

bool Tpot(const RequestResult& r, double* tpot) {
  if (r.output_tokens <= 1) return false;
  *tpot = (r.latency - r.ttft) / static_cast<double>(r.output_tokens - 1);
  return true;
}

ServeMetrics ComputeServeMetrics(std::span<const RequestResult> results, double duration_s, std::span<const double> percentiles) {
  ServeMetrics m;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const RequestResult& r : results) {
    if (!r.success) {
      ++m.failed;
      continue;
    }
    ++m.completed;
    m.total_input += r.prompt_len;
    m.total_output += r.output_tokens;
    double t = 0;
    if (Tpot(r, &t)) tpot.push_back(t * 1e3);
    for (double g : r.itl) itl.push_back(g * 1e3);
    ttft.push_back(r.ttft * 1e3);
    e2el.push_back(r.latency * 1e3);
  }
  m.duration_s = duration_s;
  if (duration_s > 0) {
    m.request_throughput = static_cast<double>(m.completed) / duration_s;
    m.output_throughput = static_cast<double>(m.total_output) / duration_s;
    m.total_token_throughput = static_cast<double>(m.total_input + m.total_output) / duration_s;
  }
  m.ttft_ms = Summarize(ttft, percentiles);
  m.tpot_ms = Summarize(tpot, percentiles);
  m.itl_ms = Summarize(itl, percentiles);
  m.e2el_ms = Summarize(e2el, percentiles);
  return m;
}

}  // namespace pagoda::cli
