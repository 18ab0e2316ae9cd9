#pragma once
// GenerationResponse: the answer to one /v1/completions or /v1/chat/completions
// request, streamed (SSE) or not. It owns the engine requests behind its
// choices (one per prompt and sample); destroying it, as the loop does when
// the client goes away, drops their handles, which aborts them.
// HTTP loop thread only.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "server/api_error.h"
#include "server/http_server.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace pagoda::tokenizer {
class Tokenizer;
}

namespace pagoda::server {

enum class Endpoint { kCompletions, kChatCompletions };

// One choice and what it has produced so far. The n choices of one prompt share
// one engine request (the engine forks them from the prompt's KV blocks); the
// first of them owns the handle and the others read through it.
struct ChoiceState {
  int index = 0;         // the choice's index in the response
  bool first_of_prompt = true;  // counts the prompt tokens in usage
  std::shared_ptr<engine::RequestHandle> handle;
  int sub_index = 0;     // this choice's index within its engine request
  std::string echo_text;  // completions with echo: the prompt's text
  std::string text;
  std::vector<TokenLogprob> logprobs;
  std::vector<core::SampleLogprobs> prompt_logprobs;  // on the choice that received them
  size_t text_offset = 0;
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;
  int num_cached_tokens = 0;
  std::optional<core::FinishReason> finish_reason;
  StopReason stop_reason;
  bool done = false;
  bool started = false;  // streaming: the role (chat) or echo chunk was sent
};

struct GenerationOptions {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model_name;
  bool stream = false;
  StreamOptions stream_options;
  bool logprobs = false;
  std::vector<int32_t> stop_token_ids;  // a stop token outside this list (EOS) has a null stop_reason
};

class GenerationResponse : public PendingResponse {
 public:
  GenerationResponse(GenerationOptions options, const tokenizer::Tokenizer* tokenizer,
                     std::vector<ChoiceState> choices);
  bool Poll(ResponseWriter& writer) override;
  int num_tokens() const override;

 private:
  // Folds one engine output into a choice; returns the stream chunk's text (SSE) if streaming.
  void Absorb(ChoiceState& c, engine::RequestOutput& out, std::string* sse);
  std::vector<TokenLogprob> ConvertLogprobs(const std::vector<core::SampleLogprobs>& lps) const;
  Json PromptLogprobsJson(const std::vector<core::SampleLogprobs>& lps) const;
  Usage TotalUsage() const;
  std::string ChunkFor(const ChoiceState& c, const std::string& text, const std::vector<TokenLogprob>& lps,
                       size_t offset, bool finished) const;

  GenerationOptions options_;
  const tokenizer::Tokenizer* tokenizer_;
  std::vector<ChoiceState> choices_;
  std::string id_;
  int64_t created_;
  bool stream_started_ = false;
  std::optional<ApiError> error_;
  // What the last NextFor gave; handed back to the engine's channel by the next
  // one, so its buffers are reused for later outputs.
  engine::RequestOutput spent_;
};

}  // namespace pagoda::server
