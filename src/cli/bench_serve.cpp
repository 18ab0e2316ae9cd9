// pagoda bench serve: streams requests to a running OpenAI-compatible server
// (ours or another, loopback only) with Poisson arrivals and an optional
// concurrency cap, and reports vLLM's serving metrics with its definitions
// (benchmarks/benchmark_serving.py, backend_request_func.py):
//   TTFT  send -> first streamed chunk that carries a choice
//   ITL   every gap between consecutive such chunks
//   E2EL  send -> last such chunk
//   TPOT  (E2EL - TTFT) / (output tokens - 1), requests with > 1 token only
// Output tokens come from the final usage chunk (stream_options.include_usage),
// else from re-encoding the text with --tokenizer, else the chunks are counted.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "cli/bench_commands.h"
#include "cli/bench_dataset.h"
#include "cli/bench_http.h"
#include "cli/bench_stats.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::cli {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct ServeBenchOptions {
  std::string base_url = "http://127.0.0.1:8000";
  std::string endpoint = "/v1/completions";
  std::string model;
  std::string tokenizer;
  std::string dataset;
  int64_t num_prompts = 100;
  int64_t input_len = 128;
  int64_t output_len = 128;
  bool output_len_given = false;
  double range_ratio = 0.0;
  int64_t vocab_size = 0;
  uint64_t seed = 0;
  double request_rate = INFINITY;
  int max_concurrency = 0;
  std::string prompt_format = "ids";
  bool ignore_eos = false;
  double temperature = 0.0;
  double timeout_s = 600;
  std::string api_key;
  std::string percentiles = "99";
  std::string json_path;
};

constexpr int kMaxThreads = 1024;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct SendContext {
  const ServeBenchOptions* o;
  BaseUrl url;
  bool chat;
  const tokenizer::Tokenizer* tok;
};

RequestResult SendOne(const SendContext& ctx, const BenchRequest& req) {
  const ServeBenchOptions& o = *ctx.o;
  json body;
  if (!o.model.empty()) body["model"] = o.model;
  if (ctx.chat) {
    body["messages"] = json::array({{{"role", "user"}, {"content", req.prompt_text}}});
    body["max_completion_tokens"] = req.output_len;
  } else {
    if (!req.prompt_text.empty()) body["prompt"] = req.prompt_text;
    else body["prompt"] = req.prompt_ids;
    body["max_tokens"] = req.output_len;
  }
  body["temperature"] = o.temperature;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  if (o.ignore_eos) body["ignore_eos"] = true;
  std::vector<std::pair<std::string, std::string>> headers;
  if (!o.api_key.empty()) headers.emplace_back("Authorization", "Bearer " + o.api_key);

  RequestResult r;
  r.prompt_len = req.prompt_len;
  bool first = false;
  int64_t chunks = 0, usage_tokens = -1;
  std::string text, stream_error;
  const auto st = Clock::now();
  double last = 0;
  auto on_line = [&](std::string_view line) {
    if (line.rfind("data:", 0) != 0) return;  // SSE comments, event names, blank separators
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line == "[DONE]") return;
    const double ts = Since(st);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      stream_error = std::string("bad JSON in the stream: ") + e.what();
      return;
    }
    if (!j.is_object()) return;
    if (j.contains("error")) stream_error = "error in the stream: " + j["error"].dump();
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      if (!first) {
        first = true;
        r.ttft = ts;
      } else {
        r.itl.push_back(ts - last);
      }
      last = ts;
      ++chunks;
      const json& c = j["choices"][0];
      if (c.contains("text") && c["text"].is_string()) text += c["text"].get<std::string>();
      else if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") && c["delta"]["content"].is_string())
        text += c["delta"]["content"].get<std::string>();
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer()) usage_tokens = u["completion_tokens"].get<int64_t>();
      if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) r.prompt_len = u["prompt_tokens"].get<int64_t>();
    }
  };
  auto res = HttpPostLines(ctx.url, o.endpoint, body.dump(), headers, o.timeout_s, on_line);
  if (!res.ok()) {
    r.error = res.status().message();
  } else if (res->status_code != 200) {
    r.error = "HTTP " + std::to_string(res->status_code) + ": " + res->error_body.substr(0, 300);
  } else if (!stream_error.empty()) {
    r.error = stream_error;
  } else if (!first) {
    r.error = "never received a chunk with a choice";
  } else {
    r.success = true;
  }
  r.latency = last;
  if (usage_tokens >= 0) r.output_tokens = usage_tokens;
  else if (ctx.tok) r.output_tokens = static_cast<int64_t>(ctx.tok->Encode(text, false).size());
  else r.output_tokens = chunks;
  return r;
}

Result<std::vector<double>> ParsePercentiles(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    char* end = nullptr;
    const double p = std::strtod(tok.c_str(), &end);
    if (end == tok.c_str() || *end != '\0' || p < 0 || p > 100) return InvalidArgument("--metric-percentiles: bad value '" + tok + "'");
    out.push_back(p);
  }
  if (out.empty()) return InvalidArgument("--metric-percentiles: empty");
  return out;
}

