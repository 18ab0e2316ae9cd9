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

void FillLogprobs(const sample::SampleResult& r, core::SampleLogprobs* lp) {
  lp->token_ids.clear();
  lp->logprobs.clear();
  lp->token_ids.push_back(r.token);
  lp->logprobs.push_back(r.logprob);
  for (const auto& t : r.top) {
    lp->token_ids.push_back(t.token);
    lp->logprobs.push_back(t.logprob);
  }
  lp->sampled_token_rank = r.rank;
}

core::SampleLogprobs ToLogprobs(const sample::SampleResult& r) {
  core::SampleLogprobs lp;
  FillLogprobs(r, &lp);
  return lp;
}

ModelRunner::ModelRunner(model::Model& model, const RunnerConfig& config, ThreadPool& pool)
    : model_(model), config_(config), pool_(pool), sampler_(sample::SamplerConfig{}, &pool) {
  const auto& c = model.config();
  kv_ = std::make_unique<backend::KvCache>(c.num_layers, config.num_blocks, config.block_size, c.num_kv_heads, c.head_dim,
                                             config.kv_dtype);
}

Result<core::ModelRunnerOutput> ModelRunner::Execute(const core::SchedulerOutput& out) {
  core::ModelRunnerOutput result;
  PAGODA_RETURN_IF_ERROR(Execute(out, &result));
  return result;
}

