#pragma once
// Stop conditions, checked after each appended output token (vLLM's check_stop):
// below min_tokens only the length limits apply; then eos (unless ignore_eos),
// stop_token_ids, then max_tokens and max_model_len. Pure; any thread.

#include <optional>

#include "core/request.h"

namespace pagoda::core {

struct StopDecision {
  RequestStatus status;               // kFinishedStopped or kFinishedLengthCapped
  std::optional<TokenId> stop_token;  // set for kFinishedStopped
};

std::optional<StopDecision> CheckStop(const Request& request, int max_model_len);

}  // namespace pagoda::core
