#pragma once
// Internal to the CPU backend: the exact-precision kernel for loader::DType::kI8Row
// (int8 codes with one float32 scale per output row). Weights are dequantized
// in registers (or into a small panel) to exactly the float32 values of
// loader::DequantizeRow (float(q) * scale) and multiplied by float32 FMA in
// the order of tile_avx512.h, so a row's result does not depend on m, the path
// or the thread. See matmul.h.

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace pagoda::backend::internal {

// y[:, n0:n1] (row stride w.rows) for all m rows, AVX-512. w.dtype is kI8Row.
void Int8RowRangeAvx512(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1);

// One kI8Row row dequantized with the AVX-512 decoder (bit-identical to
// loader::DequantizeRow; exposed for tests).
void Int8RowDequantizeAvx512(const uint8_t* row, float* dst, int64_t n);

}  // namespace pagoda::backend::internal
