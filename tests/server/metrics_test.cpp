#include "server/metrics.h"

#include <gtest/gtest.h>

namespace pagoda::server {
namespace {

TEST(Metrics, Buckets125) {
  EXPECT_EQ(Buckets125(512), (std::vector<double>{1, 2, 5, 10, 20, 50, 100, 200, 500}));
  EXPECT_EQ(Buckets125(1), (std::vector<double>{1}));
}

TEST(Metrics, HistogramIsCumulative) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 3.0, 100.0}) h.Observe(v);
  std::string out;
  h.Render(&out, "x", "help", "m=\"a\"");
  EXPECT_EQ(out,
            "# HELP x help\n# TYPE x histogram\n"
            "x_bucket{m=\"a\",le=\"1\"} 2\nx_bucket{m=\"a\",le=\"2\"} 3\nx_bucket{m=\"a\",le=\"5\"} 4\n"
            "x_bucket{m=\"a\",le=\"+Inf\"} 5\nx_sum{m=\"a\"} 106\nx_count{m=\"a\"} 5\n");
}

TEST(Metrics, RenderHasVllmNamesUnderPagodaPrefix) {
  Metrics m("my \"model\"", 512);
  engine::EngineStats::Latencies l;
  l.ttft = {0.003};
  l.e2e = {0.4, 0.6};
  m.AddLatencies(l);
  engine::EngineStats s;
  s.num_running = 3;
  s.num_waiting = 1;
  s.kv_cache_usage = 0.25;
  s.requests_finished_abort = 7;
  s.prompt_tokens_total = 11;
  const std::string t = m.Render(s, ServerStats{5, 2});
  const std::string lab = "{model_name=\"my \\\"model\\\"\"}";
  EXPECT_NE(t.find("pagoda:num_requests_running" + lab + " 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("pagoda:num_requests_waiting" + lab + " 1\n"), std::string::npos);
  EXPECT_NE(t.find("pagoda:kv_cache_usage_perc" + lab + " 0.25\n"), std::string::npos);
  EXPECT_NE(t.find("pagoda:prompt_tokens_total" + lab + " 11\n"), std::string::npos);
  EXPECT_NE(t.find("pagoda:request_success_total{model_name=\"my \\\"model\\\"\",finished_reason=\"abort\"} 7\n"),
            std::string::npos);
  EXPECT_NE(t.find("pagoda:time_to_first_token_seconds_bucket{model_name=\"my \\\"model\\\"\",le=\"0.005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("pagoda:e2e_request_latency_seconds_count" + lab + " 2\n"), std::string::npos);
  EXPECT_NE(t.find("# TYPE pagoda:generation_tokens_total counter"), std::string::npos);
  EXPECT_NE(t.find("pagoda:http_connections" + lab + " 5\n"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::server
