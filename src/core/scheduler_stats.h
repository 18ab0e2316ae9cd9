#pragma once
// Metrics kept by the core. Counters are cumulative since the scheduler was made;
// token counts are in tokens. Plain data; engine thread.

#include <cstdint>

namespace pagoda::core {

struct SchedulerStats {
  int num_running = 0;
  int num_waiting = 0;
  double kv_cache_usage = 0.0;  // fraction of usable KV blocks in use, [0, 1]
  // Tokens looked up when requests were admitted (re-admissions after preemption included).
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;     // of those, tokens found in the cache
  int64_t num_preemptions = 0;
  int64_t num_prompt_tokens = 0;      // prompt lengths of requests that produced a first token
  int64_t num_generation_tokens = 0;  // output tokens accepted
  int64_t num_scheduled_tokens = 0;   // tokens run through the model (prefill + decode)
  int64_t num_steps = 0;              // non-empty steps
};

}  // namespace pagoda::core
