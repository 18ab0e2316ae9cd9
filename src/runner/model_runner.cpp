#include "runner/model_runner.h"

#include <chrono>

namespace pagoda::runner {

namespace {

std::vector<int32_t> ToInts(const std::vector<core::BlockId>& ids) {
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (core::BlockId b : ids) out.push_back(b.value);
  return out;
}

}  // namespace

ModelRunner::ModelRunner(model::Model& model, const RunnerConfig& config, ThreadPool& pool)
    : model_(model), config_(config), pool_(pool) {
  const auto& c = model.config();
  kv_ = std::make_unique<backend::KvCache>(c.num_layers, config.num_blocks, config.block_size, c.num_kv_heads, c.head_dim);
}

Result<core::ModelRunnerOutput> ModelRunner::Execute(const core::SchedulerOutput& out) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (core::RequestId id : out.finished_req_ids) states_.erase(id);
  for (core::RequestId id : out.preempted_req_ids) states_.erase(id);
  for (const core::BlockCopy& cp : out.block_copies) kv_->CopyBlock(cp.src.value, cp.dst.value);

  for (const core::NewRequestData& r : out.scheduled_new_reqs) {
    CachedState s;
    s.tokens.assign(r.all_token_ids.begin(), r.all_token_ids.end());
    s.num_prompt_tokens = static_cast<int>(r.prompt_token_ids.size());
    s.block_table = ToInts(r.block_ids);
    s.num_computed_tokens = r.num_computed_tokens;
    s.params = std::static_pointer_cast<const sample::SamplingParams>(r.sampling_params);
    s.request_seed = r.request_id.value * 0x9E3779B97F4A7C15ull;
    states_[r.request_id] = std::move(s);
  }
  for (const core::CachedRequestData& d : out.scheduled_cached_reqs) {
    auto it = states_.find(d.request_id);
    if (it == states_.end()) return Internal("runner: cached request " + std::to_string(d.request_id.value) + " is unknown");
    CachedState& s = it->second;
    for (const auto& rb : d.replaced_blocks) {
      if (rb.block_index < 0 || rb.block_index >= static_cast<int>(s.block_table.size())) return Internal("runner: replaced block out of range");
      s.block_table[rb.block_index] = rb.block_id.value;
    }
    for (core::BlockId b : d.new_block_ids) s.block_table.push_back(b.value);
    s.tokens.insert(s.tokens.end(), d.new_token_ids.begin(), d.new_token_ids.end());
    s.num_computed_tokens = d.num_computed_tokens;
  }

  // Build the flattened batch in scheduling order; only rows that reach their
  // token count sample (a partial prefill chunk does not).
  model::ForwardBatch batch;
  std::vector<core::RequestId> sampling_ids;
  std::vector<const CachedState*> sampling_states;
  for (const core::ScheduledTokens& st : out.num_scheduled_tokens) {
    auto it = states_.find(st.request_id);
    if (it == states_.end()) return Internal("runner: scheduled request " + std::to_string(st.request_id.value) + " is unknown");
    CachedState& s = it->second;
    if (s.num_computed_tokens + st.num_tokens > static_cast<int>(s.tokens.size()))
      return Internal("runner: request " + std::to_string(st.request_id.value) + " scheduled past its known tokens");
    const bool samples = s.num_computed_tokens + st.num_tokens == static_cast<int>(s.tokens.size());
    batch.AddSequence(s.tokens, s.num_computed_tokens, st.num_tokens, s.block_table, config_.block_size, false);
    if (!samples) batch.logits_indices.pop_back();
    else {
      sampling_ids.push_back(st.request_id);
      sampling_states.push_back(&s);
    }
    s.num_computed_tokens += st.num_tokens;
  }

  core::ModelRunnerOutput result;
  if (batch.num_tokens() == 0) return result;
  const int64_t V = model_.config().vocab_size;
  logits_.resize(batch.logits_indices.size() * V);
  const auto tf = Clock::now();
  PAGODA_RETURN_IF_ERROR(model_.Forward(pool_, batch, *kv_, logits_.data()));
  last_forward_s_ = std::chrono::duration<double>(Clock::now() - tf).count();

  std::vector<sample::SamplingRow> rows(sampling_states.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const CachedState& s = *sampling_states[i];
    rows[i].params = s.params.get();
    rows[i].prompt_ids = std::span<const int32_t>(s.tokens).first(s.num_prompt_tokens);
    rows[i].output_ids = std::span<const int32_t>(s.tokens).subspan(s.num_prompt_tokens);
    rows[i].eos_ids = config_.eos_token_ids;
    rows[i].request_seed = s.request_seed;
  }
  std::vector<sample::SampleResult> samples = sampler_.Sample(logits_.data(), V, rows);
  result.samples.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    core::RequestSample& rs = result.samples[i];
    rs.request_id = sampling_ids[i];
    rs.sampled_token_ids.push_back(samples[i].token);
    const sample::SamplingParams* p = rows[i].params;
    if (p && p->logprobs) {
      core::SampleLogprobs lp;
      lp.token_ids.push_back(samples[i].token);
      lp.logprobs.push_back(samples[i].logprob);
      for (const auto& t : samples[i].top) {
        lp.token_ids.push_back(t.token);
        lp.logprobs.push_back(t.logprob);
      }
      lp.sampled_token_rank = samples[i].rank;
      rs.logprobs.push_back(std::move(lp));
    }
  }
  last_step_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace pagoda::runner
