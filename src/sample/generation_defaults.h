#pragma once
// The model's generation_config.json as request defaults. Any thread.

#include "loader/model_config.h"
#include "sample/sampling_params.h"

namespace pagoda::sample {

// SamplingParams whose fields are the model's defaults: the server starts from
// this and overwrites the fields the request sets. As in vLLM, only the keys
// present in generation_config.json count (temperature, top_p, top_k, min_p,
// repetition_penalty, max_new_tokens -> max_tokens); a missing key keeps
// SamplingParams' own default (top_k off, not HF's implicit 50). Unlike vLLM,
// an explicit "do_sample": false makes the default greedy (temperature 0), as
// HF generate() does; vLLM ignores do_sample.
SamplingParams DefaultsFromGenerationConfig(const loader::GenerationConfig& gc);

}  // namespace pagoda::sample
