#pragma once
// KV storage for all layers, cut into blocks of block_size token slots. Slot s
// of the cache is block s / block_size, offset s % block_size. Layout per layer:
// [num_blocks, block_size, num_kv_heads, head_dim] for K and the same for V.
// Written only from the engine thread (through the model), read by kernels.

#include <cstdint>

#include "backend/aligned_buffer.h"

namespace pagoda::backend {

class KvCache {
 public:
  KvCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t num_kv_heads, int64_t head_dim);

  int64_t num_layers() const { return num_layers_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_kv_heads() const { return num_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t slot_stride() const { return num_kv_heads_ * head_dim_; }  // floats per token slot
  size_t bytes() const { return storage_.size(); }
  static size_t BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t num_kv_heads, int64_t head_dim) {
    return static_cast<size_t>(2 * num_layers * block_size * num_kv_heads * head_dim) * sizeof(float);
  }

  float* key(int64_t layer) { return base(layer, 0); }
  float* value(int64_t layer) { return base(layer, 1); }
  const float* key(int64_t layer) const { return const_cast<KvCache*>(this)->base(layer, 0); }
  const float* value(int64_t layer) const { return const_cast<KvCache*>(this)->base(layer, 1); }

  // Copies every layer's K and V of block src into block dst (copy-on-write).
  void CopyBlock(int64_t src, int64_t dst);

 private:
  float* base(int64_t layer, int kv) {
    return storage_.as<float>() + (layer * 2 + kv) * num_blocks_ * block_size_ * slot_stride();
  }
  int64_t num_layers_, num_blocks_, block_size_, num_kv_heads_, head_dim_;
  AlignedBuffer storage_;
};

}  // namespace pagoda::backend
