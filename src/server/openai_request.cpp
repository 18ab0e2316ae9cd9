#include "server/openai_request.h"

#include <cmath>
#include <limits>

#include "server/json_fields.h"

namespace pagoda::server {

using nlohmann::ordered_json;

namespace {

constexpr int kMaxN = 128;
constexpr int kMaxLogprobs = 20;  // vLLM's default max_logprobs
constexpr double kInf = std::numeric_limits<double>::infinity();

// Fields that would change the output and that pagoda does not implement.
bool RefuseUnsupported(JsonFields& f) {
  f.Refuse("guided_json", "structured outputs are not implemented");
  f.Refuse("guided_regex", "structured outputs are not implemented");
  f.Refuse("guided_choice", "structured outputs are not implemented");
  f.Refuse("guided_grammar", "structured outputs are not implemented");
  f.Refuse("structured_outputs", "structured outputs are not implemented");
  f.Refuse("logits_processors", "custom logits processors are not implemented");
  f.Refuse("prompt_embeds", "prompt embeddings are not implemented");
  f.Refuse("lora_request", "LoRA adapters are not implemented");
  if (const auto* rf = f.Get("response_format")) {
    if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
      return f.Fail("'response_format' must be an object with a string 'type'", "response_format");
    const std::string type = (*rf)["type"].get<std::string>();
    if (type != "text")
      return f.Fail("'response_format' of type '" + type + "' is not supported (structured outputs are not implemented)",
                    "response_format");
  }
  return f.ok();
}

bool ParseStreamOptions(JsonFields& f, GenerationRequest* r) {
  f.Bool("stream", &r->stream);
  const auto* so = f.Get("stream_options");
  if (!so) return f.ok();
  if (!so->is_object()) return f.Fail("'stream_options' must be an object, got " + std::string(JsonTypeName(*so)), "stream_options");
  if (!r->stream) return f.Fail("'stream_options' can only be given when 'stream' is true", "stream_options");
  JsonFields sf(*so);
  sf.Bool("include_usage", &r->stream_options.include_usage);
  sf.Bool("continuous_usage_stats", &r->stream_options.continuous_usage_stats);
  if (!sf.ok()) return f.Fail(sf.error()->message, "stream_options." + sf.error()->param.value_or(""));
  return true;
}

// The sampling fields both endpoints share. `default_max_tokens` applies when
// neither max_tokens nor max_completion_tokens is given.
bool ParseSampling(JsonFields& f, const SupportedFeatures& features, std::optional<int> default_max_tokens,
                   GenerationRequest* r) {
  sample::SamplingParams& p = r->params;
  f.String("model", &r->model);
  f.String("user", &r->user);
  if (!ParseStreamOptions(f, r)) return false;
  f.Int("n", 1, kMaxN, &r->n);
  // best_of and beam search run in the engine, sharing the prompt's KV blocks;
  // their choices are known only at the end, so they do not stream (as in vLLM).
  f.Int("best_of", 1, kMaxN, &p.best_of);
  if (f.ok() && p.best_of && *p.best_of < r->n) return f.Fail("'best_of' must be at least 'n'", "best_of");
  f.Bool("use_beam_search", &p.use_beam_search);
  f.Number("length_penalty", -kInf, kInf, &p.length_penalty);
  f.Bool("early_stopping", &p.early_stopping);
  if (f.ok() && r->stream && (p.use_beam_search || (p.best_of && *p.best_of > r->n)))
    return f.Fail(p.use_beam_search ? "'use_beam_search' cannot be streamed" : "'best_of' greater than 'n' cannot be streamed",
                  p.use_beam_search ? "use_beam_search" : "best_of");
  std::optional<int> max_tokens, max_completion_tokens;
  f.Int("max_tokens", 1, std::numeric_limits<int>::max(), &max_tokens);
  f.Int("max_completion_tokens", 1, std::numeric_limits<int>::max(), &max_completion_tokens);
  if (max_completion_tokens) max_tokens = max_completion_tokens;
  r->max_tokens_set = max_tokens.has_value();
  p.max_tokens = max_tokens ? max_tokens : default_max_tokens;

  f.Number("temperature", 0, kInf, &p.temperature);
  f.Number("top_p", 0, 1, &p.top_p, /*open_min=*/true);
  f.Int("top_k", -1, std::numeric_limits<int>::max(), &p.top_k);
  f.Number("min_p", 0, 1, &p.min_p);
  f.Number("presence_penalty", -2, 2, &p.presence_penalty);
  f.Number("frequency_penalty", -2, 2, &p.frequency_penalty);
  f.Number("repetition_penalty", 0, kInf, &p.repetition_penalty, /*open_min=*/true);
  f.Int("min_tokens", 0, std::numeric_limits<int>::max(), &p.min_tokens);
  if (f.ok() && p.max_tokens && r->max_tokens_set && p.min_tokens > *p.max_tokens)
    f.Fail("'min_tokens' (" + std::to_string(p.min_tokens) + ") must not exceed max_tokens (" +
               std::to_string(*p.max_tokens) + ")",
           "min_tokens");
  f.Bool("ignore_eos", &p.ignore_eos);
  f.StringOrList("stop", &p.stop);
  f.StringOrList("bad_words", &r->bad_words);
  for (const auto& s : p.stop)
    if (s.empty()) f.Fail("'stop' must not contain an empty string", "stop");
  f.IntList("stop_token_ids", 0, std::numeric_limits<int32_t>::max(), &p.stop_token_ids);
  f.Bool("include_stop_str_in_output", &p.include_stop_str_in_output);
  f.Bool("skip_special_tokens", &p.skip_special_tokens);
  f.Bool("spaces_between_special_tokens", &p.spaces_between_special_tokens);
  f.IntList("allowed_token_ids", 0, std::numeric_limits<int32_t>::max(), &p.allowed_token_ids);
  if (f.Has("allowed_token_ids") && f.ok() && p.allowed_token_ids.empty())
    f.Fail("'allowed_token_ids' must not be empty", "allowed_token_ids");
  std::optional<int64_t> seed;
  f.Int("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &seed);
  if (seed) p.seed = static_cast<uint64_t>(*seed);
  if (const auto* lb = f.Get("logit_bias")) {
    if (!lb->is_object()) return f.Fail("'logit_bias' must be an object of token id -> bias, got " + std::string(JsonTypeName(*lb)), "logit_bias");
    for (const auto& [key, value] : lb->items()) {
      int64_t id = -1;
      size_t used = 0;
      try {
        id = std::stoll(key, &used);
      } catch (...) {
        used = 0;
      }
      if (used != key.size() || key.empty() || id < 0 || id > std::numeric_limits<int32_t>::max())
        return f.Fail("'logit_bias' key '" + key + "' is not a token id", "logit_bias");
      if (!value.is_number()) return f.Fail("'logit_bias' values must be numbers", "logit_bias");
      const double b = value.get<double>();
      if (!(b >= -100 && b <= 100))
        return f.Fail("'logit_bias' values must be in [-100, 100], got " + std::to_string(b), "logit_bias");
      p.logit_bias[static_cast<int32_t>(id)] = b;
    }
  }
  std::optional<int> truncate;
  f.Int("truncate_prompt_tokens", -1, std::numeric_limits<int>::max(), &truncate);
  if (truncate && *truncate == 0) f.Fail("'truncate_prompt_tokens' must be -1 or at least 1", "truncate_prompt_tokens");
  r->truncate_prompt_tokens = truncate;
  f.String("cache_salt", &r->cache_salt);
  if (f.Has("cache_salt") && r->cache_salt.empty()) f.Fail("'cache_salt' must not be empty", "cache_salt");
  if (f.Has("prompt_logprobs")) {
    std::optional<int> pl;
    f.Int("prompt_logprobs", -1, kMaxLogprobs, &pl);
    if (f.ok() && pl && *pl < 0) return f.Fail("'prompt_logprobs' of -1 (the whole vocabulary) is not supported; ask for at most " +
                                                  std::to_string(kMaxLogprobs), "prompt_logprobs");
    if (f.ok() && pl && r->stream) return f.Fail("'prompt_logprobs' cannot be streamed yet", "prompt_logprobs");
    p.prompt_logprobs = pl;
  }
  if (!RefuseUnsupported(f)) return false;
  if (!f.ok()) return false;

  // What the engine cannot do yet: refuse, naming the field.
  auto refuse = [&](bool asked, bool supported, const char* field) {
    if (asked && !supported && f.ok()) f.Fail(std::string("'") + field + "' is not supported by this server yet", field);
  };
  refuse(!p.greedy(), features.random_sampling, "temperature");
  refuse(f.Has("top_p") && p.top_p != 1.0, features.random_sampling, "top_p");
  refuse(f.Has("top_k") && p.top_k > 0, features.random_sampling, "top_k");
  refuse(f.Has("min_p") && p.min_p > 0, features.random_sampling, "min_p");
  refuse(p.seed.has_value(), features.seed, "seed");
  refuse(p.presence_penalty != 0, features.penalties, "presence_penalty");
  refuse(p.frequency_penalty != 0, features.penalties, "frequency_penalty");
  refuse(p.repetition_penalty != 1, features.penalties, "repetition_penalty");
  refuse(!p.logit_bias.empty(), features.logit_bias, "logit_bias");
  refuse(!p.allowed_token_ids.empty(), features.allowed_token_ids, "allowed_token_ids");
  refuse(p.min_tokens > 0, features.min_tokens, "min_tokens");
  refuse(p.prompt_logprobs.has_value(), features.prompt_logprobs, "prompt_logprobs");
  return f.ok();
}

// One prompt as token ids, or false (not a list of integers).
bool AsTokenList(const ordered_json& v, std::vector<int32_t>* out) {
  if (!v.is_array() || v.empty()) return false;
  out->clear();
  for (const auto& e : v) {
    if (!e.is_number_integer()) return false;
    const int64_t x = e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX) ? INT64_MAX
                                                                                                       : e.get<int64_t>();
    if (x < 0 || x > std::numeric_limits<int32_t>::max()) return false;
    out->push_back(static_cast<int32_t>(x));
  }
  return true;
}

bool ParsePrompt(JsonFields& f, std::vector<PromptInput>* prompts) {
  const auto* v = f.Get("prompt");
  if (!v) return f.Fail("'prompt' is required", "prompt");
  const char* kShape = "'prompt' must be a string, a list of strings, a list of token ids or a list of token-id lists";
  if (v->is_string()) {
    prompts->push_back({false, v->get<std::string>(), {}});
    return true;
  }
  if (!v->is_array()) return f.Fail(std::string(kShape) + ", got " + JsonTypeName(*v), "prompt");
  if (v->empty()) return f.Fail("'prompt' must not be empty", "prompt");
  PromptInput p;
  if ((*v)[0].is_number()) {
    if (!AsTokenList(*v, &p.token_ids)) return f.Fail("'prompt' has a token id that is not a non-negative integer", "prompt");
    p.is_tokens = true;
    prompts->push_back(std::move(p));
    return true;
  }
  for (const auto& e : *v) {
    if (e.is_string()) {
      prompts->push_back({false, e.get<std::string>(), {}});
    } else if (e.is_array()) {
      PromptInput t;
      t.is_tokens = true;
      if (e.empty()) return f.Fail("'prompt' has an empty token-id list", "prompt");
      if (!AsTokenList(e, &t.token_ids)) return f.Fail("'prompt' has a token id that is not a non-negative integer", "prompt");
      prompts->push_back(std::move(t));
    } else {
      return f.Fail(std::string(kShape) + ", found " + JsonTypeName(e) + " in the list", "prompt");
    }
  }
  return true;
}

}  // namespace

std::optional<ApiError> ParseJsonBody(const std::string& body, ordered_json* out) {
  try {
    *out = ordered_json::parse(body);
  } catch (const ordered_json::parse_error& e) {
    return BadRequest(std::string("Invalid JSON in the request body: ") + e.what(), "body");
  }
  if (!out->is_object())
    return BadRequest(std::string("The request body must be a JSON object, got ") + JsonTypeName(*out), "body");
  return std::nullopt;
}

std::optional<ApiError> ParseCompletionRequest(const ordered_json& body, const SupportedFeatures& features,
                                               CompletionRequest* out) {
  JsonFields f(body);
  ParsePrompt(f, &out->prompts);
  if (!f.ok()) return f.error();
  // OpenAI's default for the legacy completions endpoint.
  if (!ParseSampling(f, features, 16, out)) return f.error();
  f.Bool("echo", &out->echo);
  f.Bool("add_special_tokens", &out->add_special_tokens);
  std::optional<int> logprobs;
  f.Int("logprobs", 0, kMaxLogprobs, &logprobs);
  if (logprobs && !features.logprobs && f.ok()) f.Fail("'logprobs' is not supported by this server yet", "logprobs");
  out->params.logprobs = logprobs;
  std::string suffix;
  f.String("suffix", &suffix);
  if (!suffix.empty()) f.Fail("'suffix' is not supported", "suffix");
  if (f.ok() && out->echo && logprobs)
    f.Fail("'echo' with 'logprobs' needs prompt logprobs, which are not supported", "echo");
  if (!f.ok()) return f.error();
  return std::nullopt;
}

std::optional<ApiError> NormalizeMessages(const ordered_json& messages, ordered_json* out) {
  if (!messages.is_array())
    return BadRequest(std::string("'messages' must be a list of message objects, got ") + JsonTypeName(messages), "messages");
  if (messages.empty()) return BadRequest("'messages' must not be empty", "messages");
  ordered_json result = ordered_json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string at = "messages[" + std::to_string(i) + "]";
    const auto& m = messages[i];
    if (!m.is_object()) return BadRequest("'" + at + "' must be an object, got " + JsonTypeName(m), at);
    if (!m.contains("role") || !m["role"].is_string()) return BadRequest("'" + at + ".role' must be a string", at + ".role");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer")
      return BadRequest("'" + at + ".role' is '" + role +
                            "'; expected one of system, developer, user, assistant, tool",
                        at + ".role");
    ordered_json msg = m;
    const bool has_content = m.contains("content") && !m["content"].is_null();
    if (!has_content) {
      if (role != "assistant" || !m.contains("tool_calls"))
        return BadRequest("'" + at + ".content' is required", at + ".content");
    } else if (m["content"].is_array()) {
      std::string text;
      const auto& parts = m["content"];
      for (size_t j = 0; j < parts.size(); ++j) {
        const std::string pat = at + ".content[" + std::to_string(j) + "]";
        const auto& part = parts[j];
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
          return BadRequest("'" + pat + "' must be an object with a string 'type'", pat);
        const std::string type = part["type"].get<std::string>();
        if (type != "text")
          return BadRequest("'" + pat + ".type' is '" + type + "': only text content is supported", pat + ".type");
        if (!part.contains("text") || !part["text"].is_string())
          return BadRequest("'" + pat + ".text' must be a string", pat + ".text");
        if (j) text += "\n";
        text += part["text"].get<std::string>();
      }
      msg["content"] = text;
    } else if (!m["content"].is_string()) {
      return BadRequest("'" + at + ".content' must be a string or a list of content parts, got " +
                            JsonTypeName(m["content"]),
                        at + ".content");
    }
    if (m.contains("name") && !m["name"].is_null() && !m["name"].is_string())
      return BadRequest("'" + at + ".name' must be a string", at + ".name");
    result.push_back(std::move(msg));
  }
  *out = std::move(result);
  return std::nullopt;
}

