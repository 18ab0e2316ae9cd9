#pragma once
// Rotary frequencies for every scaling variant in transformers'
// modeling_rope_utils (default, linear, dynamic, llama3, yarn), computed in
// float32 the way it does, and the cos/sin rows for a batch of positions.

#include <cstdint>
#include <vector>

#include "loader/model_config.h"

namespace pagoda::model {

struct RopeFreqs {
  std::vector<float> inv_freq;  // rot_dim / 2
  float attention_factor = 1.0f;  // multiplies cos and sin (yarn)
};

// seq_len matters only for dynamic NTK scaling (the sequence's current length).
RopeFreqs ComputeRopeFreqs(const loader::RopeConfig& rope, int64_t rot_dim, int64_t max_position_embeddings, int64_t seq_len);

// cos/sin[t * rot_dim/2 + i] for position positions[t].
void RopeCosSin(const RopeFreqs& f, const int32_t* positions, int64_t n, float* cos, float* sin);

}  // namespace pagoda::model
