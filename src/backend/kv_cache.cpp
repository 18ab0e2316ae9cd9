#include "backend/kv_cache.h"

#include <cstring>

namespace pagoda::backend {

KvCache::KvCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t num_kv_heads, int64_t head_dim)
    : num_layers_(num_layers), num_blocks_(num_blocks), block_size_(block_size), num_kv_heads_(num_kv_heads), head_dim_(head_dim),
      storage_(BytesPerBlock(num_layers, block_size, num_kv_heads, head_dim) * num_blocks) {
  // Not zeroed: attention reads only slots written earlier, and touching every
  // page of a multi-GiB cache would cost seconds at start-up.
}

void KvCache::CopyBlock(int64_t src, int64_t dst) {
  const int64_t block_floats = block_size_ * slot_stride();
  for (int64_t l = 0; l < num_layers_; ++l) {
    for (int kv = 0; kv < 2; ++kv) {
      float* b = base(l, kv);
      std::memcpy(b + dst * block_floats, b + src * block_floats, block_floats * sizeof(float));
    }
  }
}

}  // namespace pagoda::backend
