#pragma once
// The logits processors, one function each, applied in place to one row of
// logits (float32, vocab_size entries). A filtered token is set to -inf.
// Sampler::Sample chains them in vLLM V1's order (sampler.cpp has the list);
// they are public so tests can check each one against a direct computation.
// Scratch buffers are passed in so that steady-state calls do not allocate.
// Any thread, as long as each thread has its own ProcessorScratch.

#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace pagoda::sample {

inline constexpr float kNegInf = -__builtin_huge_valf();

// Reused per-row working memory. Sized on first use; never shrinks.
struct ProcessorScratch {
  std::vector<float> values;        // saved logits (allowed ids) / heap for top-k
  std::vector<int32_t> counts;      // per-token occurrence counts, all zero between calls
  std::vector<uint8_t> seen;        // per-token flags, all zero between calls
  std::vector<int32_t> touched;     // tokens whose counts/seen are non-zero
  std::vector<double> bucket_mass;  // top-p histogram
  std::vector<int32_t> bucket_ids;  // top-p: tokens in the crossing bucket
  std::vector<uint8_t> bucket_of;   // top-p: each token's bucket
  std::vector<float> weights;       // exp(l - max) while drawing
  std::vector<double> block_mass;   // sums of weights per block of 256
  std::vector<int32_t> kept;        // survivors of top-k, increasing ids
};

// Keeps only `allowed` (vLLM allowed_token_ids); an empty list keeps everything.
void ApplyAllowedTokenIds(std::span<float> row, std::span<const int32_t> allowed, ProcessorScratch& scratch);

// vLLM bad_words: a one-token word is always banned; for a longer word the last
// token is banned when the output so far ends with the word's other tokens.
// vLLM matches against the generated tokens only (HF's NoBadWordsLogitsProcessor
// matches against prompt + output); we follow vLLM.
void ApplyBadWords(std::span<float> row, const std::vector<std::vector<int32_t>>& bad_words_ids,
                   std::span<const int32_t> output_ids);

// Bans `blocked` (eos and stop token ids) while num_output_tokens < min_tokens.
void ApplyMinTokens(std::span<float> row, int min_tokens, size_t num_output_tokens, std::span<const int32_t> blocked);

// Adds logit_bias[token] to the token's logit.
void ApplyLogitBias(std::span<float> row, const std::map<int32_t, double>& logit_bias);

// vLLM apply_penalties, in its order:
//  repetition (HF/CTRL semantics) over tokens seen in the prompt or the output:
//    l > 0 ? l / penalty : l * penalty;
//  frequency: l -= frequency_penalty * count_in_output;
//  presence:  l -= presence_penalty * (count_in_output > 0).
// Penalties of 1 / 0 / 0 skip their part.
void ApplyPenalties(std::span<float> row, std::span<const int32_t> prompt_ids, std::span<const int32_t> output_ids,
                    double repetition_penalty, double frequency_penalty, double presence_penalty,
                    ProcessorScratch& scratch);

// l /= temperature (temperature > 0).
void ApplyTemperature(std::span<float> row, double temperature);

// The filters below (min-p, top-k, top-p) take an optional `kept`: when given
// and the filter ran, it lists the surviving token ids in increasing order and
// the call returns true (otherwise false and `kept` is untouched), so that the
// next filters and the draw can work on the few survivors instead of the whole
// vocabulary (the *OnKept forms and DrawFromKept). Same results either way.

// Keeps tokens with p >= min_p * p_max, i.e. l >= max + log(min_p).
bool ApplyMinP(std::span<float> row, double min_p, std::vector<int32_t>* kept = nullptr);

// Keeps the tokens whose logit is >= the k-th largest logit (ties at the
// boundary are all kept, as HF's TopKLogitsWarper and vLLM do). k <= 0 or
// k >= vocab: no-op.
bool ApplyTopK(std::span<float> row, int k, ProcessorScratch& scratch, std::vector<int32_t>* kept = nullptr);
// ApplyTopK restricted to `kept` (every other logit is -inf); updates `kept`.
void ApplyTopKOnKept(std::span<float> row, std::vector<int32_t>& kept, int k, ProcessorScratch& scratch);

// ApplyTopP restricted to `kept` (every other logit is -inf); updates `kept`.
void ApplyTopPOnKept(std::span<float> row, std::vector<int32_t>& kept, double top_p, ProcessorScratch& scratch);

// Keeps the smallest set of most probable tokens whose mass reaches top_p: a
// token is kept when the mass of the tokens ranked strictly above it is < top_p
// (HF's TopPLogitsWarper and vLLM remove a token when the ascending cumulative
// mass up to it is <= 1 - top_p: the same rule). Ties: HF and vLLM split tokens
// of equal logit at the boundary by their (unstable) sort order; we keep every
// token tied with the last kept one, so the result does not depend on token ids.
// No full sort: a histogram over (max - l) finds the crossing bucket and only
// that bucket is sorted. top_p >= 1: no-op.
bool ApplyTopP(std::span<float> row, double top_p, ProcessorScratch& scratch, std::vector<int32_t>* kept = nullptr);

// The largest logit (-inf for an all -inf row).
float MaxLogit(std::span<const float> row);

// Index of the largest logit (the first one on ties, like torch.argmax).
int64_t Argmax(std::span<const float> row);

// Draws a token from softmax(row) by inverse CDF over token ids in increasing
// order with one uniform u in [0, 1). Returns -1 when every logit is -inf.
int64_t DrawFromLogits(std::span<const float> row, double u, ProcessorScratch& scratch);
// The same draw over `kept` only (increasing ids; every other logit is -inf).
int64_t DrawFromKept(std::span<const float> row, std::span<const int32_t> kept, double u);

}  // namespace pagoda::sample
