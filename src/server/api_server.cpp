#include "server/api_server.h"

#include "sample/generation_defaults.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/logging.h"
#include "server/generation_response.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::server {

using nlohmann::ordered_json;

RouteResult ErrorResult(const ApiError& error) {
  RouteResult r;
  r.response = HttpResponse::Json(error.status, error.ToJson());
  return r;
}

namespace {

RouteResult JsonResult(int status, const Json& body) {
  RouteResult r;
  r.response = HttpResponse::Json(status, DumpJson(body));
  return r;
}

}  // namespace

ApiServer::ApiServer(engine::Engine* engine, ApiServerConfig config)
    : engine_(engine),
      config_(std::move(config)),
      auth_(config_.api_keys),
      metrics_(config_.served_model_names.empty() ? config_.model_path : config_.served_model_names[0],
               engine->max_model_len()),
      created_(static_cast<int64_t>(std::time(nullptr))),
      last_log_(std::chrono::steady_clock::now()) {
  engine_->RecordLatencies();  // /metrics and the stats log read them
}

Result<std::unique_ptr<ApiServer>> ApiServer::Create(engine::Engine* engine, ApiServerConfig config) {
  if (config.served_model_names.empty()) config.served_model_names.push_back(config.model_path);
  std::unique_ptr<ApiServer> s(new ApiServer(engine, std::move(config)));
  const tokenizer::Tokenizer* tok = engine->tokenizer();
  std::string source = s->config_.chat_template;
  if (source.empty() && tok) source = tok->chat_template();
  if (!source.empty()) {
    auto t = chat::ChatTemplate::Parse(source);
    if (!t.ok()) {
      if (!s->config_.chat_template.empty()) return t.status().WithContext("--chat-template");
      // The model's own template is broken: serve completions, refuse chat with the reason.
      s->chat_template_error_ = "the model's chat template does not parse: " + t.status().message();
      PAGODA_LOG(Warning) << s->chat_template_error_;
    } else {
      s->chat_template_ = std::move(*t);
    }
  } else {
    s->chat_template_error_ = "the model has no chat template; start the server with --chat-template FILE";
  }
  s->last_stats_ = engine->Stats();
  return s;
}

