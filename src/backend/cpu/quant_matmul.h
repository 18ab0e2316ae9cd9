#pragma once
// Internal to the CPU backend: exact-precision kernels for GGUF block formats
// kept quantized in memory (weights dequantized in registers to the float32
// values of loader::DequantizeRow, float32 FMA). See matmul.h.

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace pagoda::backend::internal {

// y[:, n0:n1] (row stride w.rows) for all m rows, AVX-512. w.dtype is quantized.
void QuantRangeAvx512(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1);

// Dequantizes one row of a quantized matrix with the AVX-512 block decoders
// (bit-identical to loader::DequantizeRow; exposed for tests).
void DequantizeRowAvx512(loader::DType t, const uint8_t* src, float* dst, int64_t n);

}  // namespace pagoda::backend::internal
