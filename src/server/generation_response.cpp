#include "server/generation_response.h"

#include <algorithm>
#include <ctime>

#include "tokenizer/tokenizer.h"

namespace pagoda::server {

GenerationResponse::GenerationResponse(GenerationOptions options, const tokenizer::Tokenizer* tokenizer,
                                       std::vector<ChoiceState> choices)
    : options_(std::move(options)),
      tokenizer_(tokenizer),
      choices_(std::move(choices)),
      id_(MakeId(options_.endpoint == Endpoint::kCompletions ? "cmpl-" : "chatcmpl-")),
      created_(static_cast<int64_t>(std::time(nullptr))) {}

int GenerationResponse::num_tokens() const {
  int n = 0;
  for (const auto& c : choices_) n += c.num_output_tokens;
  return n;
}

Usage GenerationResponse::TotalUsage() const {
  Usage u;
  for (const auto& c : choices_) {
    if (c.first_of_prompt) {
      u.prompt_tokens += c.num_prompt_tokens;
      u.cached_tokens += c.num_cached_tokens;
    }
    u.completion_tokens += c.num_output_tokens;
  }
  return u;
}

std::vector<TokenLogprob> GenerationResponse::ConvertLogprobs(const std::vector<core::SampleLogprobs>& lps) const {
  std::vector<TokenLogprob> out;
  out.reserve(lps.size());
  auto text_of = [&](int32_t id) {
    const int32_t one[1] = {id};
    return tokenizer_ ? tokenizer_->Decode(one, false) : std::to_string(id);
  };
  for (const auto& lp : lps) {
    TokenLogprob t;
    if (!lp.token_ids.empty()) {
      t.token = text_of(lp.token_ids[0]);
      t.logprob = lp.logprobs.empty() ? 0.f : lp.logprobs[0];
    }
    for (size_t i = 1; i < lp.token_ids.size() && i < lp.logprobs.size(); ++i)
      t.top.emplace_back(text_of(lp.token_ids[i]), lp.logprobs[i]);
    out.push_back(std::move(t));
  }
  return out;
}

std::string GenerationResponse::ChunkFor(const ChoiceState& c, const std::string& text,
                                         const std::vector<TokenLogprob>& lps, size_t offset, bool finished) const {
  const std::optional<core::FinishReason> fr = finished ? c.finish_reason : std::nullopt;
  Json chunk;
  if (options_.endpoint == Endpoint::kCompletions) {
    ChoiceResult r{c.index, text, options_.logprobs ? CompletionLogprobsJson(lps, offset) : Json(nullptr), fr,
                   finished ? c.stop_reason : StopReason{}, Json(nullptr)};
    chunk = CompletionChunkJson(id_, created_, options_.model_name, r);
  } else {
    // The final chunk carries its text (possibly empty) and the finish reason.
    chunk = ChatChunkJson(id_, created_, options_.model_name, c.index, std::nullopt,
                          text.empty() && finished ? std::optional<std::string>() : std::optional<std::string>(text),
                          options_.logprobs ? ChatLogprobsJson(lps) : Json(nullptr), fr, c.stop_reason);
  }
  if (options_.stream_options.continuous_usage_stats)
    chunk["usage"] = UsageJson(Usage{c.num_prompt_tokens, c.num_output_tokens, c.num_cached_tokens});
  return SseEvent(chunk);
}

void GenerationResponse::Absorb(ChoiceState& c, engine::RequestOutput& out, std::string* sse) {
  if (!out.error.ok()) {
    if (!error_) {
      error_ = ApiErrorFromStatus(out.error);
      if (error_->status < 500) error_->status = 500, error_->type = ApiErrorType(500);
    }
    c.done = true;
    return;
  }
  if (!out.prompt_logprobs.empty()) c.prompt_logprobs = std::move(out.prompt_logprobs);
  c.num_prompt_tokens = out.num_prompt_tokens;
  c.num_output_tokens = out.num_output_tokens;
  c.num_cached_tokens = out.num_cached_tokens;
  std::vector<TokenLogprob> lps;
  if (options_.logprobs) lps = ConvertLogprobs(out.logprobs);
  const size_t offset = c.text_offset;
  for (const auto& lp : lps) c.text_offset += lp.token.size();
  if (out.finished) {
    c.done = true;
    c.finish_reason = out.finish_reason.value_or(core::FinishReason::kStop);
    if (out.stop_string) {
      c.stop_reason = *out.stop_string;
    } else if (out.stop_token_id &&
               std::find(options_.stop_token_ids.begin(), options_.stop_token_ids.end(), *out.stop_token_id) !=
                   options_.stop_token_ids.end()) {
      c.stop_reason = *out.stop_token_id;
    }
  }
  if (options_.stream) {
    if (!out.text.empty() || out.finished || !lps.empty()) sse->append(ChunkFor(c, out.text, lps, offset, out.finished));
  } else {
    c.text += out.text;
    for (auto& lp : lps) c.logprobs.push_back(std::move(lp));
  }
}

// vLLM's layout: null for the first prompt token, then {token_id: {logprob, rank, decoded_token}}.
Json GenerationResponse::PromptLogprobsJson(const std::vector<core::SampleLogprobs>& lps) const {
  Json out = Json::array();
  out.push_back(nullptr);
  for (const core::SampleLogprobs& lp : lps) {
    Json entry = Json::object();
    for (size_t i = 0; i < lp.token_ids.size(); ++i) {
      const std::string key = std::to_string(lp.token_ids[i]);
      if (entry.contains(key)) continue;
      const int rank = i == 0 ? lp.sampled_token_rank : static_cast<int>(i);
      const int32_t id = lp.token_ids[i];
      entry[key] = Json{{"logprob", lp.logprobs[i]},
                        {"rank", rank},
                        {"decoded_token", tokenizer_ ? tokenizer_->Decode(std::span<const int32_t>(&id, 1), false) : std::string()}};
    }
    out.push_back(std::move(entry));
  }
  return out;
}

bool GenerationResponse::Poll(ResponseWriter& w) {
  std::string sse;
  if (options_.stream && !stream_started_) {
    stream_started_ = true;
    w.StartChunked(200, {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-cache"}});
    for (auto& c : choices_) {
      c.started = true;
      if (options_.endpoint == Endpoint::kChatCompletions) {
        Json chunk = ChatChunkJson(id_, created_, options_.model_name, c.index, std::string("assistant"),
                                   std::string(), Json(nullptr), std::nullopt, {});
        sse += SseEvent(chunk);
      } else if (!c.echo_text.empty()) {
        sse += ChunkFor(c, c.echo_text, {}, 0, false);
      }
    }
  }
  engine::RequestOutput& out = spent_;
  for (size_t k = 0; k < choices_.size() && !error_; ++k) {
    if (choices_[k].sub_index != 0) continue;  // read through the owner of the handle
    while (!error_) {
      // NextFor replaces every field of out, and its buffers go back to the engine.
      if (!choices_[k].handle->NextFor(&out, 0)) break;
      size_t target = k + static_cast<size_t>(std::max(0, out.index));
      if (target >= choices_.size() || choices_[target].handle != choices_[k].handle) target = k;
      if (!out.error.ok()) {  // the request failed: every choice of it ends
        Absorb(choices_[target], out, &sse);
        break;
      }
      if (!choices_[target].done) Absorb(choices_[target], out, &sse);
    }
    // A closed request (aborted as a whole, e.g. at shutdown) ends its remaining choices.
    if (!error_ && choices_[k].handle->done()) {
      for (size_t j = k; j < choices_.size() && choices_[j].handle == choices_[k].handle; ++j) {
        if (choices_[j].done) continue;
        engine::RequestOutput end;
        end.finished = true;
        end.finish_reason = core::FinishReason::kAbort;
        end.index = choices_[j].sub_index;
        Absorb(choices_[j], end, &sse);
      }
    }
  }
  if (error_) {
    // One failed choice fails the response; the others are dropped (aborted).
    for (auto& c : choices_) c.handle.reset();
    if (options_.stream) {
      sse += "data: " + error_->ToJson() + "\n\n";
      sse += kSseDone;
      w.WriteChunk(sse);
      w.EndChunked();
    } else {
      w.Respond(HttpResponse::Json(error_->status, error_->ToJson()));
    }
    return true;
  }
  const bool all_done = std::all_of(choices_.begin(), choices_.end(), [](const ChoiceState& c) { return c.done; });
  if (options_.stream) {
    if (all_done) {
      if (options_.stream_options.include_usage)
        sse += SseEvent(UsageChunkJson(id_,
                                       options_.endpoint == Endpoint::kCompletions ? "text_completion"
                                                                                   : "chat.completion.chunk",
                                       created_, options_.model_name, TotalUsage()));
      sse += kSseDone;
    }
    if (!sse.empty()) w.WriteChunk(sse);
    if (all_done) w.EndChunked();
    return all_done;
  }
  if (!all_done) return false;
  std::vector<ChoiceResult> results;
  results.reserve(choices_.size());
  for (auto& c : choices_) {
    ChoiceResult r;
    r.index = c.index;
    // The n choices of a prompt share its prompt_logprobs (one choice received them).
    for (const auto& o : choices_)
      if (o.handle == c.handle && !o.prompt_logprobs.empty()) r.prompt_logprobs = PromptLogprobsJson(o.prompt_logprobs);
    r.finish_reason = c.finish_reason;
    r.stop_reason = c.stop_reason;
    if (options_.endpoint == Endpoint::kCompletions) {
      r.text = c.echo_text + c.text;
      if (options_.logprobs) r.logprobs = CompletionLogprobsJson(c.logprobs, c.echo_text.size());
    } else {
      r.text = c.text;
      if (options_.logprobs) r.logprobs = ChatLogprobsJson(c.logprobs);
    }
    results.push_back(std::move(r));
  }
  std::sort(results.begin(), results.end(), [](const ChoiceResult& a, const ChoiceResult& b) { return a.index < b.index; });
  const Json body = options_.endpoint == Endpoint::kCompletions
                        ? CompletionResponseJson(id_, created_, options_.model_name, results, TotalUsage())
                        : ChatCompletionResponseJson(id_, created_, options_.model_name, results, TotalUsage());
  w.Respond(HttpResponse::Json(200, DumpJson(body)));
  return true;
}

}  // namespace pagoda::server
