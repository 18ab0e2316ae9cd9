#include "core/scheduler.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "common/check.h"
#include "core/stop_checker.h"

namespace pagoda::core {

Clock SteadyClock() {
  return [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
}

int SchedulerOutput::NumScheduledTokens(RequestId id) const {
  for (const ScheduledTokens& s : num_scheduled_tokens) {
    if (s.request_id == id) return s.num_tokens;
  }
  return 0;
}

Result<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerConfig& config, KvCacheConfig kv_config,
                                                     Clock clock) {
  PAGODA_RETURN_IF_ERROR(config.Validate());
  PAGODA_RETURN_IF_ERROR(kv_config.Validate());
  const int64_t capacity = static_cast<int64_t>(kv_config.num_blocks - 1) * kv_config.block_size;
  if (capacity < config.max_model_len) {
    return InvalidArgument("the KV cache holds " + std::to_string(capacity) + " tokens (" +
                           std::to_string(kv_config.num_blocks - 1) + " blocks of " +
                           std::to_string(kv_config.block_size) + "), less than max_model_len " +
                           std::to_string(config.max_model_len));
  }
  if (!clock) return InvalidArgument("the scheduler needs a clock");
  return std::unique_ptr<Scheduler>(new Scheduler(config, std::move(kv_config), std::move(clock)));
}

Scheduler::Scheduler(const SchedulerConfig& config, KvCacheConfig kv_config, Clock clock)
    : config_(config), kv_(std::move(kv_config)), clock_(std::move(clock)) {
  running_.reserve(static_cast<size_t>(config_.max_num_seqs));
  finished_since_last_step_.reserve(static_cast<size_t>(config_.max_num_seqs));
}

CachedRequestData Scheduler::TakeSpareCached() {
  if (spare_cached_.empty()) {
    CachedRequestData c;
    c.new_token_ids.reserve(4);  // room for a decode step's token and block
    c.new_block_ids.reserve(4);
    return c;
  }
  CachedRequestData c = std::move(spare_cached_.back());
  spare_cached_.pop_back();
  return c;
}

CoreRequestOutput Scheduler::TakeSpareOutput() {
  if (spare_outputs_.empty()) {
    CoreRequestOutput o;
    o.new_token_ids.reserve(4);
    return o;
  }
  CoreRequestOutput o = std::move(spare_outputs_.back());
  spare_outputs_.pop_back();
  o.new_token_ids.clear();
  o.new_logprobs.clear();
  o.finish_reason.reset();
  o.stop_token.reset();
  o.num_cached_tokens = 0;
  o.timestamps = {};
  return o;
}

Status Scheduler::AddRequest(std::unique_ptr<Request> request) {
  PAGODA_CHECK(request != nullptr);
  const RequestId id = request->request_id();
  if (requests_.count(id)) return InvalidArgument("duplicate request id " + std::to_string(id.value));
  if (request->num_prompt_tokens() == 0) return InvalidArgument("request " + std::to_string(id.value) + ": empty prompt");
  if (request->num_prompt_tokens() >= config_.max_model_len) {
    return OutOfRange("request " + std::to_string(id.value) + ": prompt of " +
                      std::to_string(request->num_prompt_tokens()) + " tokens leaves no room under max_model_len " +
                      std::to_string(config_.max_model_len));
  }
  PAGODA_RETURN_IF_ERROR(request->params().Validate().WithContext("request " + std::to_string(id.value)));
  PAGODA_CHECK(request->num_output_tokens() == 0 && request->num_computed_tokens() == 0);
  const int64_t max_out = request->params().max_tokens.value_or(config_.max_model_len);
  request->ReserveTokens(static_cast<int>(std::min<int64_t>(config_.max_model_len, request->num_prompt_tokens() + max_out)));
  request->set_status(RequestStatus::kWaiting);
  request->set_arrival_seq(next_arrival_seq_++);
  request->timestamps().arrival = clock_();
  waiting_.push_back(request.get());
  requests_.emplace(id, std::move(request));
  return Status::Ok();
}

Status Scheduler::AbortRequest(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return NotFound("no unfinished request " + std::to_string(id.value));
  Request* r = it->second.get();
  CoreRequestOutput out;
  out.request_id = id;
  out.finish_reason = FinishReason::kAbort;
  out.num_cached_tokens = std::max(0, r->num_cached_tokens());
  out.timestamps = r->timestamps();
  pending_aborts_.push_back(std::move(out));
  FinishRequest(r, RequestStatus::kFinishedAborted);
  return Status::Ok();
}

Status Scheduler::ForkRequest(RequestId parent_id, RequestId child_id, std::optional<TokenId> child_last_token) {
  auto it = requests_.find(parent_id);
  if (it == requests_.end()) return NotFound("no unfinished request " + std::to_string(parent_id.value));
  if (requests_.count(child_id)) return InvalidArgument("duplicate request id " + std::to_string(child_id.value));
  Request* parent = it->second.get();
  const bool running = parent->status() == RequestStatus::kRunning;
  if (running && num_running() >= config_.max_num_seqs) {
    return ResourceExhausted("cannot fork request " + std::to_string(parent_id.value) + ": max_num_seqs (" +
                             std::to_string(config_.max_num_seqs) + ") requests are running");
  }
  if (running && parent->num_computed_tokens() >= parent->num_tokens()) {
    return FailedPrecondition("cannot fork request " + std::to_string(parent_id.value) +
                              " between Schedule() and UpdateFromOutput()");
  }
  std::unique_ptr<Request> child = parent->CloneAs(child_id);
  if (child_last_token) {
    if (child->num_output_tokens() == 0 || child->num_computed_tokens() >= child->num_tokens()) {
      return FailedPrecondition("request " + std::to_string(parent_id.value) +
                                " has no uncomputed output token to replace");
    }
    child->ReplaceLastToken(*child_last_token);
  }
  child->set_arrival_seq(next_arrival_seq_++);
  if (running) {
    kv_.Fork(*parent, *child);
    running_.push_back(child.get());
  } else {
    waiting_.push_back(child.get());
  }
  requests_.emplace(child_id, std::move(child));
  return Status::Ok();
}

int Scheduler::CapNewTokens(const Request& request, int num_new_tokens, int budget) const {
  if (config_.long_prefill_token_threshold > 0) {
    num_new_tokens = std::min(num_new_tokens, config_.long_prefill_token_threshold);
  }
  num_new_tokens = std::min(num_new_tokens, budget);
  // Positions stay below max_model_len.
  return std::min(num_new_tokens, config_.max_model_len - request.num_computed_tokens());
}

void Scheduler::Preempt(Request* request, SchedulerOutput& out) {
  kv_.Free(*request);
  request->set_num_computed_tokens(0);
  request->set_status(RequestStatus::kPreempted);
  request->add_preemption();
  if (request->known_to_runner()) out.preempted_req_ids.push_back(request->request_id());
  request->set_known_to_runner(false);
  request->set_num_tokens_sent(0);
  waiting_.push_front(request);
  ++stats_.num_preemptions;
}

void Scheduler::RecordScheduled(Request* r, int num_new_tokens, const SlotAllocation& alloc, double now,
                                SchedulerOutput& out) {
  out.num_scheduled_tokens.push_back({r->request_id(), num_new_tokens});
  out.total_num_scheduled_tokens += num_new_tokens;
  if (alloc.copy_on_write) out.block_copies.push_back({alloc.copy_on_write->src, alloc.copy_on_write->dst});
  std::span<const TokenId> tokens = r->all_token_ids();
  if (!r->known_to_runner()) {
    NewRequestData d;
    d.request_id = r->request_id();
    d.prompt_token_ids.assign(r->prompt_token_ids().begin(), r->prompt_token_ids().end());
    d.all_token_ids.assign(tokens.begin(), tokens.end());
    d.block_ids = kv_.GetBlockIds(r->request_id());
    d.num_computed_tokens = r->num_computed_tokens();
    d.sampling_params = r->sampling_params();
    out.scheduled_new_reqs.push_back(std::move(d));
    r->set_known_to_runner(true);
  } else {
    CachedRequestData c = TakeSpareCached();
    c.request_id = r->request_id();
    c.new_token_ids.assign(tokens.begin() + r->num_tokens_sent(), tokens.end());
    c.new_block_ids.assign(alloc.new_block_ids.begin(), alloc.new_block_ids.end());
    c.replaced_blocks.clear();
    if (alloc.copy_on_write) c.replaced_blocks.push_back({alloc.copy_on_write->block_index, alloc.copy_on_write->dst});
    c.num_computed_tokens = r->num_computed_tokens();
    out.scheduled_cached_reqs.push_back(std::move(c));
  }
  r->set_num_tokens_sent(r->num_tokens());
  if (!r->timestamps().first_scheduled) r->timestamps().first_scheduled = now;
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  Schedule(&out);
  return out;
}

void Scheduler::Schedule(SchedulerOutput* out_ptr) {
  SchedulerOutput& out = *out_ptr;
  for (CachedRequestData& c : out.scheduled_cached_reqs) spare_cached_.push_back(std::move(c));
  out.scheduled_cached_reqs.clear();
  out.scheduled_new_reqs.clear();
  out.num_scheduled_tokens.clear();
  out.total_num_scheduled_tokens = 0;
  out.block_copies.clear();
  out.preempted_req_ids.clear();
  out.finished_req_ids.clear();
  out.finished_req_ids.swap(finished_since_last_step_);
  // It now holds the caller's old buffer: give it room for a step's finishes
  // (allocates in the first steps only, until both buffers have it).
  finished_since_last_step_.reserve(static_cast<size_t>(config_.max_num_seqs));
  const double now = clock_();
  int budget = config_.max_num_batched_tokens;
  const int64_t preemptions_before = stats_.num_preemptions;

  // Running requests first, oldest first.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request* r = running_[i];
    const int n = CapNewTokens(*r, r->num_tokens() - r->num_computed_tokens(), budget);
    if (n <= 0) {
      ++i;
      continue;
    }
    bool allocated = false;
    while (!(allocated = kv_.AllocateSlots(*r, n, {}, &slot_))) {
      Request* victim = running_.back();
      running_.pop_back();
      Preempt(victim, out);
      if (victim == r) break;
    }
    if (!allocated) break;  // r itself was preempted; everything after it already was
    RecordScheduled(r, n, slot_, now, out);
    budget -= n;
    ++i;
  }

