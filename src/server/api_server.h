#pragma once
// ApiServer: the OpenAI-compatible routes over one Engine. Parses and
// validates requests (bad input never reaches the engine), renders chat
// templates, tokenizes, starts engine requests and turns their outputs into
// OpenAI responses; also /health, /version, /metrics, /v1/models, /tokenize,
// /detokenize. Auth by API keys on /v1/*, /tokenize and /detokenize.
//
// Threads: Handle() and Tick() run on the HTTP loop thread; BeginShutdown()
// from any thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "engine/engine.h"
#include "server/api_error.h"
#include "server/auth.h"
#include "server/generation_response.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_request.h"

namespace pagoda::server {

struct ApiServerConfig {
  std::vector<std::string> api_keys;            // empty: no auth
  std::vector<std::string> served_model_names;  // the first is the default; empty: the model path
  std::string model_path;
  std::string chat_template;  // template source; empty: the tokenizer's own
  SupportedFeatures features;
  double stats_log_interval_s = 10;  // the periodic engine line; 0: off
  std::string version = "0.1.0";
};

class ApiServer {
 public:
  // engine must outlive the ApiServer.
  static Result<std::unique_ptr<ApiServer>> Create(engine::Engine* engine, ApiServerConfig config);

  RouteResult Handle(HttpRequest& request);
  // About once a second, on the loop thread: metrics upkeep, the periodic log line.
  void Tick();
  // New generation requests get 503 from now on.
  void BeginShutdown() { shutting_down_ = true; }
  // The HTTP server whose connection counts /metrics shows (may be null).
  void set_http_server(const HttpServer* http) { http_ = http; }

  const std::vector<std::string>& model_names() const { return config_.served_model_names; }

 private:
  // Sampling values from the model's generation_config.json, for unset request fields.
  sample::SamplingParams SamplingDefaults() const;
  ApiServer(engine::Engine* engine, ApiServerConfig config);

  RouteResult Completions(const HttpRequest& request);
  RouteResult ChatCompletions(const HttpRequest& request);
  RouteResult Tokenize(const HttpRequest& request);
  RouteResult Detokenize(const HttpRequest& request);
  HttpResponse Models() const;
  HttpResponse Health() const;
  HttpResponse MetricsText();

  // Checks the model name; empty means the default.
  std::optional<ApiError> CheckModel(const std::string& model) const;
  Result<std::string> RenderChat(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                 bool continue_final_message, const nlohmann::ordered_json& kwargs,
                                 const std::optional<std::string>& template_override) const;
  // Checks lengths and starts n engine requests per prompt, then the response.
  RouteResult Generate(const GenerationRequest& request, Endpoint endpoint,
                       std::vector<std::vector<int32_t>> prompts, std::vector<std::string> echo_texts,
                       bool logprobs);
  std::string ResponseModelName(const std::string& requested) const;

  engine::Engine* engine_;
  ApiServerConfig config_;
  ApiKeyAuth auth_;
  std::optional<chat::ChatTemplate> chat_template_;
  std::string chat_template_error_;
  Metrics metrics_;
  const HttpServer* http_ = nullptr;
  std::atomic<bool> shutting_down_{false};
  int64_t created_;
  // The periodic line's previous figures.
  std::chrono::steady_clock::time_point last_log_;
  engine::EngineStats last_stats_;
};

RouteResult ErrorResult(const ApiError& error);

}  // namespace pagoda::server
