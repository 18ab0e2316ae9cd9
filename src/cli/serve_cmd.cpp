// `pagoda serve MODEL`: the OpenAI-compatible HTTP server. SIGINT/SIGTERM stop
// accepting connections, give in-flight requests a grace period, abort the
// rest and exit 0.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/cpu/kernel_info.h"
#include "cli/commands.h"
#include "cli/request_json.h"
#include "common/logging.h"
#include "engine/engine.h"
#include "server/api_server.h"
#include "server/http_server.h"

namespace pagoda::cli {

namespace {

struct ServeOptions {
  std::string model;
  std::string tokenizer;
  std::string host = "127.0.0.1";
  int port = 8000;
  std::vector<std::string> api_keys;
  std::vector<std::string> served_model_names;
  std::string chat_template;
  int max_model_len = 0;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int64_t kv_cache_memory = 0;
  int threads = 0;
  int block_size = 16;
  bool no_prefix_caching = false;
  bool fast_matmul = false;
  bool pin_threads = false;
  std::string quantization;
  std::string kv_cache_dtype = "auto";
  double shutdown_grace_s = 5;
  int64_t max_request_body_bytes = 16 << 20;
  double poll_interval_ms = 2;
  double stats_interval_s = 10;
  bool no_access_log = false;
  std::vector<std::string> unsupported;  // --unsupported FIELD: refuse a SamplingParams feature
};

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return 1;
}

Status ApplyUnsupported(const std::vector<std::string>& names, server::SupportedFeatures* f) {
  for (const auto& n : names) {
    if (n == "random_sampling") f->random_sampling = false;
    else if (n == "seed") f->seed = false;
    else if (n == "penalties") f->penalties = false;
    else if (n == "logit_bias") f->logit_bias = false;
    else if (n == "allowed_token_ids") f->allowed_token_ids = false;
    else if (n == "min_tokens") f->min_tokens = false;
    else if (n == "logprobs") f->logprobs = false;
    else return InvalidArgument("--unsupported: unknown feature '" + n + "'");
  }
  return Status::Ok();
}

int RunServe(const ServeOptions& o) {
  using Clock = std::chrono::steady_clock;
  // Signals go to one waiting thread: block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // One descriptor per connection: thousands of streams need more than the usual soft limit of 1024.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  std::string chat_template;
  if (!o.chat_template.empty()) {
    std::ifstream in(o.chat_template, std::ios::binary);
    if (!in) return Fail(NotFound("--chat-template: cannot read " + o.chat_template));
    std::stringstream ss;
    ss << in.rdbuf();
    chat_template = ss.str();
  }

  const auto t0 = Clock::now();
  engine::EngineConfig ec;
  ec.model = o.model;
  ec.tokenizer = o.tokenizer;
  ec.threads = o.threads;
  ec.block_size = o.block_size;
  ec.kv_cache_memory = o.kv_cache_memory;
  ec.max_num_seqs = o.max_num_seqs;
  ec.max_num_batched_tokens = o.max_num_batched_tokens;
  ec.max_model_len = o.max_model_len;
  ec.enable_prefix_caching = !o.no_prefix_caching;
  ec.fast_matmul = o.fast_matmul;
  ec.pin_threads = o.pin_threads;
  ec.quantization = o.quantization;
  ec.kv_cache_dtype = o.kv_cache_dtype;
  ec.log_stats = false;  // the server logs its own periodic engine line
  if (Status st = ec.Validate(); !st.ok()) return Fail(st);
  auto engine = engine::Engine::Create(ec);
  if (!engine.ok()) return Fail(engine.status());
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();

  server::ApiServerConfig ac;
  ac.api_keys = o.api_keys;
  ac.served_model_names = o.served_model_names;
  ac.model_path = o.model;
  ac.chat_template = chat_template;
  ac.stats_log_interval_s = o.stats_interval_s;
  if (Status st = ApplyUnsupported(o.unsupported, &ac.features); !st.ok()) return Fail(st);
  auto api = server::ApiServer::Create(engine->get(), ac);
  if (!api.ok()) return Fail(api.status());

  server::HttpServerOptions ho;
  ho.host = o.host;
  ho.port = o.port;
  ho.limits.max_body_bytes = static_cast<size_t>(o.max_request_body_bytes);
  ho.poll_interval_s = o.poll_interval_ms / 1000.0;
  ho.access_log = !o.no_access_log;
  server::ApiServer* a = api->get();
  auto http = std::make_unique<server::HttpServer>(ho, [a](server::HttpRequest& r) { return a->Handle(r); });
  if (Status st = http->Listen(); !st.ok()) return Fail(st);
  a->set_http_server(http.get());
  http->SetTicker(1.0, [a] { a->Tick(); });

  std::atomic<bool> loop_done{false};
  std::thread signals([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (loop_done) return;  // woken by main after the loop ended on its own
    PAGODA_LOG(Info) << "signal " << sig << ": shutting down (grace " << o.shutdown_grace_s << " s)";
    a->BeginShutdown();
    http->StopAccepting();
    (*engine)->Shutdown(o.shutdown_grace_s);  // the loop keeps delivering meanwhile
    http->Stop();
  });

  const std::string url = "http://" + (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
                          std::to_string(http->port());
  std::printf("pagoda serve: ready on %s, model %s (%s), loaded in %.3f s; %s\n", url.c_str(),
              a->model_names()[0].c_str(), o.model.c_str(), load_s, (*engine)->Describe().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "pagoda serve: %s\n", backend::CpuKernelSummary().c_str());
  http->Run();
  loop_done = true;
  pthread_kill(signals.native_handle(), SIGTERM);  // no-op if it already returned
  signals.join();
  http.reset();  // drops pending responses (aborting their requests) before the engine goes
  api->reset();
  (*engine)->Shutdown(0);
  std::printf("pagoda serve: stopped\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server");
  cmd->add_option("model", o->model, "Model directory (config.json + safetensors) or .gguf file")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "Directory with tokenizer.json (default: the model's own)");
  cmd->add_option("--host", o->host, "Address to listen on");
  cmd->add_option("--port", o->port, "Port (0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->api_keys, "Required as 'Authorization: Bearer KEY' (repeatable)")->take_all();
  cmd->add_option("--served-model-name", o->served_model_names, "Model names in the API (repeatable; first is default)");
  cmd->add_option("--chat-template", o->chat_template, "Jinja chat template file (default: the model's)");
  cmd->add_option("--max-model-len", o->max_model_len, "Context length (0: the model's, capped at 8192)");
  cmd->add_option("--max-num-seqs", o->max_num_seqs, "Most requests in a batch")->check(CLI::PositiveNumber);
  cmd->add_option("--max-num-batched-tokens", o->max_num_batched_tokens, "Token budget per step")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-cache-memory", o->kv_cache_memory, "KV cache bytes (0: a safe share of free RAM)");
  cmd->add_option("--threads", o->threads, "Kernel threads (0: all cores)");
  cmd->add_option("--block-size", o->block_size, "KV cache block size in tokens")->check(CLI::Range(1, 1024));
  cmd->add_flag("--no-prefix-caching", o->no_prefix_caching, "Disable prefix caching");
  cmd->add_flag("--fast-matmul", o->fast_matmul, kFastMatmulHelp);
  cmd->add_option("--quantization", o->quantization, kQuantizationHelp);
  cmd->add_option("--kv-cache-dtype", o->kv_cache_dtype, kKvCacheDtypeHelp);
  cmd->add_flag("--pin-threads", o->pin_threads, kPinThreadsHelp);
  cmd->add_option("--shutdown-grace", o->shutdown_grace_s, "Seconds in-flight requests get on SIGINT/SIGTERM");
  cmd->add_option("--max-request-body-bytes", o->max_request_body_bytes, "Larger bodies get 413")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--poll-interval-ms", o->poll_interval_ms, "How often streams are polled for engine output")
      ->check(CLI::Range(0.1, 100.0));
  cmd->add_option("--stats-interval", o->stats_interval_s, "Seconds between engine log lines (0: off)");
  cmd->add_flag("--no-access-log", o->no_access_log, "No per-request log lines");
  cmd->add_option("--unsupported", o->unsupported,
                  "Refuse a sampling feature with 400: random_sampling, seed, penalties, logit_bias, "
                  "allowed_token_ids, min_tokens, logprobs (repeatable)");
  cmd->callback([o] {
    int rc = RunServe(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pagoda::cli
