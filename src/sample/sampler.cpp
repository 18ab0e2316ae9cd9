#include "sample/sampler.h"

#include <algorithm>

#include "common/check.h"
#include "sample/logprobs.h"
#include "sample/sample_rng.h"

// The processor order, as in vLLM V1 (vllm/v1/sample/sampler.py):
//   0. logprobs of the raw logits, if asked (LogprobsMode::kRawLogprobs)
//   1. allowed_token_ids            (mask)
//   2. bad_words                    (mask; matched against the output tokens)
//   3. min_tokens                   (mask eos unless ignore_eos, and stop_token_ids)
//   4. logit_bias                   (add)
//   5. penalties: repetition (prompt + output), frequency, presence (output)
//   -- a greedy row (temperature < 1e-5) takes the argmax here --
//   6. temperature
//   7. min_p
//   8. top_k
//   9. top_p (on the distribution left by min_p and top_k)
//  10. draw: inverse CDF over token ids with a counter-based uniform
// (after the first of min_p / top_k / top_p, the rest and the draw run on the
// list of surviving tokens, not on the whole vocabulary)
// HF generate() orders its processors as sequence_bias, repetition_penalty,
// bad words, min_new_tokens, prefix constraint, then temperature, top_k, top_p,
// min_p. Masks commute with the rest, so the two orders agree except that HF
// applies min_p after top_p (top_p then sees the distribution before min_p):
// we follow vLLM. Presence/frequency penalties exist only in OpenAI/vLLM.