std::optional<ApiError> ParseChatCompletionRequest(const ordered_json& body, const SupportedFeatures& features,
                                                   ChatCompletionRequest* out) {
  JsonFields f(body);
  const auto* messages = f.Get("messages");
  if (!messages) return BadRequest("'messages' is required", "messages");
  if (auto e = NormalizeMessages(*messages, &out->messages)) return e;
  if (!ParseSampling(f, features, std::nullopt, out)) return f.error();
  f.Bool("logprobs", &out->logprobs);
  std::optional<int> top_logprobs;
  f.Int("top_logprobs", 0, kMaxLogprobs, &top_logprobs);
  if (f.ok() && top_logprobs && !out->logprobs) f.Fail("'top_logprobs' needs 'logprobs' to be true", "top_logprobs");
  if (f.ok() && out->logprobs && !features.logprobs) f.Fail("'logprobs' is not supported by this server yet", "logprobs");
  if (out->logprobs) out->params.logprobs = top_logprobs.value_or(0);
  f.Bool("add_generation_prompt", &out->add_generation_prompt);
  f.Bool("continue_final_message", &out->continue_final_message);
  f.Bool("add_special_tokens", &out->add_special_tokens);
  if (f.ok() && out->add_generation_prompt && out->continue_final_message && f.Has("add_generation_prompt"))
    f.Fail("'add_generation_prompt' and 'continue_final_message' cannot both be true", "continue_final_message");
  if (out->continue_final_message) out->add_generation_prompt = false;
  if (const auto* kw = f.Get("chat_template_kwargs")) {
    if (!kw->is_object()) f.Fail("'chat_template_kwargs' must be an object", "chat_template_kwargs");
    else out->chat_template_kwargs = *kw;
  }
  if (f.Has("chat_template")) {
    std::string t;
    f.String("chat_template", &t);
    out->chat_template = t;
  }
  // Tools: only "none" keeps the output a plain message.
  std::string tool_choice = "none";
  if (const auto* tc = f.Get("tool_choice")) {
    if (!tc->is_string() || tc->get<std::string>() != "none")
      f.Fail("'tool_choice' other than \"none\" is not supported (tool calling is not implemented)", "tool_choice");
  } else if (f.Has("tools") && f.Get("tools")->is_array() && !f.Get("tools")->empty()) {
    f.Fail("'tools' is not supported (tool calling is not implemented); send tool_choice \"none\" to ignore them",
           "tools");
  }
  f.Refuse("functions", "function calling is not implemented");
  f.Refuse("function_call", "function calling is not implemented");
  bool echo = false;
  f.Bool("echo", &echo);
  if (echo) f.Fail("'echo' is not supported for chat completions", "echo");
  if (const auto* mod = f.Get("modalities")) {
    if (!mod->is_array()) f.Fail("'modalities' must be a list", "modalities");
    else
      for (const auto& m : *mod)
        if (!m.is_string() || m.get<std::string>() != "text") f.Fail("only the 'text' modality is supported", "modalities");
  }
  f.Refuse("audio", "audio output is not implemented");
  f.Refuse("prediction", "predicted outputs are not implemented");
  if (!f.ok()) return f.error();
  return std::nullopt;
}

