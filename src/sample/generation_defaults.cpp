#include "sample/generation_defaults.h"

namespace pagoda::sample {

SamplingParams DefaultsFromGenerationConfig(const loader::GenerationConfig& gc) {
  SamplingParams p;
  if (gc.temperature) p.temperature = *gc.temperature;
  if (gc.top_p) p.top_p = *gc.top_p;
  if (gc.top_k) p.top_k = static_cast<int>(*gc.top_k);
  if (gc.min_p) p.min_p = *gc.min_p;
  if (gc.repetition_penalty) p.repetition_penalty = *gc.repetition_penalty;
  if (gc.max_new_tokens) p.max_tokens = static_cast<int>(*gc.max_new_tokens);
  if (gc.do_sample && !*gc.do_sample) p.temperature = 0.0;
  return p;
}

}  // namespace pagoda::sample
