#pragma once
// Architectures as data: the Hugging Face tensor names each family uses, with
// {i} standing for the layer index, and how its fused projections are stored.

#include <string>

#include "loader/model_config.h"

namespace pagoda::model {

enum class QkvStorage {
  kSeparate,     // q_proj, k_proj, v_proj
  kFusedNeoX,    // one [3*hidden, hidden] matrix, rows grouped per head as (q, k, v)
  kFusedConv1D,  // GPT-2 Conv1D: [hidden, 3*hidden] (in, out), columns (q | k | v)
};

struct ArchSpec {
  std::string embed, pos_embed, final_norm, lm_head;
  std::string layer;  // prefix with {i}
  std::string attn_norm, q, k, v, qkv, o, q_norm, k_norm, post_attn_norm;
  std::string mlp_norm, gate, up, down, post_mlp_norm;
  QkvStorage qkv_storage = QkvStorage::kSeparate;
  bool conv1d = false;  // every linear stored transposed (GPT-2)
};

ArchSpec GetArchSpec(loader::Architecture arch);

}  // namespace pagoda::model
