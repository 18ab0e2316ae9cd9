#pragma once
// Internal to the CPU backend: the AVX2+FMA tier of the exact-precision matmul,
// for x86-64 CPUs without AVX-512 (Zen 2/3, Haswell..Comet Lake). Same contract
// as the AVX-512 kernels, with 8 lanes: lane l of an output accumulates
// k = l, l + 8, ... in order, then one fixed horizontal sum; the weights are
// the float32 values of loader::DequantizeRow. Every path (skinny decode,
// panel prefill, any m, any thread) computes an output element the same way,
// so results are batch invariant on an AVX2 machine (they differ from the
// AVX-512 tier's in the last bits: a different summation order).

#include <cstdint>

#include "backend/cpu/matmul.h"

namespace pagoda::backend::internal {

// Whether the AVX2 tier takes this matrix (k a multiple of 8, a plain or block
// dtype in its file layout: not the AVX-512 kernel's scales-first Q4_1).
bool Avx2Supports(const Matrix& w);

// A row of a block format as float32 with the AVX2 decoders: the values of
// loader::DequantizeRow bit for bit (that function itself for other dtypes).
void DequantizeRowAvx2(loader::DType t, const uint8_t* src, float* dst, int64_t n);

// y[:, n0:n1] (row stride w.rows) for all m rows, without the bias.
void MatMulRangeAvx2(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1);

}  // namespace pagoda::backend::internal
