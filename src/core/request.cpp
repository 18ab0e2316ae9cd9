#include "core/request.h"

#include "common/check.h"

namespace pagoda::core {

const char* RequestStatusName(RequestStatus status) {
  switch (status) {
    case RequestStatus::kWaiting: return "waiting";
    case RequestStatus::kRunning: return "running";
    case RequestStatus::kPreempted: return "preempted";
    case RequestStatus::kFinishedStopped: return "finished_stopped";
    case RequestStatus::kFinishedLengthCapped: return "finished_length_capped";
    case RequestStatus::kFinishedAborted: return "finished_aborted";
  }
  return "?";
}

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
  }
  return "?";
}

bool IsFinished(RequestStatus status) { return FinishReasonOf(status).has_value(); }

std::optional<FinishReason> FinishReasonOf(RequestStatus status) {
  switch (status) {
    case RequestStatus::kFinishedStopped: return FinishReason::kStop;
    case RequestStatus::kFinishedLengthCapped: return FinishReason::kLength;
    case RequestStatus::kFinishedAborted: return FinishReason::kAbort;
    default: return std::nullopt;
  }
}

Status RequestParams::Validate() const {
  if (max_tokens && *max_tokens < 1) return InvalidArgument("max_tokens must be at least 1, got " + std::to_string(*max_tokens));
  if (min_tokens < 0) return InvalidArgument("min_tokens must be >= 0, got " + std::to_string(min_tokens));
  if (max_tokens && min_tokens > *max_tokens) {
    return InvalidArgument("min_tokens (" + std::to_string(min_tokens) + ") exceeds max_tokens (" +
                           std::to_string(*max_tokens) + ")");
  }
  if (n < 1) return InvalidArgument("n must be at least 1, got " + std::to_string(n));
  return Status::Ok();
}

Request::Request(RequestId request_id, std::vector<TokenId> prompt_token_ids, RequestParams params,
                 SamplingParamsHandle sampling_params)
    : request_id_(request_id),
      all_token_ids_(std::move(prompt_token_ids)),
      num_prompt_tokens_(static_cast<int>(all_token_ids_.size())),
      params_(std::move(params)),
      sampling_params_(std::move(sampling_params)) {}

void Request::set_num_computed_tokens(int n) {
  PAGODA_CHECK(n >= 0 && n <= num_tokens());
  num_computed_tokens_ = n;
}

void Request::ReplaceLastToken(TokenId token) {
  PAGODA_CHECK(num_tokens() > num_computed_tokens_ && num_output_tokens() > 0);
  all_token_ids_.back() = token;
}

std::unique_ptr<Request> Request::CloneAs(RequestId child_id) const {
  auto child = std::make_unique<Request>(*this);
  child->all_token_ids_.reserve(all_token_ids_.capacity());  // a copy has only its size
  child->request_id_ = child_id;
  child->params_.n = 1;
  child->known_to_runner_ = false;
  child->num_tokens_sent_ = 0;
  child->num_preemptions_ = 0;
  return child;
}

}  // namespace pagoda::core