Status ModelRunner::Execute(const core::SchedulerOutput& out, core::ModelRunnerOutput* result) {
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
    // Room for the request's whole length, when it is known, so that decode
    // steps append without growing (an unknown bound grows geometrically).
    int64_t max_len = s.params && s.params->max_tokens ? s.num_prompt_tokens + static_cast<int64_t>(*s.params->max_tokens) : 0;
    if (config_.max_model_len > 0) max_len = max_len > 0 ? std::min<int64_t>(max_len, config_.max_model_len) : config_.max_model_len;
    if (max_len > 0) {
      s.tokens.reserve(static_cast<size_t>(max_len));
      s.block_table.reserve(static_cast<size_t>((max_len + config_.block_size - 1) / config_.block_size));
    }
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
  model::ForwardBatch& batch = batch_;
  batch.Clear();
  // The batch's block tables grow with the requests' tables: give them room
  // for every table's reserved length (its whole request when known), so that
  // a request crossing into a new block does not grow them.
  size_t table_room = 0;
  for (const core::ScheduledTokens& st : out.num_scheduled_tokens)
    if (auto it = states_.find(st.request_id); it != states_.end()) table_room += it->second.block_table.capacity();
  if (batch.block_tables.capacity() < table_room) batch.block_tables.reserve(std::max(table_room, 2 * batch.block_tables.capacity()));
  sampling_ids_.clear();
  sampling_states_.clear();
  prompt_rows_.clear();
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
      for (int p = first; p < end; ++p) prompt_rows_.push_back({row0 + (p - s.num_computed_tokens), &s, s.tokens[p + 1]});
    }
    batch.AddSequence(s.tokens, s.num_computed_tokens, st.num_tokens, s.block_table, config_.block_size, false);
    if (!samples) batch.logits_indices.pop_back();
    else {
      sampling_ids_.push_back(st.request_id);
      sampling_states_.push_back(&s);
    }
    s.num_computed_tokens += st.num_tokens;
  }

  if (batch.num_tokens() == 0) {
    result->samples.clear();
    return Status::Ok();
  }
  const int64_t V = model_.config().vocab_size;
  const size_t num_sampling = batch.logits_indices.size();
  for (const PromptRow& pr : prompt_rows_) batch.logits_indices.push_back(pr.batch_row);  // after the sampling rows
  logits_.resize(batch.logits_indices.size() * V);
  const auto tf = Clock::now();
  PAGODA_RETURN_IF_ERROR(model_.Forward(pool_, batch, *kv_, logits_.data()));
  last_forward_s_ = std::chrono::duration<double>(Clock::now() - tf).count();
  if (!prompt_rows_.empty()) {
    std::vector<sample::TokenLogprob> heap;
    for (size_t i = 0; i < prompt_rows_.size(); ++i) {
      const PromptRow& pr = prompt_rows_[i];
      sample::SampleResult r;
      r.token = pr.target;
      sample::ComputeLogprobs(std::span<const float>(logits_.data() + (num_sampling + i) * V, V), pr.target,
                              *pr.state->params->prompt_logprobs, &r, heap);
      pr.state->prompt_logprobs.push_back(ToLogprobs(r));
    }
    logits_.resize(num_sampling * V);
  }

  // One sampling row per request, plus the extra child draws of a fan-out.
  std::vector<sample::SamplingRow>& rows = rows_;
  rows.clear();
  fan_rows_.clear();
  for (size_t i = 0; i < sampling_states_.size(); ++i) {
    const CachedState& s = *sampling_states_[i];
    sample::SamplingRow row;
    row.params = s.params.get();
    row.prompt_ids = std::span<const int32_t>(s.tokens).first(s.num_prompt_tokens);
    row.output_ids = std::span<const int32_t>(s.tokens).subspan(s.num_prompt_tokens);
    row.eos_ids = config_.eos_token_ids;
    row.request_seed = s.request_seed;
    row.sample_index = s.sample_index;
    rows.push_back(row);
    const int n_total = s.params ? std::max(s.params->n, s.params->best_of.value_or(1)) : 1;
    if (n_total > 1 && row.output_ids.empty()) fan_rows_.emplace_back(i, n_total);
  }
  // Fan-out rows sample from copies of the same logits (the sampler edits rows
  // in place). Only at a request's first sample, so this allocation is not in
  // the steady state.
  size_t extra = 0;
  for (const auto& [owner, n_total] : fan_rows_) extra += n_total - 1;
  if (extra > 0) {
    const size_t base = rows.size();
    std::vector<float> all(logits_.begin(), logits_.end());
    all.resize((base + extra) * V);
    size_t next = base;
    for (const auto& [owner, n_total] : fan_rows_) {
      for (int c = 1; c < n_total; ++c, ++next) {
        std::copy(logits_.begin() + owner * V, logits_.begin() + (owner + 1) * V, all.begin() + next * V);
        sample::SamplingRow row = rows[owner];
        row.sample_index = static_cast<uint32_t>(c);
        rows.push_back(row);
      }
    }
    logits_.swap(all);
  }
  sampler_.Sample(logits_.data(), V, rows, samples_);
  // samples_[0, sampling_states_.size()) are the requests' own draws; a fan-out
  // owner's entry is replaced by the draw it keeps (after its draws are copied).
  std::vector<sample::SampleResult>& samples = samples_;
  if (extra > 0) {
    size_t next = sampling_states_.size();
    for (const auto& [owner, n_total] : fan_rows_) {
      Fanout f;
      f.request_id = sampling_ids_[owner];
      f.draws.push_back(samples[owner]);
      for (int c = 1; c < n_total; ++c) f.draws.push_back(samples[next++]);
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
  const size_t n = sampling_states_.size();
  result->samples.resize(n);
  for (size_t i = 0; i < n; ++i) {
    core::RequestSample& rs = result->samples[i];
    rs.request_id = sampling_ids_[i];
    rs.sampled_token_ids.clear();
    rs.sampled_token_ids.push_back(samples[i].token);
    if (rows[i].params && rows[i].params->prompt_logprobs && rows[i].output_ids.empty())
      prompt_logprobs_done_[sampling_ids_[i]] = sampling_states_[i]->prompt_logprobs;
    const sample::SamplingParams* p = rows[i].params;
    if (p && p->logprobs) {
      rs.logprobs.resize(1);
      FillLogprobs(samples[i], &rs.logprobs[0]);
    } else {
      rs.logprobs.clear();
    }
  }
  last_step_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace pagoda::runner
