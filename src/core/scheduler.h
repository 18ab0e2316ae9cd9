#pragma once
// Scheduler: continuous batching with one rule (vLLM V1): each request has
// num_tokens and num_computed_tokens, and every step gives scheduled requests
// num_scheduled_tokens under a token budget so the second catches up with the
// first. Prefill, chunked prefill, decode and prefix-cache hits are that rule.
//
// Policy (FCFS): running requests first, in order; then waiting ones in arrival
// order, while max_num_seqs and the budget allow. When blocks run out, the newest
// running request is preempted (blocks freed, back to the front of waiting, to be
// recomputed), and a step that preempted admits nobody. Finished and aborted
// requests free their blocks at once.
//
// Threads: the engine thread only, which owns this object; there are no locks.
// HTTP threads reach it through the engine's queue (add, abort) between steps.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "core/core_outputs.h"
#include "core/kv_cache_manager.h"
#include "core/model_runner_output.h"
#include "core/request.h"
#include "core/scheduler_config.h"
#include "core/scheduler_output.h"
#include "core/scheduler_stats.h"

namespace pagoda::core {

// Seconds on some monotonic clock; tests pass a fake one.
using Clock = std::function<double()>;
Clock SteadyClock();

class Scheduler {
 public:
  // The KV pool must hold one max_model_len request, so that a request alone
  // always runs to completion.
  static Result<std::unique_ptr<Scheduler>> Create(const SchedulerConfig& config, KvCacheConfig kv_config,
                                                   Clock clock = SteadyClock());
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request (status waiting). Fails for a duplicate id, an empty prompt,
  // a prompt of max_model_len tokens or more, or invalid params.
  Status AddRequest(std::unique_ptr<Request> request);
  // Finishes a waiting or running request now and frees its blocks; it shows up
  // with FinishReason::kAbort in the next UpdateFromOutput. NotFound if unknown.
  Status AbortRequest(RequestId id);
  // A new request `child` continuing from `parent`'s current state, sharing its
  // blocks; its last (not yet computed) token may be replaced by its own sample.
  // The first write into a shared partial block is copied (see SchedulerOutput).
  // Call it between UpdateFromOutput() and the next Schedule(), like Add/Abort.
  Status ForkRequest(RequestId parent, RequestId child, std::optional<TokenId> child_last_token = std::nullopt);

  SchedulerOutput Schedule();
  // The same into *out, reusing its vectors (and those of the previous
  // step's entries): a decode step of running requests allocates nothing
  // once the first steps have sized them (the engine loop keeps one).
  void Schedule(SchedulerOutput* out);
  // Appends sampled tokens, applies stop conditions, frees finished requests.
  CoreOutputs UpdateFromOutput(const SchedulerOutput& scheduler_output, const ModelRunnerOutput& runner_output);
  // The same into *result, reusing it as Schedule(out) does.
  void UpdateFromOutput(const SchedulerOutput& scheduler_output, const ModelRunnerOutput& runner_output, CoreOutputs* result);

  bool HasUnfinishedRequests() const { return !running_.empty() || !waiting_.empty(); }
  // Unfinished requests, or news still to deliver (finished ids for the runner,
  // abort outputs): the engine steps while this is true.
  bool HasWork() const {
    return HasUnfinishedRequests() || !finished_since_last_step_.empty() || !pending_aborts_.empty();
  }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  SchedulerStats stats() const;

  // nullptr once finished (finished requests are dropped after their last output).
  const Request* GetRequest(RequestId id) const;
  const std::vector<Request*>& running() const { return running_; }
  const std::deque<Request*>& waiting() const { return waiting_; }
  const KvCacheManager& kv_cache_manager() const { return kv_; }
  KvCacheManager& mutable_kv_cache_manager() { return kv_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  Scheduler(const SchedulerConfig& config, KvCacheConfig kv_config, Clock clock);

  // Caps num_new_tokens by the per-request threshold, the budget and max_model_len.
  int CapNewTokens(const Request& request, int num_new_tokens, int budget) const;
  void Preempt(Request* request, SchedulerOutput& out);
  void RecordScheduled(Request* request, int num_new_tokens, const SlotAllocation& alloc, double now,
                       SchedulerOutput& out);
  // Frees blocks, drops the request from the queues and the request table.
  void FinishRequest(Request* request, RequestStatus status);
  void RemoveFromQueues(Request* request);

  SchedulerConfig config_;
  KvCacheManager kv_;
  Clock clock_;
  std::unordered_map<RequestId, std::unique_ptr<Request>> requests_;
  std::vector<Request*> running_;  // admission order; the back is the newest
  std::deque<Request*> waiting_;   // the front is admitted next
  uint64_t next_arrival_seq_ = 0;
  std::vector<RequestId> finished_since_last_step_;  // for the runner
  std::vector<CoreRequestOutput> pending_aborts_;    // for the output processor
  SchedulerStats stats_;
  // Reused from step to step: entries of earlier outputs (their vectors keep
  // their capacity), the slot allocation, the samples by request id.
  CachedRequestData TakeSpareCached();
  CoreRequestOutput TakeSpareOutput();
  std::vector<CachedRequestData> spare_cached_;
  std::vector<CoreRequestOutput> spare_outputs_;
  SlotAllocation slot_;
  std::vector<std::pair<RequestId, const RequestSample*>> samples_by_id_;
};

}  // namespace pagoda::core
