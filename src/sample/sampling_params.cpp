#include "sample/sampling_params.h"

namespace pagoda::sample {

Status SamplingParams::Validate(int64_t vocab_size) const {
  auto bad = [](const std::string& field, const std::string& why) { return InvalidArgument(field + " " + why); };
  if (n < 1) return bad("n", "must be at least 1, got " + std::to_string(n));
  if (best_of && *best_of < n) return bad("best_of", "must be >= n");
  if (temperature < 0) return bad("temperature", "must be non-negative");
  if (!(top_p > 0 && top_p <= 1)) return bad("top_p", "must be in (0, 1]");
  if (top_k < -1) return bad("top_k", "must be -1 (off), 0 (off) or positive");
  if (min_p < 0 || min_p > 1) return bad("min_p", "must be in [0, 1]");
  if (presence_penalty < -2 || presence_penalty > 2) return bad("presence_penalty", "must be in [-2, 2]");
  if (frequency_penalty < -2 || frequency_penalty > 2) return bad("frequency_penalty", "must be in [-2, 2]");
  if (repetition_penalty <= 0) return bad("repetition_penalty", "must be positive");
  if (max_tokens && *max_tokens < 1) return bad("max_tokens", "must be at least 1");
  if (min_tokens < 0) return bad("min_tokens", "must be non-negative");
  if (max_tokens && min_tokens > *max_tokens) return bad("min_tokens", "must not exceed max_tokens");
  if (logprobs && *logprobs < 0) return bad("logprobs", "must be non-negative");
  if (prompt_logprobs && *prompt_logprobs < 0) return bad("prompt_logprobs", "must be non-negative");
  auto in_vocab = [&](int32_t t) { return t >= 0 && t < vocab_size; };
  for (const auto& [t, b] : logit_bias)
    if (!in_vocab(t)) return bad("logit_bias", "has token id " + std::to_string(t) + " outside the vocabulary");
  for (int32_t t : allowed_token_ids)
    if (!in_vocab(t)) return bad("allowed_token_ids", "has token id " + std::to_string(t) + " outside the vocabulary");
  for (int32_t t : stop_token_ids)
    if (!in_vocab(t)) return bad("stop_token_ids", "has token id " + std::to_string(t) + " outside the vocabulary");
  for (const auto& w : bad_words_ids)
    for (int32_t t : w)
      if (!in_vocab(t)) return bad("bad_words", "has token id " + std::to_string(t) + " outside the vocabulary");
  return Status::Ok();
}

}  // namespace pagoda::sample