  // Then waiting ones, in arrival order, unless this step had to preempt.
  if (stats_.num_preemptions == preemptions_before) {
    while (!waiting_.empty() && budget > 0 && num_running() < config_.max_num_seqs) {
      Request* r = waiting_.front();
      PAGODA_CHECK(r->num_computed_tokens() == 0);
      ComputedBlocks computed = kv_.GetComputedBlocks(*r);
      const int num_uncomputed = r->num_tokens() - computed.num_computed_tokens;
      if (!config_.enable_chunked_prefill && num_uncomputed > budget) break;
      const int n = std::min(CapNewTokens(*r, num_uncomputed, budget),
                             config_.max_model_len - computed.num_computed_tokens);
      PAGODA_CHECK(n > 0);
      if (!kv_.AllocateSlots(*r, n, computed, &slot_)) break;
      waiting_.pop_front();
      running_.push_back(r);
      stats_.prefix_cache_queries += r->num_tokens();
      stats_.prefix_cache_hits += computed.num_computed_tokens;
      if (r->num_cached_tokens() < 0) r->set_num_cached_tokens(computed.num_computed_tokens);
      r->set_num_computed_tokens(computed.num_computed_tokens);
      r->set_status(RequestStatus::kRunning);
      RecordScheduled(r, n, slot_, now, out);
      budget -= n;
    }
  }

