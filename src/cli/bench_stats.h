#pragma once
// Statistics for `pagoda bench`: percentiles, vLLM's serving metrics (TTFT,
// TPOT, ITL, E2EL with the definitions of vllm/benchmarks/benchmark_serving.py),
// seeded Poisson arrivals and vLLM-style random request lengths. Pure functions
// and plain data: unit-tested in tests/cli/bench_stats_test.cpp.

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace pagoda::cli {

// numpy.percentile's default ("linear"): rank (n - 1) * p / 100, interpolated
// between the two neighbouring order statistics. p in [0, 100]; 0 for no values
// (as vLLM's `np.percentile(xs or 0, p)`).
double Percentile(std::span<const double> values, double p);
double Mean(std::span<const double> values);    // 0 for no values
double Median(std::span<const double> values);  // Percentile(values, 50)
double StdDev(std::span<const double> values);  // population (numpy's ddof=0)

struct Summary {
  double mean = 0, median = 0, std = 0;
  std::vector<std::pair<double, double>> percentiles;  // (p, value)
};
Summary Summarize(std::span<const double> values, std::span<const double> percentiles);

// A deterministic generator (std::mt19937_64 is fully specified by the standard,
// unlike the std distributions, so a seed gives the same draws everywhere).
class BenchRng {
 public:
  explicit BenchRng(uint64_t seed);
  double Uniform();                              // [0, 1), 53 random bits
  int64_t UniformInt(int64_t lo, int64_t hi);    // [lo, hi], inclusive
  double Exponential(double rate);               // mean 1 / rate, by inversion
 private:
  std::mt19937_64 gen_;
};

// Send times (seconds from the start) of n requests: the first at 0, then gaps
// drawn from Exp(rate), i.e. a Poisson process of `rate` requests/s, as vLLM's
// get_request (burstiness 1). rate <= 0 or infinite: all at 0 ("inf").
std::vector<double> PoissonArrivals(int64_t n, double rate, uint64_t seed);

// vLLM's random dataset lengths: uniform integers in
// [floor(len * (1 - range_ratio)), ceil(len * (1 + range_ratio))], at least 1.
std::vector<int64_t> RandomLengths(int64_t n, int64_t len, double range_ratio, BenchRng& rng);

// One streamed request as the client saw it (seconds; vLLM's RequestFuncOutput).
struct RequestResult {
  bool success = false;
  std::string error;
  int64_t prompt_len = 0;
  int64_t output_tokens = 0;  // usage.completion_tokens, else the chunks counted
  double ttft = 0;            // send -> first chunk with a choice
  double latency = 0;         // send -> last chunk with a choice (E2EL)
  std::vector<double> itl;    // every gap between consecutive chunks after the first
};

// (latency - ttft) / (output_tokens - 1); only defined for output_tokens > 1.
bool Tpot(const RequestResult& r, double* tpot);

struct ServeMetrics {
  int64_t completed = 0, failed = 0;
  int64_t total_input = 0, total_output = 0;
  double duration_s = 0;
  double request_throughput = 0;  // completed / duration
  double output_throughput = 0;   // output tokens / duration
  double total_token_throughput = 0;
  Summary ttft_ms, tpot_ms, itl_ms, e2el_ms;
};
// vLLM's calculate_metrics: failed requests count only as failed; TPOT only
// over requests with more than one output token; ITL pools every gap.
ServeMetrics ComputeServeMetrics(std::span<const RequestResult> results, double duration_s,
                                 std::span<const double> percentiles);

}  // namespace pagoda::cli