RouteResult ApiServer::Handle(HttpRequest& req) {
  struct Route {
    const char* path;
    const char* method;
    bool auth;
  };
  static const Route kRoutes[] = {
      {"/v1/completions", "POST", true}, {"/v1/chat/completions", "POST", true}, {"/v1/models", "GET", true},
      {"/tokenize", "POST", true},       {"/detokenize", "POST", true},          {"/health", "GET", false},
      {"/version", "GET", false},        {"/metrics", "GET", false},
  };
  const Route* route = nullptr;
  for (const auto& r : kRoutes)
    if (req.path == r.path) route = &r;
  const bool model_card = req.path.rfind("/v1/models/", 0) == 0;
  if (!route && !model_card) {
    // Unknown routes under /v1 still need a key, so they cannot be used to probe.
    if (req.path.rfind("/v1/", 0) == 0 && !auth_.Check(req.Header("authorization")))
      return ErrorResult(MakeApiError(401, "Unauthorized: a valid API key is required (Authorization: Bearer KEY)"));
    return ErrorResult(MakeApiError(404, "Not found: " + req.method + " " + req.path));
  }
  const char* method = route ? route->method : "GET";
  if (req.method != method) {
    RouteResult r = ErrorResult(MakeApiError(405, "Method " + req.method + " not allowed on " + req.path + "; use " + method));
    r.response.headers.emplace_back("Allow", method);
    return r;
  }
  if ((model_card || route->auth) && !auth_.Check(req.Header("authorization"))) {
    RouteResult r = ErrorResult(MakeApiError(401, "Unauthorized: a valid API key is required (Authorization: Bearer KEY)"));
    r.response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (model_card) {
    const std::string id = req.path.substr(std::string("/v1/models/").size());
    Json models = Json::parse(Models().body);
    for (const auto& m : models["data"])
      if (m["id"] == id) return JsonResult(200, m);
    return ErrorResult(MakeApiError(404, "The model `" + id + "` does not exist.", "model"));
  }
  const std::string path = route->path;
  if (path == "/v1/completions") return Completions(req);
  if (path == "/v1/chat/completions") return ChatCompletions(req);
  if (path == "/tokenize") return Tokenize(req);
  if (path == "/detokenize") return Detokenize(req);
  RouteResult r;
  if (path == "/v1/models") r.response = Models();
  else if (path == "/health") r.response = Health();
  else if (path == "/version") r.response = HttpResponse::Json(200, DumpJson(Json{{"version", config_.version}}));
  else r.response = MetricsText();
  return r;
}

HttpResponse ApiServer::Models() const {
  Json data = Json::array();
  for (const auto& name : config_.served_model_names)
    data.push_back(Json{{"id", name},
                        {"object", "model"},
                        {"created", created_},
                        {"owned_by", "pagoda"},
                        {"root", config_.model_path},
                        {"parent", nullptr},
                        {"max_model_len", engine_->max_model_len()},
                        {"permission", Json::array()}});
  return HttpResponse::Json(200, DumpJson(Json{{"object", "list"}, {"data", data}}));
}

HttpResponse ApiServer::Health() const {
  if (engine_->alive() && !shutting_down_) return HttpResponse{200, {}, ""};
  const ApiError e = MakeApiError(503, shutting_down_ ? "the server is shutting down" : "the engine is not running");
  return HttpResponse::Json(503, e.ToJson());
}

HttpResponse ApiServer::MetricsText() {
  metrics_.AddLatencies(engine_->DrainLatencies());
  ServerStats ss;
  if (http_) ss = {http_->num_connections(), http_->num_pending()};
  return HttpResponse::Text(200, metrics_.Render(engine_->Stats(), ss), "text/plain; version=0.0.4; charset=utf-8");
}

void ApiServer::Tick() {
  metrics_.AddLatencies(engine_->DrainLatencies());
  if (config_.stats_log_interval_s <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double dt = std::chrono::duration<double>(now - last_log_).count();
  if (dt < config_.stats_log_interval_s) return;
  const engine::EngineStats s = engine_->Stats();
  const int64_t prompt = s.prompt_tokens_total - last_stats_.prompt_tokens_total;
  const int64_t gen = s.generation_tokens_total - last_stats_.generation_tokens_total;
  const int64_t q = s.prefix_cache_queries - last_stats_.prefix_cache_queries;
  const int64_t h = s.prefix_cache_hits - last_stats_.prefix_cache_hits;
  const bool idle = prompt == 0 && gen == 0 && s.num_running == 0 && s.num_waiting == 0;
  if (!idle) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "engine: running %d, waiting %d, KV cache %.1f%% (%d/%d blocks), prefix cache hit rate %.1f%%, "
                  "prompt %.1f tok/s, generation %.1f tok/s, preemptions %lld",
                  s.num_running, s.num_waiting, 100.0 * s.kv_cache_usage, s.kv_blocks_in_use, s.num_gpu_blocks,
                  q > 0 ? 100.0 * static_cast<double>(h) / static_cast<double>(q) : 0.0,
                  static_cast<double>(prompt) / dt, static_cast<double>(gen) / dt,
                  static_cast<long long>(s.num_preemptions));
    PAGODA_LOG(Info) << line;
  }
  last_stats_ = s;
  last_log_ = now;
}

std::optional<ApiError> ApiServer::CheckModel(const std::string& model) const {
  if (model.empty()) return std::nullopt;
  for (const auto& n : config_.served_model_names)
    if (n == model) return std::nullopt;
  return MakeApiError(404, "The model `" + model + "` does not exist.", "model");
}

std::string ApiServer::ResponseModelName(const std::string& requested) const {
  return requested.empty() ? config_.served_model_names[0] : requested;
}

Result<std::string> ApiServer::RenderChat(const ordered_json& messages, bool add_generation_prompt,
                                          bool continue_final_message, const ordered_json& kwargs,
                                          const std::optional<std::string>& template_override) const {
  std::optional<chat::ChatTemplate> own;
  const chat::ChatTemplate* tmpl = chat_template_ ? &*chat_template_ : nullptr;
  if (template_override) {
    auto t = chat::ChatTemplate::Parse(*template_override);
    if (!t.ok()) return InvalidArgument("chat_template: " + t.status().message());
    own = std::move(*t);
    tmpl = &*own;
  }
  if (!tmpl) return InvalidArgument(chat_template_error_);
  chat::ChatTemplate::Options opts;
  opts.add_generation_prompt = add_generation_prompt;
  opts.continue_final_message = continue_final_message;
  if (const tokenizer::Tokenizer* tok = engine_->tokenizer()) {
    opts.bos_token = tok->bos_token();
    opts.eos_token = tok->eos_token();
  }
  opts.extra = kwargs;
  return tmpl->Render(messages, opts);
}

