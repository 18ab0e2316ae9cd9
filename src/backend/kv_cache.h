#pragma once
// KV storage for all layers, cut into blocks of block_size token slots. Slot s
// of the cache is block s / block_size, offset s % block_size. Layout per layer:
// [num_blocks, block_size, num_kv_heads, head_dim] for K and the same for V.
// Elements are float32 (the default: the activations as computed) or, to hold
// twice the tokens in the same memory and read half the bytes per attention
// step, float16 or bfloat16 (rounded to nearest even when written).
// Written only from the engine thread (through the model), read by kernels.

#include <cstdint>
#include <string>

#include "backend/aligned_buffer.h"
#include "common/status.h"

namespace pagoda::backend {

enum class KvDType { kF32, kF16, kBF16 };

// "auto" and "float32"/"fp32" -> kF32, "float16"/"fp16"/"half" -> kF16,
// "bfloat16"/"bf16" -> kBF16 (vLLM's --kv-cache-dtype spelling where it has one).
Result<KvDType> ParseKvDType(const std::string& name);
const char* KvDTypeName(KvDType t);
inline size_t KvElemBytes(KvDType t) { return t == KvDType::kF32 ? 4 : 2; }

class KvCache {
 public:
  KvCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t num_kv_heads, int64_t head_dim,
          KvDType dtype = KvDType::kF32);

  int64_t num_layers() const { return num_layers_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_kv_heads() const { return num_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  KvDType dtype() const { return dtype_; }
  int64_t slot_stride() const { return num_kv_heads_ * head_dim_; }  // elements per token slot
  size_t bytes() const { return storage_.size(); }
  static size_t BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t num_kv_heads, int64_t head_dim,
                              KvDType dtype = KvDType::kF32) {
    return static_cast<size_t>(2 * num_layers * block_size * num_kv_heads * head_dim) * KvElemBytes(dtype);
  }

  // Layer storage, elements of dtype().
  void* key_data(int64_t layer) { return base(layer, 0); }
  void* value_data(int64_t layer) { return base(layer, 1); }
  const void* key_data(int64_t layer) const { return const_cast<KvCache*>(this)->base(layer, 0); }
  const void* value_data(int64_t layer) const { return const_cast<KvCache*>(this)->base(layer, 1); }
  // The same as float32 (dtype() must be kF32).
  float* key(int64_t layer);
  float* value(int64_t layer);
  const float* key(int64_t layer) const { return const_cast<KvCache*>(this)->key(layer); }
  const float* value(int64_t layer) const { return const_cast<KvCache*>(this)->value(layer); }

  // Copies every layer's K and V of block src into block dst (copy-on-write).
  void CopyBlock(int64_t src, int64_t dst);

 private:
  void* base(int64_t layer, int kv) {
    return storage_.as<uint8_t>() + static_cast<size_t>((layer * 2 + kv) * num_blocks_ * block_size_ * slot_stride()) * KvElemBytes(dtype_);
  }
  int64_t num_layers_, num_blocks_, block_size_, num_kv_heads_, head_dim_;
  KvDType dtype_;
  AlignedBuffer storage_;
};

}  // namespace pagoda::backend
