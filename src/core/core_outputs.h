#pragma once
// What Scheduler::UpdateFromOutput hands the output processor: each request's new
// tokens and, when it finished, why. Plain data; engine thread.

#include <optional>
#include <vector>

#include "core/ids.h"
#include "core/model_runner_output.h"
#include "core/request.h"

namespace pagoda::core {

struct CoreRequestOutput {
  RequestId request_id;
  std::vector<TokenId> new_token_ids;  // includes the eos / stop token that ended it
  std::vector<SampleLogprobs> new_logprobs;  // parallel to new_token_ids when asked for
  std::optional<FinishReason> finish_reason;
  std::optional<TokenId> stop_token;  // the eos or stop token id behind finish_reason == kStop
  int num_cached_tokens = 0;          // prompt tokens served by the prefix cache
  RequestTimestamps timestamps;

  bool finished() const { return finish_reason.has_value(); }
};

struct CoreOutputs {
  std::vector<CoreRequestOutput> outputs;
};

}  // namespace pagoda::core
