#pragma once
// Helpers for the sampler tests: random logits, direct (naive, double precision)
// reference computations, and a chi-square goodness-of-fit test.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace pagoda::sample::testing {

inline std::vector<float> RandomLogits(uint32_t seed, size_t vocab, double stddev = 3.0) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> d(0.0, stddev);
  std::vector<float> v(vocab);
  for (float& x : v) x = static_cast<float>(d(gen));
  return v;
}

// softmax in double; -inf entries get probability 0.
inline std::vector<double> Softmax(const std::vector<float>& l) {
  double m = -HUGE_VAL;
  for (float v : l) m = std::max(m, static_cast<double>(v));
  std::vector<double> p(l.size());
  double s = 0;
  for (size_t i = 0; i < l.size(); ++i) s += p[i] = std::isinf(l[i]) && l[i] < 0 ? 0.0 : std::exp(l[i] - m);
  for (double& x : p) x /= s;
  return p;
}

// Regularized upper incomplete gamma Q(a, x) (Numerical Recipes' gser / gcf).
inline double GammaQ(double a, double x) {
  if (x <= 0) return 1.0;
  const double gln = std::lgamma(a);
  if (x < a + 1) {
    double ap = a, sum = 1.0 / a, del = sum;
    for (int n = 0; n < 10000; ++n) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * 1e-15) break;
    }
    return 1.0 - sum * std::exp(-x + a * std::log(x) - gln);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - gln) * h;
}

// P(chi2_dof >= stat).
inline double ChiSquarePValue(double stat, int dof) { return GammaQ(dof / 2.0, stat / 2.0); }

struct ChiSquareResult {
  double stat = 0;
  int dof = 0;
  double p_value = 1;
  int64_t impossible = 0;  // draws of tokens with probability 0
};

// Pearson's test of counts against probs (n = sum of counts). Tokens are taken
// from the most to the least probable and merged into bins of expected count
// >= 5 (the usual validity rule); zero-probability tokens must never be drawn.
inline ChiSquareResult ChiSquare(const std::vector<int64_t>& counts, const std::vector<double>& probs) {
  ChiSquareResult r;
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  std::vector<size_t> order(probs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  std::vector<std::pair<double, double>> bins;  // expected, observed
  double e = 0, o = 0;
  for (size_t i : order) {
    if (probs[i] == 0) {
      r.impossible += counts[i];
      continue;
    }
    e += probs[i] * static_cast<double>(n);
    o += static_cast<double>(counts[i]);
    if (e >= 5) {
      bins.push_back({e, o});
      e = o = 0;
    }
  }
  if (e > 0) {
    if (bins.empty()) bins.push_back({e, o});
    else {
      bins.back().first += e;
      bins.back().second += o;
    }
  }
  for (const auto& [ex, ob] : bins) r.stat += (ob - ex) * (ob - ex) / ex;
  r.dof = static_cast<int>(bins.size()) - 1;
  r.p_value = r.dof > 0 ? ChiSquarePValue(r.stat, r.dof) : 1.0;
  return r;
}

// Each chi-square test below fails with probability 1e-4 when the sampler is
// right (for a random choice of seeds; the committed seeds are fixed, so a run
// is deterministic).
inline constexpr double kChiSquareAlpha = 1e-4;

}  // namespace pagoda::sample::testing
