#include "core/scheduler_config.h"

#include <string>

namespace pagoda::core {

Status SchedulerConfig::Validate() const {
  if (max_num_seqs < 1) return InvalidArgument("max_num_seqs must be positive, got " + std::to_string(max_num_seqs));
  if (max_num_batched_tokens < 1) {
    return InvalidArgument("max_num_batched_tokens must be positive, got " + std::to_string(max_num_batched_tokens));
  }
  if (max_model_len < 2) return InvalidArgument("max_model_len must be at least 2, got " + std::to_string(max_model_len));
  if (long_prefill_token_threshold < 0) {
    return InvalidArgument("long_prefill_token_threshold must be >= 0, got " +
                           std::to_string(long_prefill_token_threshold));
  }
  if (!enable_chunked_prefill && max_num_batched_tokens < max_model_len) {
    return InvalidArgument("without chunked prefill, max_num_batched_tokens (" +
                           std::to_string(max_num_batched_tokens) + ") must be >= max_model_len (" +
                           std::to_string(max_model_len) + ")");
  }
  return Status::Ok();
}

}  // namespace pagoda::core
