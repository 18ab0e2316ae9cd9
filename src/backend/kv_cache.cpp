#include "backend/kv_cache.h"

#include <cstring>

#include "common/check.h"

namespace pagoda::backend {

Result<KvDType> ParseKvDType(const std::string& name) {
  if (name == "auto" || name == "float32" || name == "fp32") return KvDType::kF32;
  if (name == "float16" || name == "fp16" || name == "half") return KvDType::kF16;
  if (name == "bfloat16" || name == "bf16") return KvDType::kBF16;
  return InvalidArgument("unknown KV cache dtype '" + name + "' (auto, float32, float16, bfloat16)");
}

const char* KvDTypeName(KvDType t) {
  switch (t) {
    case KvDType::kF32: return "float32";
    case KvDType::kF16: return "float16";
    case KvDType::kBF16: return "bfloat16";
  }
  return "?";
}

KvCache::KvCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t num_kv_heads, int64_t head_dim, KvDType dtype)
    : num_layers_(num_layers), num_blocks_(num_blocks), block_size_(block_size), num_kv_heads_(num_kv_heads), head_dim_(head_dim),
      dtype_(dtype), storage_(BytesPerBlock(num_layers, block_size, num_kv_heads, head_dim, dtype) * num_blocks) {
  // Not zeroed: attention reads only slots written earlier, and touching every
  // page of a multi-GiB cache would cost seconds at start-up.
}

float* KvCache::key(int64_t layer) {
  PAGODA_CHECK(dtype_ == KvDType::kF32);
  return static_cast<float*>(base(layer, 0));
}

float* KvCache::value(int64_t layer) {
  PAGODA_CHECK(dtype_ == KvDType::kF32);
  return static_cast<float*>(base(layer, 1));
}

void KvCache::CopyBlock(int64_t src, int64_t dst) {
  const size_t block_bytes = static_cast<size_t>(block_size_ * slot_stride()) * KvElemBytes(dtype_);
  for (int64_t l = 0; l < num_layers_; ++l) {
    for (int kv = 0; kv < 2; ++kv) {
      uint8_t* b = static_cast<uint8_t*>(base(l, kv));
      std::memcpy(b + dst * block_bytes, b + src * block_bytes, block_bytes);
    }
  }
}

}  // namespace pagoda::backend