std::optional<ApiError> ParseTokenizeRequest(const ordered_json& body, TokenizeRequest* out) {
  JsonFields f(body);
  f.String("model", &out->model);
  if (const auto* m = f.Get("messages")) {
    out->is_chat = true;
    out->add_special_tokens = false;
    if (auto e = NormalizeMessages(*m, &out->messages)) return e;
    f.Bool("add_generation_prompt", &out->add_generation_prompt);
    f.Bool("continue_final_message", &out->continue_final_message);
    if (out->continue_final_message) out->add_generation_prompt = false;
    if (const auto* kw = f.Get("chat_template_kwargs")) {
      if (!kw->is_object()) f.Fail("'chat_template_kwargs' must be an object", "chat_template_kwargs");
      else out->chat_template_kwargs = *kw;
    }
  } else if (f.Has("prompt")) {
    f.String("prompt", &out->prompt);
  } else {
    return BadRequest("either 'prompt' or 'messages' is required", "prompt");
  }
  f.Bool("add_special_tokens", &out->add_special_tokens);
  f.Bool("return_token_strs", &out->return_token_strs);
  if (!f.ok()) return f.error();
  return std::nullopt;
}

std::optional<ApiError> ParseDetokenizeRequest(const ordered_json& body, DetokenizeRequest* out) {
  JsonFields f(body);
  f.String("model", &out->model);
  if (!f.Has("tokens")) return BadRequest("'tokens' is required", "tokens");
  f.IntList("tokens", 0, std::numeric_limits<int32_t>::max(), &out->tokens);
  if (!f.ok()) return f.error();
  return std::nullopt;
}

std::optional<ApiError> ValidateSamplingParams(const sample::SamplingParams& params, int64_t vocab_size) {
  Status st = params.Validate(vocab_size);
  if (st.ok()) return std::nullopt;
  // SamplingParams::Validate starts its messages with the field name.
  const std::string& msg = st.message();
  std::string field = msg.substr(0, msg.find(' '));
  if (field == "bad_words") field = "bad_words";
  return BadRequest(msg, field);
}

}  // namespace pagoda::server
