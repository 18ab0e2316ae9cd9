#pragma once
// OpenAI response shapes (with vLLM's stop_reason), as JSON values, and the
// SSE framing. Pure functions of their arguments; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model_runner_output.h"
#include "core/request.h"

namespace pagoda::server {

using Json = nlohmann::ordered_json;

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
};

// vLLM's stop_reason: the stop string, the stop token id, or null (EOS, length).
using StopReason = std::variant<std::monostate, std::string, int32_t>;

// "stop" / "length" / "abort"; null when not finished.
Json FinishReasonJson(const std::optional<core::FinishReason>& reason);
Json StopReasonJson(const StopReason& reason);
Json UsageJson(const Usage& usage);

// A random id with a prefix: "cmpl-" + 32 hex digits.
std::string MakeId(std::string_view prefix);

// One token's logprobs, with token text already decoded.
struct TokenLogprob {
  std::string token;    // decoded text of the sampled token
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // the top candidates (text, logprob), best first
};

// Completions' logprobs object: tokens, token_logprobs, top_logprobs, text_offset.
// text_offset counts bytes from `offset0` (the length of the echoed prompt, if any).
Json CompletionLogprobsJson(const std::vector<TokenLogprob>& lps, size_t offset0);
// Chat's logprobs object: {"content": [{token, logprob, bytes, top_logprobs}]}.
Json ChatLogprobsJson(const std::vector<TokenLogprob>& lps);

struct ChoiceResult {
  int index = 0;
  std::string text;
  Json logprobs;  // null unless asked
  std::optional<core::FinishReason> finish_reason;
  StopReason stop_reason;
  Json prompt_logprobs = nullptr;  // vLLM's per-choice prompt_logprobs; left out when null
};

Json CompletionResponseJson(const std::string& id, int64_t created, const std::string& model,
                            const std::vector<ChoiceResult>& choices, const Usage& usage);
Json ChatCompletionResponseJson(const std::string& id, int64_t created, const std::string& model,
                                const std::vector<ChoiceResult>& choices, const Usage& usage);

// Stream chunks. A chat chunk's delta: role (first chunk), content, or empty.
Json CompletionChunkJson(const std::string& id, int64_t created, const std::string& model, const ChoiceResult& choice);
Json ChatChunkJson(const std::string& id, int64_t created, const std::string& model, int index,
                   const std::optional<std::string>& role, const std::optional<std::string>& content,
                   const Json& logprobs, const std::optional<core::FinishReason>& finish_reason,
                   const StopReason& stop_reason);
// The final usage chunk: "choices": [] and usage.
Json UsageChunkJson(const std::string& id, const std::string& object, int64_t created, const std::string& model,
                    const Usage& usage);

// "data: <json>\n\n"; invalid UTF-8 in strings is replaced with U+FFFD.
std::string SseEvent(const Json& value);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
// Compact JSON text, invalid UTF-8 replaced.
std::string DumpJson(const Json& value);

}  // namespace pagoda::server
