#pragma once
// Scheduler limits (vLLM's names). A plain struct; Validate() before use. Any thread.

#include "common/status.h"

namespace pagoda::core {

struct SchedulerConfig {
  int max_num_seqs = 256;             // requests running at once
  int max_num_batched_tokens = 2048;  // token budget of one step
  int max_model_len = 4096;           // prompt + output tokens of one request
  bool enable_chunked_prefill = true;
  // When > 0, one request gets at most this many tokens per step, so several
  // long prompts advance together (0: only the step budget limits it).
  int long_prefill_token_threshold = 0;

  Status Validate() const;
};

}  // namespace pagoda::core