namespace pagoda::sample {

Sampler::Sampler(SamplerConfig config, ThreadPool* pool)
    : config_(config), pool_(pool), scratch_(pool ? pool->num_threads() : 1) {}

double Sampler::RowUniform(const SamplingRow& r) {
  const uint64_t seed = r.params && r.params->seed ? *r.params->seed : r.request_seed;
  return SampleUniform(seed, r.sample_index, r.output_ids.size());
}

void Sampler::ProcessRow(std::span<float> row, const SamplingRow& r, ProcessorScratch& s, bool* sparse) {
  *sparse = false;
  const SamplingParams* p = r.params;
  if (!p) return;
  ApplyAllowedTokenIds(row, p->allowed_token_ids, s);
  if (!p->bad_words_ids.empty()) ApplyBadWords(row, p->bad_words_ids, r.output_ids);
  if (r.output_ids.size() < static_cast<size_t>(std::max(p->min_tokens, 0))) {
    if (!p->ignore_eos) ApplyMinTokens(row, p->min_tokens, r.output_ids.size(), r.eos_ids);
    ApplyMinTokens(row, p->min_tokens, r.output_ids.size(), p->stop_token_ids);
  }
  if (!p->logit_bias.empty()) ApplyLogitBias(row, p->logit_bias);
  ApplyPenalties(row, r.prompt_ids, r.output_ids, p->repetition_penalty, p->frequency_penalty, p->presence_penalty, s);
  if (p->temperature < kSamplingEps) return;
  ApplyTemperature(row, p->temperature);
  // Once a filter has run, only its survivors matter: the next filters and the
  // draw work on their list (s.kept) instead of the vocabulary.
  bool& listed = *sparse;
  if (p->min_p > 0) listed = ApplyMinP(row, p->min_p, &s.kept);
  if (p->top_k > 0) {
    if (listed) ApplyTopKOnKept(row, s.kept, p->top_k, s);
    else listed = ApplyTopK(row, p->top_k, s, &s.kept);
  }
  if (p->top_p < 1.0) {
    if (listed) ApplyTopPOnKept(row, s.kept, p->top_p, s);
    else listed = ApplyTopP(row, p->top_p, s, &s.kept);
  }
}

void Sampler::ProcessLogits(std::span<float> row, const SamplingRow& r) {
  bool sparse;
  ProcessRow(row, r, scratch_[0].proc, &sparse);
}

void Sampler::SampleRow(float* logits, int64_t vocab_size, const SamplingRow& r, SampleResult& out, Scratch& s) {
  const size_t V = static_cast<size_t>(vocab_size);
  std::span<float> row(logits, V);
  const SamplingParams* p = r.params;
  const bool want_logprobs = p && p->logprobs;
  const bool raw_logprobs = want_logprobs && config_.logprobs_mode == LogprobsMode::kRawLogprobs;
  out.all_masked = false;
  out.logprob = 0;
  out.rank = 0;
  out.top.clear();

  if (!p) {  // plain greedy: one argmax pass
    out.token = static_cast<int32_t>(Argmax(row));
    return;
  }
  // Masks can filter out every token; keep the raw row for that fallback too.
  const bool may_mask_all = !p->allowed_token_ids.empty() || !p->bad_words_ids.empty() ||
                            r.output_ids.size() < static_cast<size_t>(std::max(p->min_tokens, 0));
  const bool greedy = p->temperature < kSamplingEps;
  const bool changes_row = may_mask_all || !p->logit_bias.empty() || p->repetition_penalty != 1.0 ||
                           p->frequency_penalty != 0.0 || p->presence_penalty != 0.0 ||
                           (!greedy && (p->temperature != 1.0 || p->min_p > 0 || p->top_k > 0 || p->top_p < 1.0));
  // An untouched row is its own raw copy.
  const bool keep_raw = (raw_logprobs && changes_row) || may_mask_all;
  if (keep_raw) s.raw.assign(logits, logits + V);
  bool sparse;
  ProcessRow(row, r, s.proc, &sparse);
  int64_t token;
  if (greedy) {
    token = Argmax(row);
    if (row[token] == kNegInf) token = -1;
  } else {
    token = sparse ? DrawFromKept(row, s.proc.kept, RowUniform(r)) : DrawFromLogits(row, RowUniform(r), s.proc);
  }
  if (token < 0) {  // every token filtered out: fall back to the unfiltered argmax
    out.all_masked = true;
    token = keep_raw ? Argmax(s.raw) : 0;
  }
  out.token = static_cast<int32_t>(token);
  if (want_logprobs) {
    const bool use_raw = keep_raw && (raw_logprobs || out.all_masked);
    std::span<const float> src = use_raw ? std::span<const float>(s.raw) : std::span<const float>(row);
    ComputeLogprobs(src, out.token, *p->logprobs, &out, s.heap);
  }
}

std::vector<SampleResult> Sampler::Sample(float* logits, int64_t vocab_size, std::span<const SamplingRow> rows) {
  std::vector<SampleResult> out;
  Sample(logits, vocab_size, rows, out);
  return out;
}

void Sampler::Sample(float* logits, int64_t vocab_size, std::span<const SamplingRow> rows,
                     std::vector<SampleResult>& out) {
  out.resize(rows.size());
  if (reserved_vocab_ < vocab_size) ReserveScratch(vocab_size);
  // One captured pointer, so that std::function keeps the callable inline
  // instead of allocating it on every step.
  struct Job {
    Sampler* self;
    float* logits;
    int64_t vocab_size;
    std::span<const SamplingRow> rows;
    std::vector<SampleResult>* out;
  } job{this, logits, vocab_size, rows, &out};
  auto run = [j = &job](int64_t begin, int64_t end, int thread) {
    for (int64_t i = begin; i < end; ++i)
      j->self->SampleRow(j->logits + i * j->vocab_size, j->vocab_size, j->rows[i], (*j->out)[i], j->self->scratch_[thread]);
  };
  if (pool_ && rows.size() > 1) {
    pool_->Run(static_cast<int64_t>(rows.size()), run);
  } else {
    run(0, static_cast<int64_t>(rows.size()), 0);
  }
}

void Sampler::ReserveScratch(int64_t vocab_size) {
  // The lists whose length depends on the logits (survivors of a filter, the
  // top-p crossing bucket, tokens seen by the penalties) get room for the whole
  // vocabulary once, so that a later step with more survivors does not grow them.
  const size_t V = static_cast<size_t>(vocab_size);
  for (Scratch& s : scratch_) {
    s.raw.reserve(V);
    s.proc.values.reserve(V);
    s.proc.touched.reserve(V);
    s.proc.bucket_ids.reserve(V);
    s.proc.bucket_of.reserve(V);
    s.proc.weights.reserve(V);
    s.proc.block_mass.reserve(V / 256 + 1);
    s.proc.kept.reserve(V);
  }
  reserved_vocab_ = vocab_size;
}

}  // namespace pagoda::sample