sample::SamplingParams ApiServer::SamplingDefaults() const {
  const auto gc = engine_->generation_config();
  return gc ? sample::DefaultsFromGenerationConfig(*gc) : sample::SamplingParams{};
}

RouteResult ApiServer::Completions(const HttpRequest& req) {
  ordered_json body;
  if (auto e = ParseJsonBody(req.body, &body)) return ErrorResult(*e);
  CompletionRequest r;
  r.params = SamplingDefaults();  // generation_config.json fills what the request leaves unset
  if (auto e = ParseCompletionRequest(body, config_.features, &r)) return ErrorResult(*e);
  if (auto e = CheckModel(r.model)) return ErrorResult(*e);
  const tokenizer::Tokenizer* tok = engine_->tokenizer();
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> echo;
  for (const auto& p : r.prompts) {
    if (p.is_tokens) {
      prompts.push_back(p.token_ids);
      if (r.echo) echo.push_back(tok ? tok->Decode(p.token_ids, false) : std::string());
    } else {
      if (!tok) return ErrorResult(BadRequest("the model has no tokenizer: send the prompt as token ids", "prompt"));
      prompts.push_back(tok->Encode(p.text, r.add_special_tokens));
      if (r.echo) echo.push_back(p.text);
    }
  }
  return Generate(r, Endpoint::kCompletions, std::move(prompts), std::move(echo), r.params.logprobs.has_value());
}

RouteResult ApiServer::ChatCompletions(const HttpRequest& req) {
  ordered_json body;
  if (auto e = ParseJsonBody(req.body, &body)) return ErrorResult(*e);
  ChatCompletionRequest r;
  r.params = SamplingDefaults();
  if (auto e = ParseChatCompletionRequest(body, config_.features, &r)) return ErrorResult(*e);
  if (auto e = CheckModel(r.model)) return ErrorResult(*e);
  const tokenizer::Tokenizer* tok = engine_->tokenizer();
  if (!tok) return ErrorResult(BadRequest("the model has no tokenizer, so chat is not available", "messages"));
  auto text = RenderChat(r.messages, r.add_generation_prompt, r.continue_final_message, r.chat_template_kwargs,
                         r.chat_template);
  if (!text.ok()) return ErrorResult(BadRequest(text.status().message(), "messages"));
  std::vector<std::vector<int32_t>> prompts{tok->Encode(*text, r.add_special_tokens)};
  return Generate(r, Endpoint::kChatCompletions, std::move(prompts), {}, r.logprobs);
}

