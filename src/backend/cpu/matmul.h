#pragma once
// Dense matmul y[m, n] = x[m, k] . W[n, k]^T (+ bias), W as stored by HF Linear
// (rows = output features). Float32 activations and accumulation; weights in
// F32, BF16 or F16 (converted to float32 in registers).
//
// Batch invariance: every output element is computed by the same sequence of
// operations (16-lane FMA over k in order, then one fixed horizontal sum) whatever
// m, the tile it falls in, or the thread that computes it. Work is split over n
// and tiled over m only; k is never split.

#include <cstdint>

#include "backend/aligned_buffer.h"
#include "common/thread_pool.h"
#include "loader/dtype.h"

namespace pagoda::backend {

struct Matrix {
  loader::DType dtype = loader::DType::kF32;  // F32, BF16 or F16
  int64_t rows = 0;                           // output features n
  int64_t cols = 0;                           // input features k
  const void* data = nullptr;                 // rows x cols, row-major
  AlignedBuffer owned;                        // backing store when not a file view

  size_t ElemBytes() const { return dtype == loader::DType::kF32 ? 4 : 2; }
  size_t bytes() const { return static_cast<size_t>(rows * cols) * ElemBytes(); }
};

// Which kernel MatMul uses on this machine ("avx512" or "scalar").
const char* MatMulKernelName();

void MatMul(ThreadPool& pool, const float* x, int64_t m, const Matrix& w, const float* bias, float* y);

// The portable kernel, for tests against the vectorized one.
void MatMulScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y);

}  // namespace pagoda::backend