std::string PctName(double p) {
  char b[32];
  std::snprintf(b, sizeof(b), "%g", p);
  return b;
}

void PrintSection(const char* title, const char* name, const Summary& s) {
  std::printf("%s\n", title);
  std::printf("%-40s%-10.2f\n", (std::string("Mean ") + name + " (ms):").c_str(), s.mean);
  std::printf("%-40s%-10.2f\n", (std::string("Median ") + name + " (ms):").c_str(), s.median);
  for (const auto& [p, v] : s.percentiles) std::printf("%-40s%-10.2f\n", ("P" + PctName(p) + " " + name + " (ms):").c_str(), v);
}

void AddSummary(json* j, const std::string& name, const Summary& s) {
  (*j)["mean_" + name + "_ms"] = s.mean;
  (*j)["median_" + name + "_ms"] = s.median;
  (*j)["std_" + name + "_ms"] = s.std;
  for (const auto& [p, v] : s.percentiles) (*j)["p" + PctName(p) + "_" + name + "_ms"] = v;
}

int RunServeBench(const ServeBenchOptions& o) {
  auto url = ParseBaseUrl(o.base_url);
  if (!url.ok()) return BenchFail(url.status());
  auto pcts = ParsePercentiles(o.percentiles);
  if (!pcts.ok()) return BenchFail(pcts.status());
  if (o.prompt_format != "ids" && o.prompt_format != "text") return BenchFail(InvalidArgument("--prompt-format must be ids or text"));
  const bool chat = o.endpoint.find("chat/completions") != std::string::npos;

  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (!o.tokenizer.empty()) {
    auto t = LoadBenchTokenizer(o.tokenizer);
    if (!t.ok()) return BenchFail(t.status());
    tok = std::move(*t);
  }
  std::vector<BenchRequest> reqs;
  if (o.dataset.empty()) {
    const int64_t vocab = o.vocab_size > 0 ? o.vocab_size : tok ? tok->vocab_size() : 0;
    if (vocab <= 0) return BenchFail(InvalidArgument("random prompts need --tokenizer or --vocab-size to draw token ids from"));
    reqs = RandomRequests(o.num_prompts, o.input_len, o.output_len, o.range_ratio, vocab, o.seed);
    if (o.prompt_format == "text" || chat) {
      if (!tok) return BenchFail(InvalidArgument("text prompts from random ids need --tokenizer to decode them"));
      for (BenchRequest& r : reqs) r.prompt_text = tok->Decode(r.prompt_ids, false);
    }
  } else {
    DatasetFileOptions d;
    d.num_prompts = o.num_prompts;
    d.output_len = o.output_len;
    d.force_output_len = o.output_len_given;
    auto loaded = LoadDatasetFile(o.dataset, tok.get(), d);
    if (!loaded.ok()) return BenchFail(loaded.status());
    reqs = std::move(*loaded);
    if (o.prompt_format == "text" || chat)
      for (BenchRequest& r : reqs)
        if (r.prompt_text.empty()) {
          if (!tok) return BenchFail(InvalidArgument("text prompts from prompt_ids need --tokenizer"));
          r.prompt_text = tok->Decode(r.prompt_ids, false);
        }
  }
  const int64_t n = static_cast<int64_t>(reqs.size());
  const std::vector<double> arrivals = PoissonArrivals(n, o.request_rate, o.seed);
  const int64_t workers = std::min<int64_t>(n, o.max_concurrency > 0 ? o.max_concurrency : kMaxThreads);
  std::fprintf(stderr, "%lld requests to %s%s, request rate %s, max concurrency %s\n", static_cast<long long>(n), o.base_url.c_str(),
               o.endpoint.c_str(), std::isinf(o.request_rate) ? "inf" : PctName(o.request_rate).c_str(),
               o.max_concurrency > 0 ? std::to_string(o.max_concurrency).c_str() : "none");

  SendContext ctx{&o, *url, chat, tok.get()};
  std::vector<RequestResult> results(reqs.size());
  std::atomic<int64_t> next{0}, done{0};
  const auto start = Clock::now();
  // Requests are claimed in arrival order; a worker waits for its request's send
  // time, so at most `workers` are in flight (vLLM's semaphore).
  auto work = [&] {
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= n) return;
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals[i])));
      results[i] = SendOne(ctx, reqs[i]);
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int64_t w = 0; w < workers; ++w) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  const double duration = Since(start);

  const ServeMetrics m = ComputeServeMetrics(results, duration, *pcts);
  std::printf("============ Serving Benchmark Result ============\n");
  std::printf("%-40s%-10lld\n", "Successful requests:", static_cast<long long>(m.completed));
  std::printf("%-40s%-10lld\n", "Failed requests:", static_cast<long long>(m.failed));
  if (o.max_concurrency > 0) std::printf("%-40s%-10d\n", "Maximum request concurrency:", o.max_concurrency);
  std::printf("%-40s%-10.2f\n", "Benchmark duration (s):", m.duration_s);
  std::printf("%-40s%-10lld\n", "Total input tokens:", static_cast<long long>(m.total_input));
  std::printf("%-40s%-10lld\n", "Total generated tokens:", static_cast<long long>(m.total_output));
  std::printf("%-40s%-10.2f\n", "Request throughput (req/s):", m.request_throughput);
  std::printf("%-40s%-10.2f\n", "Output token throughput (tok/s):", m.output_throughput);
  std::printf("%-40s%-10.2f\n", "Total Token throughput (tok/s):", m.total_token_throughput);
  PrintSection("---------------Time to First Token----------------", "TTFT", m.ttft_ms);
  PrintSection("-----Time per Output Token (excl. 1st token)------", "TPOT", m.tpot_ms);
  PrintSection("---------------Inter-token Latency----------------", "ITL", m.itl_ms);
  PrintSection("----------------End-to-end Latency----------------", "E2EL", m.e2el_ms);
  std::printf("==================================================\n");
  for (const RequestResult& r : results)
    if (!r.success) {
      std::fprintf(stderr, "first failure: %s\n", r.error.c_str());
      break;
    }

  if (!o.json_path.empty()) {
    json j = {{"base_url", o.base_url},
              {"endpoint", o.endpoint},
              {"model", o.model},
              {"num_prompts", n},
              {"request_rate", std::isinf(o.request_rate) ? json("inf") : json(o.request_rate)},
              {"max_concurrency", o.max_concurrency > 0 ? json(o.max_concurrency) : json(nullptr)},
              {"duration", m.duration_s},
              {"completed", m.completed},
              {"failed", m.failed},
              {"total_input_tokens", m.total_input},
              {"total_output_tokens", m.total_output},
              {"request_throughput", m.request_throughput},
              {"output_throughput", m.output_throughput},
              {"total_token_throughput", m.total_token_throughput}};
    AddSummary(&j, "ttft", m.ttft_ms);
    AddSummary(&j, "tpot", m.tpot_ms);
    AddSummary(&j, "itl", m.itl_ms);
    AddSummary(&j, "e2el", m.e2el_ms);
    json input_lens = json::array(), output_lens = json::array(), ttfts = json::array(), itls = json::array(), errors = json::array();
    for (const RequestResult& r : results) {
      input_lens.push_back(r.prompt_len);
      output_lens.push_back(r.success ? r.output_tokens : 0);
      ttfts.push_back(r.ttft);
      itls.push_back(r.itl);
      errors.push_back(r.error);
    }
    j["input_lens"] = input_lens;
    j["output_lens"] = output_lens;
    j["ttfts"] = ttfts;
    j["itls"] = itls;
    j["errors"] = errors;
    Status s = WriteJsonFile(o.json_path, j);
    if (!s.ok()) return BenchFail(s);
  }
  return m.completed > 0 ? 0 : 1;
}

}  // namespace

