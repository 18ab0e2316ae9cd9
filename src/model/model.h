#pragma once
// A decoder-only transformer assembled from a ModelConfig and the weights of a
// ModelFiles. Architectures differ only in data (weight names, flags) chosen in
// arch_spec.cpp; Forward() is the one graph they share.
// Forward() is called from one thread at a time (the engine thread): it writes
// the model's activation workspace.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/matmul.h"
#include "backend/kv_cache.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "loader/weights.h"
#include "model/forward_batch.h"
#include "model/rope.h"

namespace pagoda::model {

struct LayerWeights {
  std::vector<float> attn_norm_w, attn_norm_b;
  backend::Matrix q, k, v, o;
  std::vector<float> q_b, k_b, v_b, o_b;
  std::vector<float> q_norm, k_norm;
  std::vector<float> post_attn_norm;  // Gemma3
  std::vector<float> mlp_norm_w, mlp_norm_b;
  backend::Matrix gate, up, down;
  std::vector<float> gate_b, up_b, down_b;
  std::vector<float> post_mlp_norm;  // Gemma3
};

struct ModelWeights {
  backend::Matrix embed;       // [vocab, hidden]
  backend::Matrix pos_embed;   // GPT-2 [max_pos, hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm_w, final_norm_b;
  backend::Matrix lm_head_own;     // untied
  const backend::Matrix* lm_head = nullptr;  // &embed when tied
};

// How weights are prepared at load.
struct LoadOptions {
  // kExact: dequantize in registers, float32 activations (bit-comparable with the
  // golden tests). kFast: Q4_0/Q4_1/Q8_0 weights with activations quantized to
  // int8 per 32 values and VNNI dot products.
  backend::MatmulPrecision precision = backend::MatmulPrecision::kExact;
  // Quantize plain (F32/BF16/F16) weights at load: kQ8_0, kQ4_0 or kQ4_1 (per
  // 32-value block) or kI8Row (int8, one scale per output row).
  std::optional<loader::DType> online_quant;

  // From the command-line / EngineConfig spelling: --fast-matmul and
  // --quantization (none, int8, q8_0, q4_0, q4_1); an unknown name is an error.
  static Result<LoadOptions> FromFlags(bool fast_matmul, const std::string& quantization);
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const loader::ModelFiles& files, const LoadOptions& options = {});

  const loader::ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  int64_t num_parameters() const { return num_parameters_; }
  size_t weight_bytes() const { return weight_bytes_; }  // resident weight memory

  // Runs one step. logits: [batch.logits_indices.size(), vocab_size].
  // Activations live in a workspace that grows to the largest step seen and is
  // never shrunk: a step no larger (in tokens, sequences and logits rows) than
  // an earlier one does not allocate. Not reentrant (see the top of the file).
  Status Forward(ThreadPool& pool, const ForwardBatch& batch, backend::KvCache& kv, float* logits);

  // Bytes held by the activation workspace (for tests and memory accounting).
  size_t workspace_bytes() const;

 private:
  // Every per-step buffer of Forward, sized by the largest step so far; the
  // contents do not carry over between steps (each is written before it is read).
  struct Workspace {
    std::vector<float> x, h, q, k, v, attn, o, g, u, mlp;  // [T, *] activations
    std::vector<float> cos_g, sin_g, cos_l, sin_l;         // [T, rot / 2] rotary tables
    std::vector<float> sel;                                // [logits rows, hidden]
    std::vector<backend::AttentionSeq> aseqs;              // one per sequence
  };

  Model() = default;
  loader::ModelConfig config_;
  ModelWeights weights_;
  int64_t num_parameters_ = 0;
  size_t weight_bytes_ = 0;
  RopeFreqs rope_global_, rope_local_;
  Workspace ws_;
};

}  // namespace pagoda::model
