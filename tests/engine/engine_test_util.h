#pragma once
// Helpers shared by the engine tests.

#include "sample/sampling_params.h"

namespace pagoda::engine::testing_util {

// Greedy decoding of exactly max_tokens tokens (eos ignored).
inline sample::SamplingParams Greedy(int max_tokens) {
  sample::SamplingParams p;
  p.temperature = 0;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

}  // namespace pagoda::engine::testing_util