RouteResult ApiServer::Generate(const GenerationRequest& r, Endpoint endpoint,
                                std::vector<std::vector<int32_t>> prompts, std::vector<std::string> echo_texts,
                                bool logprobs) {
  if (shutting_down_ || !engine_->alive())
    return ErrorResult(MakeApiError(503, shutting_down_ ? "the server is shutting down" : "the engine is not running"));
  const tokenizer::Tokenizer* tok = engine_->tokenizer();
  const int64_t vocab = tok ? tok->vocab_size() : engine_->model_config().vocab_size;
  sample::SamplingParams base = r.params;
  if (!r.bad_words.empty()) {
    if (!tok) return ErrorResult(BadRequest("bad_words needs the model's tokenizer", "bad_words"));
    base.bad_words_ids = tokenizer::BadWordsIds(*tok, r.bad_words);
  }
  if (auto e = ValidateSamplingParams(base, vocab)) return ErrorResult(*e);
  const int max_len = engine_->max_model_len();
  std::vector<ChoiceState> choices;
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    std::vector<int32_t>& ids = prompts[pi];
    if (ids.empty()) return ErrorResult(BadRequest("the prompt is empty (no tokens)", "prompt"));
    for (int32_t t : ids)
      if (t < 0 || t >= vocab)
        return ErrorResult(BadRequest("token id " + std::to_string(t) + " is outside the vocabulary (size " +
                                          std::to_string(vocab) + ")",
                                      "prompt"));
    int truncate = 0;
    if (r.truncate_prompt_tokens) truncate = *r.truncate_prompt_tokens < 0 ? max_len : *r.truncate_prompt_tokens;
    const int num_prompt = truncate > 0 ? std::min<int>(truncate, static_cast<int>(ids.size())) : static_cast<int>(ids.size());
    sample::SamplingParams params = base;
    params.n = 1;
    if (num_prompt >= max_len)
      return ErrorResult(BadRequest("This model's maximum context length is " + std::to_string(max_len) +
                                        " tokens. However, your request has " + std::to_string(num_prompt) +
                                        " input tokens. Please reduce the length of the input.",
                                    endpoint == Endpoint::kChatCompletions ? "messages" : "prompt"));
    if (params.max_tokens && num_prompt + *params.max_tokens > max_len) {
      if (r.max_tokens_set)
        return ErrorResult(BadRequest("This model's maximum context length is " + std::to_string(max_len) +
                                          " tokens. However, you requested " +
                                          std::to_string(num_prompt + *params.max_tokens) + " tokens (" +
                                          std::to_string(num_prompt) + " in the input, " +
                                          std::to_string(*params.max_tokens) +
                                          " in the completion). Please reduce the length of the input or completion.",
                                      "max_tokens"));
      params.max_tokens = max_len - num_prompt;  // a default, not the client's: fit it
      params.min_tokens = std::min(params.min_tokens, *params.max_tokens);
    }
    // One engine request per prompt: its n choices (best_of, beams) fork its KV blocks.
    params.n = r.n;
    engine::AddRequestOptions opts;
    opts.cache_salt = r.cache_salt;
    opts.truncate_prompt_tokens = truncate;
    auto added = engine_->AddRequest(ids, params, opts);
    if (!added.ok()) {
      ApiError e = ApiErrorFromStatus(added.status());
      if (!engine_->alive()) e = MakeApiError(503, added.status().message());
      return ErrorResult(e);  // choices already started are dropped (aborted) with `choices`
    }
    std::shared_ptr<engine::RequestHandle> handle = std::move(*added);
    for (int i = 0; i < r.n; ++i) {
      ChoiceState c;
      c.index = static_cast<int>(pi) * r.n + i;
      c.first_of_prompt = i == 0;
      c.handle = handle;
      c.sub_index = i;
      c.num_prompt_tokens = num_prompt;
      if (pi < echo_texts.size()) c.echo_text = echo_texts[pi];
      choices.push_back(std::move(c));
    }
  }
  GenerationOptions go;
  go.endpoint = endpoint;
  go.model_name = ResponseModelName(r.model);
  go.stream = r.stream;
  go.stream_options = r.stream_options;
  go.logprobs = logprobs;
  go.stop_token_ids = r.params.stop_token_ids;
  RouteResult result;
  result.pending = std::make_unique<GenerationResponse>(std::move(go), tok, std::move(choices));
  return result;
}

RouteResult ApiServer::Tokenize(const HttpRequest& req) {
  ordered_json body;
  if (auto e = ParseJsonBody(req.body, &body)) return ErrorResult(*e);
  TokenizeRequest r;
  if (auto e = ParseTokenizeRequest(body, &r)) return ErrorResult(*e);
  if (auto e = CheckModel(r.model)) return ErrorResult(*e);
  const tokenizer::Tokenizer* tok = engine_->tokenizer();
  if (!tok) return ErrorResult(BadRequest("the model has no tokenizer", "prompt"));
  std::string text = r.prompt;
  if (r.is_chat) {
    auto t = RenderChat(r.messages, r.add_generation_prompt, r.continue_final_message, r.chat_template_kwargs,
                        std::nullopt);
    if (!t.ok()) return ErrorResult(BadRequest(t.status().message(), "messages"));
    text = std::move(*t);
  }
  const std::vector<int32_t> ids = tok->Encode(text, r.add_special_tokens);
  Json out = {{"count", ids.size()}, {"max_model_len", engine_->max_model_len()}, {"tokens", ids}, {"token_strs", nullptr}};
  if (r.return_token_strs) {
    Json strs = Json::array();
    for (int32_t id : ids) strs.push_back(tok->IdToToken(id));
    out["token_strs"] = strs;
  }
  return JsonResult(200, out);
}

RouteResult ApiServer::Detokenize(const HttpRequest& req) {
  ordered_json body;
  if (auto e = ParseJsonBody(req.body, &body)) return ErrorResult(*e);
  DetokenizeRequest r;
  if (auto e = ParseDetokenizeRequest(body, &r)) return ErrorResult(*e);
  if (auto e = CheckModel(r.model)) return ErrorResult(*e);
  const tokenizer::Tokenizer* tok = engine_->tokenizer();
  if (!tok) return ErrorResult(BadRequest("the model has no tokenizer", "tokens"));
  for (int32_t t : r.tokens)
    if (t >= tok->vocab_size())
      return ErrorResult(BadRequest("token id " + std::to_string(t) + " is outside the vocabulary (size " +
                                        std::to_string(tok->vocab_size()) + ")",
                                    "tokens"));
  return JsonResult(200, Json{{"prompt", tok->Decode(r.tokens, false)}});
}

}  // namespace pagoda::server
