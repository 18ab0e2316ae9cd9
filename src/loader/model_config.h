#pragma once
// ModelConfig: the typed, validated view of config.json (or GGUF metadata) that
// every architecture builder reads. GenerationConfig: generation_config.json.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace pagoda::loader {

class GgufFile;

enum class Architecture { kLlama, kMistral, kQwen2, kQwen3, kGpt2, kGptNeoX, kGemma3 };
const char* ArchitectureName(Architecture a);  // the HF class name

enum class RopeType { kNone, kDefault, kLinear, kDynamic, kLlama3, kYarn };
enum class Activation { kSilu, kGeluTanh, kGeluErf, kRelu };
enum class NormType { kRms, kLayerNorm };

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double factor = 1.0;
  double partial_rotary_factor = 1.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // llama3, yarn, dynamic
  int64_t original_max_position_embeddings = 0;
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  std::optional<double> attention_factor;
  bool truncate = true;
};

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string model_type;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  NormType norm = NormType::kRms;
  double norm_eps = 1e-6;
  bool norm_weight_offset = false;   // Gemma: (1 + w)
  Activation act = Activation::kSilu;
  bool gated_mlp = true;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool qk_norm = false;              // Qwen3, Gemma3: RMSNorm over head_dim on q and k
  bool parallel_residual = false;    // GPT-NeoX
  bool learned_positions = false;    // GPT-2 (wpe)
  bool sandwich_norms = false;       // Gemma3: post-attention / pre+post-feedforward norms
  double embedding_scale = 1.0;      // Gemma: sqrt(hidden_size)
  double attention_scale = 0.0;      // multiplier of q.k; 0 = 1/sqrt(head_dim)
  double attn_logit_softcapping = 0.0;
  double final_logit_softcapping = 0.0;
  RopeConfig rope;                   // global layers
  std::optional<RopeConfig> rope_local;  // Gemma3 sliding layers (rope_local_base_freq)
  int64_t sliding_window = 0;        // 0 = none
  std::vector<bool> layer_sliding;   // per layer: uses the sliding window
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;

  int64_t q_size() const { return num_heads * head_dim; }
  int64_t kv_size() const { return num_kv_heads * head_dim; }
  int64_t rotary_dim() const { return static_cast<int64_t>(head_dim * rope.partial_rotary_factor); }
  Status Validate() const;
};

// Parses config.json text.
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source = "config.json");
// Maps GGUF metadata onto the same config.
Result<ModelConfig> ModelConfigFromGguf(const GgufFile& gguf);

struct GenerationConfig {
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> max_new_tokens;
  std::optional<int64_t> max_length;
};

Result<GenerationConfig> ParseGenerationConfig(const std::string& json_text,
                                               const std::string& source = "generation_config.json");

}  // namespace pagoda::loader
