#include "server/openai_response.h"

#include <random>

namespace pagoda::server {

Json FinishReasonJson(const std::optional<core::FinishReason>& reason) {
  if (!reason) return nullptr;
  switch (*reason) {
    case core::FinishReason::kStop: return "stop";
    case core::FinishReason::kLength: return "length";
    case core::FinishReason::kAbort: return "abort";
  }
  return nullptr;
}

Json StopReasonJson(const StopReason& reason) {
  if (const auto* s = std::get_if<std::string>(&reason)) return *s;
  if (const auto* t = std::get_if<int32_t>(&reason)) return *t;
  return nullptr;
}

Json UsageJson(const Usage& u) {
  return Json{{"prompt_tokens", u.prompt_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"completion_tokens", u.completion_tokens},
              {"prompt_tokens_details", Json{{"cached_tokens", u.cached_tokens}}}};
}

std::string MakeId(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id(prefix);
  for (int i = 0; i < 2; ++i) {
    uint64_t v = rng();
    for (int k = 0; k < 16; ++k) {
      id.push_back(kHex[v & 15]);
      v >>= 4;
    }
  }
  return id;
}

Json CompletionLogprobsJson(const std::vector<TokenLogprob>& lps, size_t offset0) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(), offsets = Json::array();
  size_t offset = offset0;
  for (const auto& lp : lps) {
    tokens.push_back(lp.token);
    token_logprobs.push_back(lp.logprob);
    Json t = Json::object();
    for (const auto& [text, v] : lp.top)
      if (!t.contains(text)) t[text] = v;
    if (!t.contains(lp.token)) t[lp.token] = lp.logprob;
    top.push_back(std::move(t));
    offsets.push_back(offset);
    offset += lp.token.size();
  }
  return Json{{"text_offset", offsets}, {"token_logprobs", token_logprobs}, {"tokens", tokens}, {"top_logprobs", top}};
}

namespace {

Json Bytes(const std::string& s) {
  Json b = Json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

Json ChatLogprobsJson(const std::vector<TokenLogprob>& lps) {
  Json content = Json::array();
  for (const auto& lp : lps) {
    Json top = Json::array();
    for (const auto& [text, v] : lp.top) top.push_back(Json{{"token", text}, {"logprob", v}, {"bytes", Bytes(text)}});
    content.push_back(Json{{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", Bytes(lp.token)}, {"top_logprobs", top}});
  }
  return Json{{"content", content}};
}

Json CompletionResponseJson(const std::string& id, int64_t created, const std::string& model,
                            const std::vector<ChoiceResult>& choices, const Usage& usage) {
  Json cs = Json::array();
  for (const auto& c : choices) {
    cs.push_back(Json{{"index", c.index},
                      {"text", c.text},
                      {"logprobs", c.logprobs},
                      {"finish_reason", FinishReasonJson(c.finish_reason)},
                      {"stop_reason", StopReasonJson(c.stop_reason)}});
    if (!c.prompt_logprobs.is_null()) cs.back()["prompt_logprobs"] = c.prompt_logprobs;
  }
  return Json{{"id", id},       {"object", "text_completion"}, {"created", created},
              {"model", model}, {"choices", cs},               {"usage", UsageJson(usage)}};
}

Json ChatCompletionResponseJson(const std::string& id, int64_t created, const std::string& model,
                                const std::vector<ChoiceResult>& choices, const Usage& usage) {
  Json cs = Json::array();
  for (const auto& c : choices)
    cs.push_back(Json{{"index", c.index},
                      {"message", Json{{"role", "assistant"}, {"content", c.text}, {"refusal", nullptr},
                                       {"tool_calls", Json::array()}}},
                      {"logprobs", c.logprobs},
                      {"finish_reason", FinishReasonJson(c.finish_reason)},
                      {"stop_reason", StopReasonJson(c.stop_reason)}});
  Json out{{"id", id},       {"object", "chat.completion"}, {"created", created},
            {"model", model}, {"choices", cs},               {"usage", UsageJson(usage)}};
  // vLLM puts the chat prompt's logprobs beside the choices.
  if (!choices.empty() && !choices.front().prompt_logprobs.is_null()) out["prompt_logprobs"] = choices.front().prompt_logprobs;
  return out;
}

Json CompletionChunkJson(const std::string& id, int64_t created, const std::string& model, const ChoiceResult& c) {
  Json choice = {{"index", c.index},
                 {"text", c.text},
                 {"logprobs", c.logprobs},
                 {"finish_reason", FinishReasonJson(c.finish_reason)},
                 {"stop_reason", StopReasonJson(c.stop_reason)}};
  return Json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
              {"choices", Json::array({std::move(choice)})}};
}

Json ChatChunkJson(const std::string& id, int64_t created, const std::string& model, int index,
                   const std::optional<std::string>& role, const std::optional<std::string>& content,
                   const Json& logprobs, const std::optional<core::FinishReason>& finish_reason,
                   const StopReason& stop_reason) {
  Json delta = Json::object();
  if (role) delta["role"] = *role;
  if (content) delta["content"] = *content;
  Json choice = {{"index", index},
                 {"delta", std::move(delta)},
                 {"logprobs", logprobs},
                 {"finish_reason", FinishReasonJson(finish_reason)}};
  if (finish_reason) choice["stop_reason"] = StopReasonJson(stop_reason);
  return Json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model},
              {"choices", Json::array({std::move(choice)})}};
}

Json UsageChunkJson(const std::string& id, const std::string& object, int64_t created, const std::string& model,
                    const Usage& usage) {
  return Json{{"id", id},       {"object", object},        {"created", created},
              {"model", model}, {"choices", Json::array()}, {"usage", UsageJson(usage)}};
}

std::string DumpJson(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string SseEvent(const Json& value) {
  std::string out = "data: ";
  out += DumpJson(value);
  out += "\n\n";
  return out;
}

}  // namespace pagoda::server
