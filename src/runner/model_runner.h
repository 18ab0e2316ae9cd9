#pragma once
// ModelRunner: SchedulerOutput -> batch tensors -> model -> sampler ->
// ModelRunnerOutput. It keeps a persistent batch keyed by request id (token
// ids, block table, num_computed_tokens, sampling params), so each step applies
// only the scheduler's diffs. Engine thread only.

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend/kv_cache.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "core/model_runner_output.h"
#include "core/scheduler_output.h"
#include "model/model.h"
#include "sample/sampler.h"

namespace pagoda::runner {

struct RunnerConfig {
  int block_size = 16;
  int num_blocks = 0;  // including the null block 0
  std::vector<int32_t> eos_token_ids;  // for min_tokens
  // Upper bound on a request's length (0 = unknown). With it, or with a
  // request's max_tokens, the runner sizes a request's token list and block
  // table once when it arrives, so later decode steps do not grow them.
  int max_model_len = 0;
  backend::KvDType kv_dtype = backend::KvDType::kF32;  // element type of the KV cache
};

// The sampled token first, then the top candidates (vLLM's logprobs layout).
core::SampleLogprobs ToLogprobs(const sample::SampleResult& r);
// Same, into *out, reusing its vectors' capacity.
void FillLogprobs(const sample::SampleResult& r, core::SampleLogprobs* out);

class ModelRunner {
 public:
  ModelRunner(model::Model& model, const RunnerConfig& config, ThreadPool& pool);

  // Runs one step. An error is an internal failure of the step (a broken
  // contract); user input problems are caught before requests reach the core.
  Result<core::ModelRunnerOutput> Execute(const core::SchedulerOutput& out);
  // Same, into *result (overwritten; unspecified after an error). Passing the
  // same object every step keeps its vectors' capacity: a steady decode step
  // (same running requests, no logprobs) then allocates nothing at all.
  Status Execute(const core::SchedulerOutput& out, core::ModelRunnerOutput* result);

  // n > 1 / best_of: at a request's first sample the runner draws one token per
  // child stream from the same logits. The request itself carries draw
  // `parent_index` (the first that does not end it, so that it lives to be
  // forked); the engine forks the others from it.
  struct Fanout {
    core::RequestId request_id;
    std::vector<sample::SampleResult> draws;  // one per child stream, index = sample_index
    int parent_index = 0;
  };
  std::vector<Fanout> TakeFanouts() { return std::move(fanouts_); }
  // The random stream a forked child continues with (call before it is scheduled).
  void SetSampleIndex(core::RequestId id, uint32_t index) { pending_sample_index_[id] = index; }

  // prompt_logprobs of requests whose prefill finished this step: one entry per
  // prompt token after the first (the token itself first, then the top ones).
  std::unordered_map<core::RequestId, std::vector<core::SampleLogprobs>> TakePromptLogprobs() {
    return std::move(prompt_logprobs_done_);
  }

  int num_cached_requests() const { return static_cast<int>(states_.size()); }
  const backend::KvCache& kv_cache() const { return *kv_; }
  double last_forward_seconds() const { return last_forward_s_; }
  double last_step_seconds() const { return last_step_s_; }

 private:
  struct CachedState {
    std::vector<int32_t> tokens;  // prompt + outputs known to the runner
    int num_prompt_tokens = 0;
    std::vector<int32_t> block_table;
    int num_computed_tokens = 0;
    std::shared_ptr<const sample::SamplingParams> params;  // null = greedy
    uint64_t request_seed = 0;
    uint32_t sample_index = 0;
    std::vector<core::SampleLogprobs> prompt_logprobs;  // targets 1..prompt_logprobs.size()
  };

  model::Model& model_;
  RunnerConfig config_;
  ThreadPool& pool_;
  std::unique_ptr<backend::KvCache> kv_;
  std::unordered_map<core::RequestId, CachedState> states_;
  sample::Sampler sampler_;
  std::vector<sample::SampleResult> samples_;  // keeps its capacity between steps
  std::vector<Fanout> fanouts_;
  std::unordered_map<core::RequestId, std::vector<core::SampleLogprobs>> prompt_logprobs_done_;
  std::unordered_map<core::RequestId, uint32_t> pending_sample_index_;
  std::vector<float> logits_;
  double last_forward_s_ = 0, last_step_s_ = 0;

  // Per-step scratch, kept so that a step no larger than an earlier one does
  // not allocate.
  struct PromptRow {  // prompt_logprobs: the logits at prompt position p predict prompt token p + 1
    int32_t batch_row;
    CachedState* state;
    int32_t target;
  };
  model::ForwardBatch batch_;
  std::vector<core::RequestId> sampling_ids_;
  std::vector<const CachedState*> sampling_states_;
  std::vector<PromptRow> prompt_rows_;
  std::vector<sample::SamplingRow> rows_;
  std::vector<std::pair<size_t, int>> fan_rows_;  // (owner, n_total) for owners that fan out
};

}  // namespace pagoda::runner
