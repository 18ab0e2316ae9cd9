#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace pagoda::server {

namespace {

std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as v (0.005, not 0.0050000000000000001).
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void Line(std::string* out, const std::string& name, const std::string& labels, double v) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(Num(v)).append("\n");
}

void Head(std::string* out, const std::string& name, const std::string& type, const std::string& help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(std::string* out, const std::string& name, const std::string& help,
                       const std::string& labels) const {
  Head(out, name, "histogram", help);
  uint64_t cum = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    Line(out, name + "_bucket", labels + sep + "le=\"" + Num(bounds_[i]) + "\"", static_cast<double>(cum));
  }
  cum += counts_.back();
  Line(out, name + "_bucket", labels + sep + "le=\"+Inf\"", static_cast<double>(cum));
  Line(out, name + "_sum", labels, sum_);
  Line(out, name + "_count", labels, static_cast<double>(count_));
}

std::vector<double> Buckets125(int64_t max) {
  std::vector<double> b;
  for (int64_t e = 1; e <= max; e *= 10)
    for (int64_t m : {1, 2, 5})
      if (m * e <= max) b.push_back(static_cast<double>(m * e));
  return b;
}

// Bucket bounds as in vLLM's metrics (v1/metrics/loggers.py).
Metrics::Metrics(std::string model_name, int max_model_len)
    : labels_("model_name=\"" + EscapeLabel(model_name) + "\""),
      ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
             80.0, 160.0, 640.0, 2560.0}),
      itl_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}),
      e2e_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
            960.0, 1920.0, 7680.0}),
      queue_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
              960.0, 1920.0, 7680.0}),
      prompt_tokens_(Buckets125(std::max(1, max_model_len))),
      generation_tokens_(Buckets125(std::max(1, max_model_len))) {}

void Metrics::AddLatencies(const engine::EngineStats::Latencies& l) {
  for (double v : l.ttft) ttft_.Observe(v);
  for (double v : l.itl) itl_.Observe(v);
  for (double v : l.e2e) e2e_.Observe(v);
  for (double v : l.queue) queue_.Observe(v);
  for (double v : l.prompt_tokens) prompt_tokens_.Observe(v);
  for (double v : l.generation_tokens) generation_tokens_.Observe(v);
}

std::string Metrics::Render(const engine::EngineStats& s, const ServerStats& server) const {
  std::string out;
  auto gauge = [&](const std::string& name, const std::string& help, double v) {
    Head(&out, name, "gauge", help);
    Line(&out, name, labels_, v);
  };
  auto counter = [&](const std::string& name, const std::string& help, double v) {
    Head(&out, name, "counter", help);
    Line(&out, name, labels_, v);
  };
  gauge("pagoda:num_requests_running", "Number of requests in model execution batches.", s.num_running);
  gauge("pagoda:num_requests_waiting", "Number of requests waiting to be processed.", s.num_waiting);
  gauge("pagoda:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kv_cache_usage);
  gauge("pagoda:kv_cache_blocks_in_use", "KV-cache blocks held by requests.", s.kv_blocks_in_use);
  gauge("pagoda:kv_cache_blocks_total", "KV-cache blocks in the pool.", s.num_gpu_blocks);
  counter("pagoda:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
          static_cast<double>(s.prefix_cache_queries));
  counter("pagoda:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
          static_cast<double>(s.prefix_cache_hits));
  counter("pagoda:num_preemptions_total", "Cumulative number of preemptions from the engine.",
          static_cast<double>(s.num_preemptions));
  counter("pagoda:prompt_tokens_total", "Number of prefill tokens processed.",
          static_cast<double>(s.prompt_tokens_total));
  counter("pagoda:generation_tokens_total", "Number of generation tokens processed.",
          static_cast<double>(s.generation_tokens_total));
  Head(&out, "pagoda:request_success_total", "counter", "Count of successfully processed requests.");
  Line(&out, "pagoda:request_success_total", labels_ + ",finished_reason=\"stop\"",
       static_cast<double>(s.requests_finished_stop));
  Line(&out, "pagoda:request_success_total", labels_ + ",finished_reason=\"length\"",
       static_cast<double>(s.requests_finished_length));
  Line(&out, "pagoda:request_success_total", labels_ + ",finished_reason=\"abort\"",
       static_cast<double>(s.requests_finished_abort));
  counter("pagoda:request_failure_total", "Requests that finished with an error.",
          static_cast<double>(s.requests_failed));
  ttft_.Render(&out, "pagoda:time_to_first_token_seconds", "Histogram of time to first token in seconds.", labels_);
  itl_.Render(&out, "pagoda:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", labels_);
  e2e_.Render(&out, "pagoda:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", labels_);
  queue_.Render(&out, "pagoda:request_queue_time_seconds",
                "Histogram of time spent in WAITING phase for request.", labels_);
  prompt_tokens_.Render(&out, "pagoda:request_prompt_tokens", "Number of prefill tokens processed.", labels_);
  generation_tokens_.Render(&out, "pagoda:request_generation_tokens", "Number of generation tokens processed.",
                            labels_);
  gauge("pagoda:http_connections", "Open HTTP connections.", server.num_connections);
  gauge("pagoda:http_requests_in_flight", "HTTP requests waiting on the engine.", server.num_pending);
  return out;
}

}  // namespace pagoda::server
