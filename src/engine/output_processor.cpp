#include "engine/output_processor.h"

#include <algorithm>

namespace pagoda::engine {

RequestStream::RequestStream(const tokenizer::Tokenizer* tok, std::shared_ptr<const sample::SamplingParams> params,
                             int num_prompt_tokens, bool detokenize)
    : tok_(detokenize ? tok : nullptr), params_(std::move(params)), num_prompt_tokens_(num_prompt_tokens) {
  if (tok_) detok_ = std::make_unique<tokenizer::IncrementalDetokenizer>(*tok_, params_->skip_special_tokens);
  for (const std::string& s : params_->stop) max_stop_len_ = std::max(max_stop_len_, s.size());
  if (tok_) text_.reserve(2 * kTrimAt + max_stop_len_);
}

// Drops the text already sent once there is kTrimAt of it, so text_ stays
// within its reserved size. A stop string cannot start in it: TakeEmittable
// holds back the last max_stop_len_ - 1 bytes, all a later match can start in.
void RequestStream::TrimSentText() {
  if (emitted_ < kTrimAt) return;
  text_.erase(0, emitted_);
  emitted_ = 0;
}

// Text that can be sent now: all of it at the end, else all but a tail that
// could still grow into a stop string.
void RequestStream::TakeEmittable(bool final, std::string* out) {
  size_t limit = text_.size();
  if (!final && max_stop_len_ > 0) {
    const size_t hold = max_stop_len_ - 1;
    limit = text_.size() > hold ? text_.size() - hold : 0;
    // Never split a UTF-8 character.
    while (limit > emitted_ && limit < text_.size() && (static_cast<unsigned char>(text_[limit]) & 0xC0) == 0x80) --limit;
  }
  if (limit <= emitted_) return;
  out->append(text_, emitted_, limit - emitted_);
  emitted_ = limit;
}

void RequestStream::Process(const core::CoreRequestOutput& out, bool* stop_hit, RequestOutput* ro) {
  *stop_hit = false;
  RequestOutput& r = *ro;
  r.Clear();
  // Room for the tokens a reader that has fallen a little behind gets appended in
  // one output (the engine's Push); allocated once per output object, which then
  // goes round between the engine and the reader.
  constexpr size_t kMinTokenCapacity = 16, kMinTextCapacity = 128;
  if (r.token_ids.capacity() < kMinTokenCapacity) r.token_ids.reserve(kMinTokenCapacity);
  if (detok_ && r.text.capacity() < kMinTextCapacity) r.text.reserve(kMinTextCapacity);
  r.num_prompt_tokens = num_prompt_tokens_;
  r.num_cached_tokens = out.num_cached_tokens;
  const bool include_stop = params_->include_stop_str_in_output;
  for (size_t i = 0; i < out.new_token_ids.size() && !finished_; ++i) {
    const int32_t id = out.new_token_ids[i];
    r.token_ids.push_back(id);
    if (i < out.new_logprobs.size()) r.logprobs.push_back(out.new_logprobs[i]);
    ++num_output_tokens_;
    // The eos / stop token that ends the request adds no text unless asked.
    const bool is_stop_token = out.stop_token && *out.stop_token == id && i + 1 == out.new_token_ids.size();
    if (!detok_ || (is_stop_token && !include_stop)) continue;
    const size_t search_from = text_.size() > max_stop_len_ ? text_.size() - max_stop_len_ : 0;
    detok_->Push(id, &text_);
    // Stop strings, matched on the text across token boundaries; earliest match wins.
    size_t best = std::string::npos;
    const std::string* best_s = nullptr;
    for (const std::string& s : params_->stop) {
      if (s.empty()) continue;
      size_t p = text_.find(s, search_from);
      if (p != std::string::npos && p < best) {
        best = p;
        best_s = &s;
      }
    }
    if (best_s != nullptr) {
      text_.resize(include_stop ? best + best_s->size() : best);
      emitted_ = std::min(emitted_, text_.size());
      finished_ = true;
      *stop_hit = true;
      r.finish_reason = core::FinishReason::kStop;
      r.stop_string = *best_s;
    }
  }
  if (!finished_ && out.finished()) {
    finished_ = true;
    r.finish_reason = out.finish_reason;
    if (out.finish_reason == core::FinishReason::kStop && out.stop_token) r.stop_token_id = *out.stop_token;
    if (detok_) detok_->Flush(&text_);
  }
  r.finished = finished_;
  TakeEmittable(finished_, &r.text);
  r.num_output_tokens = num_output_tokens_;
  TrimSentText();
}

}  // namespace pagoda::engine
