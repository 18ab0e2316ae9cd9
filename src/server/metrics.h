#pragma once
// Prometheus text exposition of the engine's figures with vLLM's metric names
// under the pagoda: prefix. Histograms accumulate the latency samples that the
// engine hands over (Engine::DrainLatencies); the server is their only reader.
// Not thread-safe: the HTTP loop thread owns it.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace pagoda::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // "# HELP", "# TYPE" and the _bucket/_sum/_count lines.
  void Render(std::string* out, const std::string& name, const std::string& help, const std::string& labels) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); one extra for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// 1, 2, 5, 10, 20, 50, ... up to max (vLLM's build_1_2_5_buckets).
std::vector<double> Buckets125(int64_t max);

// Figures of the HTTP layer itself.
struct ServerStats {
  int num_connections = 0;
  int num_pending = 0;
};

class Metrics {
 public:
  Metrics(std::string model_name, int max_model_len);
  void AddLatencies(const engine::EngineStats::Latencies& l);
  std::string Render(const engine::EngineStats& s, const ServerStats& server) const;

 private:
  std::string labels_;  // model_name="..."
  Histogram ttft_, itl_, e2e_, queue_, prompt_tokens_, generation_tokens_;
};

// Escapes a Prometheus label value.
std::string EscapeLabel(const std::string& v);

}  // namespace pagoda::server
