#include "core/stop_checker.h"

#include <algorithm>

namespace pagoda::core {
namespace {

bool Contains(const std::vector<TokenId>& ids, TokenId t) { return std::find(ids.begin(), ids.end(), t) != ids.end(); }

}  // namespace

std::optional<StopDecision> CheckStop(const Request& request, int max_model_len) {
  const RequestParams& p = request.params();
  const bool length_capped = request.num_tokens() >= max_model_len ||
                             (p.max_tokens && request.num_output_tokens() >= *p.max_tokens);
  if (request.num_output_tokens() > 0 && request.num_output_tokens() >= p.min_tokens) {
    const TokenId last = request.output_token_ids().back();
    if (!p.ignore_eos && Contains(p.eos_token_ids, last)) return StopDecision{RequestStatus::kFinishedStopped, last};
    if (Contains(p.stop_token_ids, last)) return StopDecision{RequestStatus::kFinishedStopped, last};
  }
  if (length_capped) return StopDecision{RequestStatus::kFinishedLengthCapped, std::nullopt};
  return std::nullopt;
}

}  // namespace pagoda::core
