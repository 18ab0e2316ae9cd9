#pragma once
// Sampler: turns one step's logits into tokens, one row per request that
// samples. Logits processors are applied in vLLM V1's order (sampler.cpp has
// the list and where HF differs). Deterministic: a row draws with a uniform
// keyed by (seed, sample_index, number of tokens it has generated), so its
// samples do not depend on the rest of the batch or on step boundaries.
// Engine thread only (it keeps scratch buffers; no allocation per call once
// they have grown).

#include <cstdint>
#include <span>
#include <vector>

#include "common/thread_pool.h"
#include "sample/logits_processors.h"
#include "sample/sample_result.h"
#include "sample/sampling_params.h"

namespace pagoda::sample {

struct SamplingRow {
  const SamplingParams* params = nullptr;  // null = greedy
  std::span<const int32_t> prompt_ids;
  std::span<const int32_t> output_ids;     // generated so far (before this step)
  std::span<const int32_t> eos_ids;        // blocked while output_ids.size() < min_tokens (unless ignore_eos)
  uint64_t request_seed = 0;               // used when params->seed is unset (per-request stream)
  uint32_t sample_index = 0;               // child i of an n > 1 request: its own random stream
};

// Which distribution the reported logprobs come from (vLLM's logprobs_mode).
enum class LogprobsMode {
  kRawLogprobs,        // log_softmax of the model's logits, before any processor (vLLM's default)
  kProcessedLogprobs,  // log_softmax of the logits actually sampled from (after penalties, temperature, top-k/p)
};

struct SamplerConfig {
  LogprobsMode logprobs_mode = LogprobsMode::kRawLogprobs;
};

// Below this temperature a row is greedy (vLLM's _SAMPLING_EPS).
inline constexpr double kSamplingEps = 1e-5;

class Sampler {
 public:
  // pool (may be null: one thread) splits the rows across threads.
  explicit Sampler(SamplerConfig config = {}, ThreadPool* pool = nullptr);

  // logits: rows.size() x vocab_size, row-major; modified in place. Each row's
  // params must have passed Validate(vocab_size) (token ids in range); eos_ids
  // must be in range too. The sampler reads temperature, top_p, top_k, min_p,
  // the penalties, logit_bias, allowed_token_ids, bad_words_ids, min_tokens,
  // ignore_eos, stop_token_ids, seed and logprobs; n, best_of, beams, stop
  // strings and max_tokens belong to the engine.
  std::vector<SampleResult> Sample(float* logits, int64_t vocab_size, std::span<const SamplingRow> rows);
  // Same, into a caller-owned vector that keeps its capacity between steps.
  void Sample(float* logits, int64_t vocab_size, std::span<const SamplingRow> rows, std::vector<SampleResult>& out);

  // The processor chain without the draw: turns one row of raw logits into the
  // logits the row samples from (filtered tokens at -inf). A greedy row stops
  // after the penalties (temperature and the top-k/top-p/min-p filters do not
  // change its argmax). Exposed for the golden tests.
  void ProcessLogits(std::span<float> row, const SamplingRow& r);

  // The uniform a row's draw uses at this step.
  static double RowUniform(const SamplingRow& r);

 private:
  struct Scratch {
    ProcessorScratch proc;
    std::vector<float> raw;  // raw logits kept for logprobs
    std::vector<TokenLogprob> heap;
  };
  void SampleRow(float* row, int64_t vocab_size, const SamplingRow& r, SampleResult& out, Scratch& s);
  // *sparse: top-k left its survivors in s.kept (the draw can use them).
  void ProcessRow(std::span<float> row, const SamplingRow& r, ProcessorScratch& s, bool* sparse);
  void ReserveScratch(int64_t vocab_size);

  SamplerConfig config_;
  ThreadPool* pool_;
  std::vector<Scratch> scratch_;  // one per pool thread
  int64_t reserved_vocab_ = 0;    // scratch_ lists have room for this many tokens
};

}  // namespace pagoda::sample
