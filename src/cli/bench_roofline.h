#pragma once
// Machine limits for `pagoda bench roofline` and `bench latency`: read
// bandwidth over all threads, peak matmul throughput per weight format with the
// kernels' own code (backend::MatMul, exact and int8 kFast paths), and a bare
// int8 dot-product loop of our own (AVX512-VNNI vpdpbusd, no scales) as the
// ceiling an int8 kernel could reach. Called from one thread (it drives the pool).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "common/thread_pool.h"
#include "loader/dtype.h"

namespace pagoda::cli {

// Best single pass (GB/s, 1e9 bytes) of all threads summing a buffer of `bytes`
// (make it several times the last-level cache), over at least min_seconds.
double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes, double min_seconds);

// Best GFLOP/s (2 m n k per call) of backend::MatMul with F32, BF16 or F16
// weights on an in-cache problem (m = 128, n = k = 1024), over min_seconds,
// prepared for precision p (kFast: the bf16 dot kernel for BF16 where it runs).
double MeasureMatMulGflops(ThreadPool& pool, loader::DType weights, double min_seconds,
                           backend::MatmulPrecision p = backend::MatmulPrecision::kExact);

// Best GFLOP/s of backend::MatMul (m = 128, n = k = 1024) with weights quantized
// by backend::QuantizeMatrix to a block format (Q8_0, Q4_0, Q4_1) and prepared
// for precision p (kFast: the backend's int8 VNNI path where it has one).
double MeasureQuantMatMulGflops(ThreadPool& pool, loader::DType format, backend::MatmulPrecision p, double min_seconds);

// Best GFLOP/s of backend::MatMul with x[m, w.cols] against an existing matrix
// (e.g. one of a loaded model's, so its own format and kernel path are timed).
double MeasureMatrixGflops(ThreadPool& pool, const backend::Matrix& w, int64_t m, double min_seconds);

// The int8 loop: y[m, n] = x[m, k] (u8) . w[n, k]^T (s8) into int32, 4x4 tiles,
// 64 multiply-adds per vpdpbusd. Names the instruction set used.
const char* Int8KernelName();  // "avx512-vnni" or "scalar"
void Int8MatMul(ThreadPool& pool, const uint8_t* x, int64_t m, const int8_t* w, int64_t n, int64_t k, int32_t* y);
// Best GOP/s (2 m n k) of Int8MatMul; k a multiple of 64. Fails (returns < 0)
// if the vector loop disagrees with a scalar check.
double MeasureInt8Gops(ThreadPool& pool, double min_seconds);

// The arithmetic ceiling of each vector instruction the kernels build on, from
// register-only loops on every thread (FLOP = 2 per multiply-add): what no
// kernel of that instruction can exceed on this machine.
struct InstructionCeiling {
  std::string name;
  double gflops = 0;
};
std::vector<InstructionCeiling> MeasureInstructionCeilings(ThreadPool& pool, double min_seconds);

}  // namespace pagoda::cli
