#pragma once
// Request: one sequence as the core sees it (vLLM V1's Request): token ids,
// num_computed_tokens, status, and the few sampling fields the core needs.
// SamplingParams itself lives in sample/; the runner gets it back through an
// opaque handle. Owned by the Scheduler; engine thread only.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/ids.h"

namespace pagoda::core {

enum class RequestStatus {
  kWaiting,
  kRunning,
  kPreempted,  // waiting again, to be recomputed
  kFinishedStopped,
  kFinishedLengthCapped,
  kFinishedAborted,
};

enum class FinishReason { kStop, kLength, kAbort };

const char* RequestStatusName(RequestStatus status);
const char* FinishReasonName(FinishReason reason);
bool IsFinished(RequestStatus status);
std::optional<FinishReason> FinishReasonOf(RequestStatus status);

// The runner's copy of the request's sampling parameters (a sample::SamplingParams
// once that layer exists). The core never looks inside.
using SamplingParamsHandle = std::shared_ptr<const void>;

// The sampling fields the core acts on.
struct RequestParams {
  std::optional<int> max_tokens{};  // output tokens; nullopt: up to max_model_len
  int min_tokens = 0;             // no stop condition but length before this many outputs
  bool ignore_eos = false;
  std::vector<TokenId> eos_token_ids{};   // from generation_config / the tokenizer
  std::vector<TokenId> stop_token_ids{};  // always stop, even with ignore_eos
  int n = 1;  // the engine fans out n > 1 with Scheduler::ForkRequest; the core only carries it
  std::string cache_salt{};  // isolates this request's prefix-cache entries
  int64_t lora_id = 0;
  int priority = 0;  // kept for a priority policy; FCFS ignores it

  Status Validate() const;
};

// Seconds on the scheduler's clock; nullopt until it happens.
struct RequestTimestamps {
  double arrival = 0.0;
  std::optional<double> first_scheduled;
  std::optional<double> first_token;
  std::optional<double> last_token;
};

class Request {
 public:
  Request(RequestId request_id, std::vector<TokenId> prompt_token_ids, RequestParams params,
          SamplingParamsHandle sampling_params = nullptr);

  RequestId request_id() const { return request_id_; }
  const RequestParams& params() const { return params_; }
  const SamplingParamsHandle& sampling_params() const { return sampling_params_; }

  std::span<const TokenId> prompt_token_ids() const { return std::span(all_token_ids_).first(num_prompt_tokens_); }
  std::span<const TokenId> output_token_ids() const { return std::span(all_token_ids_).subspan(num_prompt_tokens_); }
  std::span<const TokenId> all_token_ids() const { return all_token_ids_; }
  int num_prompt_tokens() const { return num_prompt_tokens_; }
  int num_output_tokens() const { return num_tokens() - num_prompt_tokens_; }
  int num_tokens() const { return static_cast<int>(all_token_ids_.size()); }

  int num_computed_tokens() const { return num_computed_tokens_; }
  void set_num_computed_tokens(int n);

  RequestStatus status() const { return status_; }
  void set_status(RequestStatus s) { status_ = s; }
  bool is_finished() const { return IsFinished(status_); }

  void AppendOutputToken(TokenId token) { all_token_ids_.push_back(token); }
  // Room for n tokens in all, so that appending allocates nothing until then
  // (the scheduler reserves prompt + max_tokens, capped at max_model_len).
  void ReserveTokens(int n) { all_token_ids_.reserve(static_cast<size_t>(n)); }
  int token_capacity() const { return static_cast<int>(all_token_ids_.capacity()); }
  // Replaces the last token, which must not be computed yet (a fork's own sample).
  void ReplaceLastToken(TokenId token);

  // FCFS order: smaller arrives first.
  uint64_t arrival_seq() const { return arrival_seq_; }
  void set_arrival_seq(uint64_t seq) { arrival_seq_ = seq; }
  RequestTimestamps& timestamps() { return timestamps_; }
  const RequestTimestamps& timestamps() const { return timestamps_; }

  int num_preemptions() const { return num_preemptions_; }
  void add_preemption() { ++num_preemptions_; }
  // Prompt tokens found in the prefix cache at the first scheduling.
  int num_cached_tokens() const { return num_cached_tokens_; }
  void set_num_cached_tokens(int n) { num_cached_tokens_ = n; }
  // The token that stopped the request (eos or a stop token id), if any.
  std::optional<TokenId> stop_token() const { return stop_token_; }
  void set_stop_token(TokenId t) { stop_token_ = t; }

  // Runner bookkeeping: whether the runner has this request in its persistent
  // batch, and how many of its tokens it has been sent.
  bool known_to_runner() const { return known_to_runner_; }
  void set_known_to_runner(bool known) { known_to_runner_ = known; }
  int num_tokens_sent() const { return num_tokens_sent_; }
  void set_num_tokens_sent(int n) { num_tokens_sent_ = n; }

  // A copy that continues from the same state under a new id (Fork).
  std::unique_ptr<Request> CloneAs(RequestId child_id) const;

 private:
  RequestId request_id_;
  std::vector<TokenId> all_token_ids_;
  int num_prompt_tokens_;
  RequestParams params_;
  SamplingParamsHandle sampling_params_;
  int num_computed_tokens_ = 0;
  RequestStatus status_ = RequestStatus::kWaiting;
  uint64_t arrival_seq_ = 0;
  RequestTimestamps timestamps_;
  int num_preemptions_ = 0;
  int num_cached_tokens_ = -1;
  std::optional<TokenId> stop_token_;
  bool known_to_runner_ = false;
  int num_tokens_sent_ = 0;
};

}  // namespace pagoda::core
