#pragma once
// SamplingParams: per-request decoding parameters with vLLM's names and
// semantics. A plain struct; Validate() before use. Any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace pagoda::sample {

struct SamplingParams {
  int n = 1;
  std::optional<int> best_of;
  bool use_beam_search = false;
  double length_penalty = 1.0;
  bool early_stopping = false;

  double temperature = 1.0;  // 0 = greedy
  double top_p = 1.0;
  int top_k = 0;             // 0 or -1 = off
  double min_p = 0.0;
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  double repetition_penalty = 1.0;
  std::map<int32_t, double> logit_bias;
  std::vector<int32_t> allowed_token_ids;          // empty = all
  std::vector<std::vector<int32_t>> bad_words_ids;  // token sequences never to complete

  std::optional<int> max_tokens;  // nullopt = up to max_model_len
  int min_tokens = 0;
  bool ignore_eos = false;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool include_stop_str_in_output = false;

  std::optional<uint64_t> seed;
  std::optional<int> logprobs;         // top-k logprobs per output token (0 = only the sampled one)
  std::optional<int> prompt_logprobs;
  bool skip_special_tokens = true;
  bool spaces_between_special_tokens = true;

  bool greedy() const { return temperature == 0.0; }
  // Checks ranges; vocab_size bounds token ids in logit_bias, allowed_token_ids, ...
  Status Validate(int64_t vocab_size) const;
};

}  // namespace pagoda::sample
