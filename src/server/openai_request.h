#pragma once
// Typed OpenAI requests (with vLLM's extra fields) and their parsers. Parsing
// checks types and ranges and refuses fields that would change the output but
// are not supported; everything that needs the model (token ids in the
// vocabulary, prompt length, the chat template) is checked later, by the
// routes. Any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sample/sampling_params.h"
#include "server/api_error.h"

namespace pagoda::server {

// Which SamplingParams features the engine implements. engine::Engine does
// not say, so the server keeps this list; a request that asks for something
// switched off here gets a 400 naming the field, never a different behaviour.
struct SupportedFeatures {
  bool random_sampling = true;  // temperature > 0 (with top_p, top_k, min_p)
  bool seed = true;
  bool penalties = true;  // presence, frequency, repetition
  bool logit_bias = true;
  bool allowed_token_ids = true;
  bool min_tokens = true;
  bool logprobs = true;
  bool prompt_logprobs = true;  // non-streaming requests only
};

struct StreamOptions {
  bool include_usage = false;
  bool continuous_usage_stats = false;
};

// One prompt of a completions request: text or token ids.
struct PromptInput {
  bool is_tokens = false;
  std::string text;
  std::vector<int32_t> token_ids;
};

// Fields shared by /v1/completions and /v1/chat/completions.
struct GenerationRequest {
  std::string model;  // empty: the default model
  bool stream = false;
  StreamOptions stream_options;
  std::string user;
  int n = 1;                   // choices per prompt (the engine gets n requests of n = 1)
  bool max_tokens_set = false;  // max_tokens came from the request, not a default
  sample::SamplingParams params;  // params.n stays 1
  std::optional<int> truncate_prompt_tokens;  // -1: max_model_len
  std::string cache_salt;
  std::vector<std::string> bad_words;  // tokenized into params.bad_words_ids by the server
};

struct CompletionRequest : GenerationRequest {
  std::vector<PromptInput> prompts;
  bool echo = false;
  bool add_special_tokens = true;
};

struct ChatCompletionRequest : GenerationRequest {
  nlohmann::ordered_json messages;  // validated; text parts joined into string content
  bool logprobs = false;
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool add_special_tokens = false;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  std::optional<std::string> chat_template;  // per-request override
};

struct TokenizeRequest {
  std::string model;
  bool is_chat = false;
  std::string prompt;
  nlohmann::ordered_json messages;  // when is_chat
  bool add_special_tokens = true;   // default false for messages
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  bool return_token_strs = false;
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

// A JSON object body, or a 400 for malformed JSON or a non-object.
std::optional<ApiError> ParseJsonBody(const std::string& body, nlohmann::ordered_json* out);

std::optional<ApiError> ParseCompletionRequest(const nlohmann::ordered_json& body, const SupportedFeatures& features,
                                               CompletionRequest* out);
std::optional<ApiError> ParseChatCompletionRequest(const nlohmann::ordered_json& body, const SupportedFeatures& features,
                                                   ChatCompletionRequest* out);
std::optional<ApiError> ParseTokenizeRequest(const nlohmann::ordered_json& body, TokenizeRequest* out);
std::optional<ApiError> ParseDetokenizeRequest(const nlohmann::ordered_json& body, DetokenizeRequest* out);

// Validates chat messages (roles, content types, non-empty) and returns them
// with list-of-text-parts content joined into one string, as vLLM's "string"
// content format does. `param` names the field in errors ("messages").
std::optional<ApiError> NormalizeMessages(const nlohmann::ordered_json& messages, nlohmann::ordered_json* out);

// Model-dependent checks of the sampling fields: token ids within the
// vocabulary (SamplingParams::Validate), with the field named in param.
std::optional<ApiError> ValidateSamplingParams(const sample::SamplingParams& params, int64_t vocab_size);

}  // namespace pagoda::server
