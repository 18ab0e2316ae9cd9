#pragma once
// Element types of weights as they come from safetensors and GGUF, and the
// conversions and dequantizations between them and float32.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pagoda::loader {

enum class DType {
  kF32,
  kF16,
  kBF16,
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ8_0,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  // int8 per output channel (online quantization only, never in a file): a row
  // is one float32 scale (4 bytes, little-endian) then cols int8 codes; the
  // value of code q is scale * q. Any number of columns.
  kI8Row,
};

const char* DTypeName(DType t);
bool IsQuantized(DType t);
// Elements per block (1 for plain types) and bytes per block (kI8Row: 1 and 1,
// its per-row scale is counted by RowBytes only).
int64_t BlockElems(DType t);
int64_t BlockBytes(DType t);
// Bytes of a row of n elements; n must be a multiple of BlockElems.
inline int64_t RowBytes(DType t, int64_t n) { return t == DType::kI8Row ? 4 + n : n / BlockElems(t) * BlockBytes(t); }

// GGML's numeric type ids (ggml.h) -> DType.
Result<DType> DTypeFromGgml(uint32_t ggml_type);
// Safetensors dtype strings ("F32", "BF16", ...) -> DType.
Result<DType> DTypeFromSafetensors(std::string_view s);

inline float Bf16ToF32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t F32ToBf16(float f);  // round to nearest even
float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// One Q6_K super-block (256 values, 210 bytes) as its 6-bit codes q (0..63)
// and its 16 sub-block scales d * sc (float32, exact: an f16 times an int8):
// element e is scales[e / 16] * (q[e] - 32), which is what DequantizeRow gives.
void UnpackQ6_K(const uint8_t* block, uint8_t* codes, float* scales);

// Converts n elements (a whole number of blocks) of type t at src to float32
// (for kI8Row, src is one whole row of n elements).
void DequantizeRow(DType t, const void* src, float* dst, int64_t n);

// Q4_K / Q5_K: the 6-bit scale and minimum of sub-block j (0..7) from a
// super-block's 12 packed scale bytes (ggml's get_scale_min_k4).
void ScaleMinK4(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m);

}  // namespace pagoda::loader
