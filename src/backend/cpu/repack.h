#pragma once
// Load-time weight preparation: the layout each matmul precision wants, online
// quantization of plain (HF) weights, and row access whatever the layout.
// Called while loading (any single thread); the results are read-only after.

#include <cstdint>

#include "backend/cpu/matmul.h"
#include "common/status.h"

namespace pagoda::backend {

// Puts w into the layout of precision p: for kFast, Q4_0/Q4_1/Q8_0 weights and
// I8_ROW weights with a multiple of 32 columns are repacked into the 16-row
// interleaved int8 layout (fast_matmul.h) and w owns the copy; other formats
// stay as they are and keep the exact path, except Q4_K (as Q4_1 blocks, see
// Q4KAsQ4_1), Q5_0 (as Q8_0 blocks, see Q5_0AsQ8_0) and BF16 weights, which keep
// their rows and take the bf16 dot kernel (bf16_matmul.h) where the CPU has
// AVX512-BF16. For kExact, Q4_0, Q4_1 and Q8_0 weights get their
// scales first in each row (Matrix::scales_first) where MatMul runs AVX-512.
void PrepareForPrecision(Matrix& w, MatmulPrecision p);

// Quantizes a plain (F32/BF16/F16) matrix at load, per block of 32 inputs of
// each output row, with llama.cpp's reference rounding: kQ8_0 (int8, one scale
// per block) or kQ4_0 / kQ4_1 (4-bit, scale / scale and minimum per block).
// cols must be a multiple of 32. Or kI8Row: int8 per output row, one float32
// scale per row (symmetric, scale = max|w_row| / 127, round to nearest), any cols.
Result<Matrix> QuantizeMatrix(const Matrix& w, loader::DType target);

// Q4_K weights as Q4_1 blocks (one per 32-value sub-block; the two scale
// products rounded to float16), GGUF layout. kFast repacks Q4_K through it.
Matrix Q4KAsQ4_1(const Matrix& w);

// Q5_0 weights as Q8_0 blocks (codes minus 16 as int8; the same values), GGUF
// layout. kFast repacks Q5_0 through it (8.5 bits per weight instead of 5.5).
Matrix Q5_0AsQ8_0(const Matrix& w);

// The scales-first layout of a Q4_0, Q4_1 or Q8_0 w (a copy w owns), and back; the
// values are unchanged.
void SplitScales(Matrix& w);
void JoinScales(Matrix& w);

// Row r of w as float32, whatever its dtype and layout.
void DequantizeMatrixRow(const Matrix& w, int64_t r, float* dst);

}  // namespace pagoda::backend