void AddBenchServeCommand(CLI::App* bench) {
  auto o = std::make_shared<ServeBenchOptions>();
  if (const char* key = std::getenv("OPENAI_API_KEY")) o->api_key = key;
  CLI::App* cmd = bench->add_subcommand("serve", "Online serving benchmark against a running OpenAI-compatible server (loopback only)");
  cmd->add_option("--base-url", o->base_url, "Server, http://HOST[:PORT] (loopback addresses only)");
  cmd->add_option("--endpoint", o->endpoint, "/v1/completions or /v1/chat/completions");
  cmd->add_option("--model", o->model, "Model name sent in each request");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer.json, its directory or a .gguf: for text prompts and counting output tokens");
  cmd->add_option("--dataset", o->dataset, "JSONL or JSON array of {prompt} | {prompt_ids} | ShareGPT {conversations} (default: random)");
  cmd->add_option("--num-prompts", o->num_prompts, "Requests")->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--input-len", o->input_len, "Random prompts: mean prompt tokens")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  CLI::Option* out = cmd->add_option("--output-len", o->output_len, "max_tokens (random mean; overrides a dataset's lengths)")
                         ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--range-ratio", o->range_ratio, "Random lengths uniform in [len x (1 - r), len x (1 + r)]")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--vocab-size", o->vocab_size, "Random token ids are drawn from [0, N) (default: the tokenizer's size)");
  cmd->add_option("--seed", o->seed, "Seed of the prompts and of the arrival times");
  cmd->add_option("--request-rate", o->request_rate, "Poisson arrivals, requests/s (inf = all at once)");
  cmd->add_option("--max-concurrency", o->max_concurrency, "Requests in flight at most (0 = no cap beyond 1024 threads)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_option("--prompt-format", o->prompt_format, "ids (token-id prompts) or text (decoded with --tokenizer)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Send ignore_eos so every request runs to max_tokens");
  cmd->add_option("--temperature", o->temperature);
  cmd->add_option("--timeout", o->timeout_s, "Seconds one request may take")->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--api-key", o->api_key, "Bearer token (default: $OPENAI_API_KEY)");
  cmd->add_option("--metric-percentiles", o->percentiles, "Comma-separated percentiles to report");
  cmd->add_option("--json", o->json_path, "Write all figures (and per-request samples) to this JSON file");
  cmd->callback([o, out] {
    o->output_len_given = out->count() > 0;
    int rc = RunServeBench(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
