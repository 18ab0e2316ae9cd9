#include "runner/model_runner.h"

#include "sample/logprobs.h"

#include <algorithm>
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

core::SampleLogprobs ToLogprobs(const sample::SampleResult& r) {
  core::SampleLogprobs lp;
  lp.token_ids.push_back(r.token);
  lp.logprobs.push_back(r.logprob);
  for (const auto& t : r.top) {
    lp.token_ids.push_back(t.token);
    lp.logprobs.push_back(t.logprob);
  }
  lp.sampled_token_rank = r.rank;
  return lp;
}

ModelRunner::ModelRunner(model::Model& model, const RunnerConfig& config, ThreadPool& pool)
    : model_(model), config_(config), pool_(pool), sampler_(sample::SamplerConfig{}, &pool) {
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
    if (auto it = pending_sample_index_.find(r.request_id); it != pending_sample_index_.end()) {
      s.sample_index = it->second;
      pending_sample_index_.erase(it);
    }
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
  // prompt_logprobs rows: the logits at prompt position p predict prompt token p + 1.
  struct PromptRow {
    int32_t batch_row;
    CachedState* state;
    int32_t target;
  };
  std::vector<PromptRow> prompt_rows;
  for (const core::ScheduledTokens& st : out.num_scheduled_tokens) {
    auto it = states_.find(st.request_id);
    if (it == states_.end()) return Internal("runner: scheduled request " + std::to_string(st.request_id.value) + " is unknown");
    CachedState& s = it->second;
    if (s.num_computed_tokens + st.num_tokens > static_cast<int>(s.tokens.size()))
      return Internal("runner: request " + std::to_string(st.request_id.value) + " scheduled past its known tokens");
    const bool samples = s.num_computed_tokens + st.num_tokens == static_cast<int>(s.tokens.size());
    const int32_t row0 = static_cast<int32_t>(batch.token_ids.size());
    if (s.params && s.params->prompt_logprobs) {
      const int first = std::max(s.num_computed_tokens, static_cast<int>(s.prompt_logprobs.size()));
      const int end = std::min(s.num_computed_tokens + st.num_tokens, s.num_prompt_tokens - 1);
      for (int p = first; p < end; ++p) prompt_rows.push_back({row0 + (p - s.num_computed_tokens), &s, s.tokens[p + 1]});
    }
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
  const size_t num_sampling = batch.logits_indices.size();
  for (const PromptRow& pr : prompt_rows) batch.logits_indices.push_back(pr.batch_row);  // after the sampling rows
  logits_.resize(batch.logits_indices.size() * V);
  const auto tf = Clock::now();
  PAGODA_RETURN_IF_ERROR(model_.Forward(pool_, batch, *kv_, logits_.data()));
  last_forward_s_ = std::chrono::duration<double>(Clock::now() - tf).count();
  if (!prompt_rows.empty()) {
    std::vector<sample::TokenLogprob> heap;
    for (size_t i = 0; i < prompt_rows.size(); ++i) {
      const PromptRow& pr = prompt_rows[i];
      sample::SampleResult r;
      r.token = pr.target;
      sample::ComputeLogprobs(std::span<const float>(logits_.data() + (num_sampling + i) * V, V), pr.target,
                              *pr.state->params->prompt_logprobs, &r, heap);
      pr.state->prompt_logprobs.push_back(ToLogprobs(r));
    }
    logits_.resize(num_sampling * V);
  }

  // One sampling row per request, plus the extra child draws of a fan-out.
  std::vector<sample::SamplingRow> rows;
  std::vector<int> row_owner;  // index into sampling_states
  std::vector<float> fan_logits;
  std::vector<std::pair<size_t, int>> fan_rows;  // (owner, n_total) for owners that fan out
  rows.reserve(sampling_states.size());
  for (size_t i = 0; i < sampling_states.size(); ++i) {
    const CachedState& s = *sampling_states[i];
    sample::SamplingRow row;
    row.params = s.params.get();
    row.prompt_ids = std::span<const int32_t>(s.tokens).first(s.num_prompt_tokens);
    row.output_ids = std::span<const int32_t>(s.tokens).subspan(s.num_prompt_tokens);
    row.eos_ids = config_.eos_token_ids;
    row.request_seed = s.request_seed;
    row.sample_index = s.sample_index;
    rows.push_back(row);
    row_owner.push_back(static_cast<int>(i));
    const int n_total = s.params ? std::max(s.params->n, s.params->best_of.value_or(1)) : 1;
    if (n_total > 1 && row.output_ids.empty()) fan_rows.emplace_back(i, n_total);
  }
  // Fan-out rows sample from copies of the same logits (the sampler edits rows in place).
  size_t extra = 0;
  for (const auto& [owner, n_total] : fan_rows) extra += n_total - 1;
  if (extra > 0) {
    const size_t base = rows.size();
    std::vector<float> all(logits_.begin(), logits_.end());
    all.resize((base + extra) * V);
    size_t next = base;
    for (const auto& [owner, n_total] : fan_rows) {
      for (int c = 1; c < n_total; ++c, ++next) {
        std::copy(logits_.begin() + owner * V, logits_.begin() + (owner + 1) * V, all.begin() + next * V);
        sample::SamplingRow row = rows[owner];
        row.sample_index = static_cast<uint32_t>(c);
        rows.push_back(row);
        row_owner.push_back(static_cast<int>(owner));
      }
    }
    logits_.swap(all);
  }
  sampler_.Sample(logits_.data(), V, rows, samples_);
  const std::vector<sample::SampleResult>& all_samples = samples_;
  std::vector<sample::SampleResult> samples(all_samples.begin(), all_samples.begin() + sampling_states.size());
  if (extra > 0) {
    size_t next = sampling_states.size();
    for (const auto& [owner, n_total] : fan_rows) {
      Fanout f;
      f.request_id = sampling_ids[owner];
      f.draws.push_back(all_samples[owner]);
      for (int c = 1; c < n_total; ++c) f.draws.push_back(all_samples[next++]);
      // The request keeps the first draw that does not stop it, so it can be forked.
      const sample::SamplingParams* p = rows[owner].params;
      auto stops = [&](int32_t t) {
        if (std::find(p->stop_token_ids.begin(), p->stop_token_ids.end(), t) != p->stop_token_ids.end()) return true;
        return !p->ignore_eos && std::find(config_.eos_token_ids.begin(), config_.eos_token_ids.end(), t) != config_.eos_token_ids.end();
      };
      for (int c = 0; c < n_total; ++c) {
        if (!stops(f.draws[c].token)) {
          f.parent_index = c;
          break;
        }
      }
      samples[owner] = f.draws[f.parent_index];
      fanouts_.push_back(std::move(f));
    }
  }
  result.samples.resize(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    core::RequestSample& rs = result.samples[i];
    rs.request_id = sampling_ids[i];
    rs.sampled_token_ids.push_back(samples[i].token);
    if (rows[i].params && rows[i].params->prompt_logprobs && rows[i].output_ids.empty())
      prompt_logprobs_done_[sampling_ids[i]] = sampling_states[i]->prompt_logprobs;
    const sample::SamplingParams* p = rows[i].params;
    if (p && p->logprobs) rs.logprobs.push_back(ToLogprobs(samples[i]));
  }
  last_step_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace pagoda::runner
