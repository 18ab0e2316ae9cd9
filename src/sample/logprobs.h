#pragma once
// Log-probabilities as vLLM reports them: log_softmax over a row of logits, the
// sampled (or prompt) token's logprob and rank, and the top-k list. Any thread.

#include <cstdint>
#include <span>
#include <vector>

#include "sample/sample_result.h"

namespace pagoda::sample {

// log(sum(exp(row))) in double; -inf when every entry is -inf.
double LogSumExp(std::span<const float> row);

// Sets out->logprob and out->rank for `token` and out->top to the num_top best
// tokens of log_softmax(row) (num_top <= 0: empty). `heap` is scratch.
void ComputeLogprobs(std::span<const float> row, int32_t token, int num_top, SampleResult* out,
                     std::vector<TokenLogprob>& heap);

// prompt_logprobs: logits holds num_positions rows of vocab_size; row i is the
// model's prediction for target_ids[i] (the prompt token after position i; the
// first prompt token has none, as in vLLM). out gets one entry per row with
// token = target_ids[i].
void ComputePromptLogprobs(const float* logits, int64_t vocab_size, std::span<const int32_t> target_ids, int num_top,
                           std::vector<SampleResult>& out);

}  // namespace pagoda::sample
