#pragma once
// Matmul y[m, n] = x[m, k] . W[n, k]^T (+ bias), W as stored by HF Linear
// (rows = output features). Float32 activations. Weights in F32, BF16, F16 or
// one of the GGUF block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K), kept in their block layout in memory, or I8_ROW (int8 per output
// row with one float scale, from --quantization int8).
//
// Two precisions:
// - kExact (default): weights are dequantized in registers (or into a small
//   L1/L2 panel) to exactly the float32 values loader::DequantizeRow gives, and
//   multiplied with float32 activations by float32 FMA. This is what the golden
//   logits tests check against HF's fp32 computation.
// - kFast: activations are quantized on the fly to int8 blocks of 32 (one float
//   scale per block, as llama.cpp's Q8_0/Q8_1) and dot products run in int8
//   with AVX512-VNNI. Only for Q4_0, Q4_1, Q8_0, I8_ROW, Q6_K (a scale per
//   16-element half), Q4_K (as Q4_1 blocks, its sub-block scales rounded to
//   float16) and Q5_0 (as Q8_0 blocks) weights; BF16
//   weights take AVX512-BF16 dot products with activations rounded to bf16
//   (bf16_matmul.h); others use kExact. Numerics differ from fp32 by the
//   activation rounding.
//
// Batch invariance: every output element is computed by the same sequence of
// operations (16-lane FMA over k in order, then one fixed horizontal sum; in
// kFast: per-block int8 dots folded in order into one float lane vector)
// whatever m, the tile it falls in, the path (skinny decode or blocked
// prefill) or the thread that computes it. Work is split over n and tiled over
// m only; k is never split.
//
// Thread safety: MatMul may be called from one thread at a time per pool.

#include <cstdint>
#include <span>
#include <string>

#include "backend/aligned_buffer.h"
#include "common/thread_pool.h"
#include "loader/dtype.h"

namespace pagoda::backend {

enum class MatmulPrecision { kExact, kFast };

struct Matrix {
  loader::DType dtype = loader::DType::kF32;
  int64_t rows = 0;            // output features n
  int64_t cols = 0;            // input features k (a multiple of the block size for quantized types)
  const void* data = nullptr;  // rows x cols, row-major; quantized rows are runs of GGUF blocks
  AlignedBuffer owned;         // backing store when not a file view
  MatmulPrecision precision = MatmulPrecision::kExact;
  // Q4_0, Q4_1 and Q8_0 for the AVX-512 exact kernel only: each row keeps its bytes,
  // but holds the scales of all its blocks first (Q4_1's (d, m) half pairs, 4
  // bytes each; Q4_0's and Q8_0's d, 2 bytes), then the code bytes of each block in order
  // (16 or 32), so a tile converts a row's scales with a few wide conversions
  // instead of one per block (PrepareForPrecision sets it).
  bool scales_first = false;

  // Bytes per element of the plain types (F32 4, BF16/F16 2); 0 for block formats.
  size_t ElemBytes() const;
  size_t RowBytes() const { return static_cast<size_t>(loader::RowBytes(dtype, cols)); }
  size_t bytes() const { return RowBytes() * static_cast<size_t>(rows); }
  const uint8_t* Row(int64_t r) const { return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * RowBytes(); }
};

// Which kernel family MatMul uses on this machine: "avx512+vnni", "avx512",
// "avx2+fma" (src/backend/cpu/avx2_matmul.h), or the portable loops
// ("portable (avx2 build)" or "portable").
const char* MatMulKernelName();

void MatMul(ThreadPool& pool, const float* x, int64_t m, const Matrix& w, const float* bias, float* y);

// One output of MatMulShared: y = x . w^T (+ bias, where not null).
struct MatMulOutput {
  const Matrix* w;
  const float* bias;
  float* y;
};
// 1 to 4 matrices with the same input x [m, k] (a layer's q/k/v, its gate and
// up projections): the same values as one MatMul per output, but x is
// prepared once (int8 quantization, bf16 rounding) for all the matrices that
// read it, and one fork/join covers all their rows. The matrices' cols must
// agree.
void MatMulShared(ThreadPool& pool, const float* x, int64_t m, std::span<const MatMulOutput> outs);

// The portable kernel (always kExact numerics up to summation order), for tests
// against the vectorized one.
void MatMulScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y);

// Tests only: make MatMul use a lower kernel tier than this machine's best,
// "avx2" (AVX2+FMA) or "portable"; "" restores the default. False if the
// machine cannot run that tier. Not thread-safe against running MatMuls.
bool ForceMatMulTierForTesting(const std::string& tier);

// Whether kFast has its own kernel for this weight type on this machine (int8
// VNNI or AVX2 for the block formats, AVX512-BF16 for BF16).
bool HasFastKernel(loader::DType t);
// The int8 kernel kFast runs on: "vnni", "avx2" or "none(exact)".
const char* FastInt8KernelName();

// Whether MatMul runs the AVX-512 kernels / the AVX2+FMA tier (the tier of this
// machine, unless a lower one is forced). Attention follows the same tier.
bool UsesAvx512MatMul();
bool UsesAvx2MatMul();

}  // namespace pagoda::backend