  // The tokens are as good as computed: the next Schedule() builds on them.
  for (const ScheduledTokens& s : out.num_scheduled_tokens) {
    Request* r = requests_.at(s.request_id).get();
    r->set_num_computed_tokens(r->num_computed_tokens() + s.num_tokens);
  }
  stats_.num_scheduled_tokens += out.total_num_scheduled_tokens;
  if (!out.empty()) ++stats_.num_steps;
}

CoreOutputs Scheduler::UpdateFromOutput(const SchedulerOutput& scheduler_output,
                                        const ModelRunnerOutput& runner_output) {
  CoreOutputs result;
  UpdateFromOutput(scheduler_output, runner_output, &result);
  return result;
}

void Scheduler::UpdateFromOutput(const SchedulerOutput& scheduler_output, const ModelRunnerOutput& runner_output,
                                 CoreOutputs* result_ptr) {
  CoreOutputs& result = *result_ptr;
  for (CoreRequestOutput& o : result.outputs) spare_outputs_.push_back(std::move(o));
  result.outputs.clear();
  for (CoreRequestOutput& o : pending_aborts_) result.outputs.push_back(std::move(o));
  pending_aborts_.clear();
  const double now = clock_();
  // The samples by request id (sorted, searched): no node allocations.
  samples_by_id_.clear();
  for (const RequestSample& s : runner_output.samples) samples_by_id_.emplace_back(s.request_id, &s);
  std::sort(samples_by_id_.begin(), samples_by_id_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto find_sample = [&](RequestId id) -> const RequestSample* {
    auto it = std::lower_bound(samples_by_id_.begin(), samples_by_id_.end(), id,
                               [](const auto& e, RequestId v) { return e.first < v; });
    return it != samples_by_id_.end() && it->first == id ? it->second : nullptr;
  };

  for (const ScheduledTokens& scheduled : scheduler_output.num_scheduled_tokens) {
    auto it = requests_.find(scheduled.request_id);
    if (it == requests_.end()) continue;  // aborted after Schedule()
    Request* r = it->second.get();
    if (r->status() != RequestStatus::kRunning) continue;
    // A partial prefill chunk produces no token.
    if (r->num_computed_tokens() < r->num_tokens()) continue;
    const RequestSample* found = find_sample(r->request_id());
    if (found == nullptr || found->sampled_token_ids.empty()) continue;
    const RequestSample& sample = *found;

    CoreRequestOutput out = TakeSpareOutput();
    out.request_id = r->request_id();
    std::optional<StopDecision> stop;
    for (size_t k = 0; k < sample.sampled_token_ids.size() && !stop; ++k) {
      if (!r->timestamps().first_token) {
        r->timestamps().first_token = now;
        stats_.num_prompt_tokens += r->num_prompt_tokens();
      }
      r->AppendOutputToken(sample.sampled_token_ids[k]);
      out.new_token_ids.push_back(sample.sampled_token_ids[k]);
      if (k < sample.logprobs.size()) out.new_logprobs.push_back(sample.logprobs[k]);
      ++stats_.num_generation_tokens;
      stop = CheckStop(*r, config_.max_model_len);
    }
    r->timestamps().last_token = now;
    out.num_cached_tokens = std::max(0, r->num_cached_tokens());
    if (stop) {
      out.finish_reason = FinishReasonOf(stop->status);
      out.stop_token = stop->stop_token;
      if (stop->stop_token) r->set_stop_token(*stop->stop_token);
    }
    out.timestamps = r->timestamps();
    result.outputs.push_back(std::move(out));
    if (stop) FinishRequest(r, stop->status);
  }
}

void Scheduler::RemoveFromQueues(Request* request) {
  if (auto it = std::find(running_.begin(), running_.end(), request); it != running_.end()) {
    running_.erase(it);
    return;
  }
  if (auto it = std::find(waiting_.begin(), waiting_.end(), request); it != waiting_.end()) waiting_.erase(it);
}

void Scheduler::FinishRequest(Request* request, RequestStatus status) {
  PAGODA_CHECK(IsFinished(status));
  RemoveFromQueues(request);
  kv_.Free(*request);
  request->set_status(status);
  if (request->known_to_runner()) finished_since_last_step_.push_back(request->request_id());
  requests_.erase(request->request_id());  // `request` dangles from here
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s = stats_;
  s.num_running = num_running();
  s.num_waiting = num_waiting();
  s.kv_cache_usage = kv_.usage();
  return s;
}

const Request* Scheduler::GetRequest(RequestId id) const {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

}  // namespace pagoda::core
