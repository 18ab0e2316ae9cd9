#pragma once
// Internal to the CPU backend: MatmulPrecision::kFast (see matmul.h).
//
// Weights (Q4_0, Q4_1, Q8_0, I8_ROW, Q6_K) are repacked at load into groups of 16 output rows:
// for each group and each block of 32 inputs, one chunk holds the 16 block
// scales (f16), for Q4_1 the 16 minimums (f16), and the codes transposed so
// that 32-bit lane r of a 512-bit register holds 4 consecutive codes of row r:
//   Q4_x: 4 registers; lane r of register t = GGUF qs[4t..4t+3] of row r (low
//         nibbles: elements 4t.., high nibbles: elements 16+4t..);
//   Q8_0: 8 registers; lane r of register s = codes 4s..4s+3 of row r, + 128 (u8).
//   I8_ROW: as Q8_0 with no chunk header; the float32 row scales (16 per group)
//         follow all the chunks.
//   Q6_K: 8 registers as Q8_0, the 6-bit codes q (0..63) as they are; the header
//         holds two float32 scales per row, d * sc of the block's two 16-element
//         sub-blocks (16 of half 0, then 16 of half 1).
// Rows are padded to a multiple of 16 with zero blocks. One VPDPBUSD then adds
// 4 products for each of 16 rows, so an output element never needs a
// horizontal sum: it lives in one lane from the first block to the last.
//
// Activations are quantized per row and block of 32: d = max|x| / 127,
// q = round-to-nearest-even(x / d), and the block sum of q is kept.
// Per output (row i, column r), block b adds, in order:
//   acc = fma(float(isum_b - off * qsum_b), d_w * d_x, acc)       (off 8 Q4_0, 128 Q8_0, 0 Q4_1)
//   acc = fma(m_w, d_x * float(qsum_b), acc)                        (Q4_1 only)
// except I8_ROW: acc = fma(float(isum_b - 128 * qsum_b), d_x, acc), and
// y = acc * s_w (the row scale) after the last block; and Q6_K, per half h
// (isum and qsum over its 16 elements, half 0 first):
//   acc = fma(float(isum_h - 32 * qsum_h), s_h * d_x, acc)
// The scalar kernel does exactly that, so vector and scalar agree bit for bit.

#include <cstdint>
#include <vector>

#include "backend/cpu/matmul.h"

namespace pagoda::backend::internal {

bool FastFormat(loader::DType t);
inline bool IsFastLayout(const Matrix& w) { return w.precision == MatmulPrecision::kFast && FastFormat(w.dtype); }

// Bytes of one (16-row group, 32-input block) chunk.
int64_t FastChunkBytes(loader::DType t);

// From GGUF rows (src.precision kExact) to the fast layout (dst gets owned storage).
void RepackFast(const Matrix& src, Matrix* dst);
// Row r of a fast-layout matrix as float32 (same values as loader::DequantizeRow of the original row).
void FastDequantRow(const Matrix& w, int64_t r, float* dst);

// The kernel of the fast layout: VNNI (AVX-512), AVX2 (vpmaddubsw; the same
// values as VNNI) or the scalar model.
enum class FastKernel { kScalar, kAvx2, kVnni };
// The one MatMul uses on this CPU and tier (matmul.cpp).
FastKernel FastInt8Kernel();
void FastMatMul(ThreadPool& pool, const float* x, int64_t m, const Matrix& w, const float* bias, float* y, FastKernel kernel);

// FastMatMul in two steps, so that several matrices over the same x share one
// quantization of it and one fork/join (MatMulShared):
// activations quantized per row and block of 32 (see above), into buffers of
// the calling thread that grow to the largest batch and are then reused (valid
// until its next call); on the pool for m >= 8 where one is given.
struct QuantActs {
  std::vector<int8_t> q;   // [m, k]
  std::vector<float> d;    // [m, k / 32]
  std::vector<int32_t> s;  // block sums of q
  std::vector<int32_t> s16;  // sums of the first 16 q of each block (kQ6_K's halves)
  std::vector<float> ds;   // d * s
};
const QuantActs& QuantizeActivations(const float* x, int64_t m, int64_t k, ThreadPool* pool, bool scalar = false);
// The 16-row groups of w (its padded rows / 16).
inline int64_t FastGroups(const Matrix& w) { return (w.rows + 15) / 16; }
// Output rows of groups [g0, g1) of w for all m rows of qa, plus the bias.
void FastRange(const QuantActs& qa, int64_t m, const Matrix& w, const float* bias, float* y, int64_t g0, int64_t g1, FastKernel kernel);
void FastMatMulScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y);

}  // namespace pagoda::backend::internal
