#include "backend/cpu/matmul.h"

#include <immintrin.h>

#include <algorithm>

#include "common/cpu_features.h"

namespace pagoda::backend {

namespace {

using loader::DType;

inline float LoadScalar(const void* w, DType t, int64_t i) {
  switch (t) {
    case DType::kBF16: return loader::Bf16ToF32(static_cast<const uint16_t*>(w)[i]);
    case DType::kF16: return loader::F16ToF32(static_cast<const uint16_t*>(w)[i]);
    default: return static_cast<const float*>(w)[i];
  }
}

// Scalar reference with the same 16-lane accumulation order as the SIMD path
// would not be bit-identical anyway (FMA vs mul+add), so it is simply in order.
float DotScalar(const float* x, const void* w_row, DType t, int64_t k) {
  float acc[16] = {0};
  for (int64_t i = 0; i < k; ++i) acc[i % 16] += x[i] * LoadScalar(w_row, t, i);
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

void RangeScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y, int64_t n0, int64_t n1) {
  const size_t row_bytes = static_cast<size_t>(w.cols) * w.ElemBytes();
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = n0; j < n1; ++j) {
      const void* wr = static_cast<const uint8_t*>(w.data) + j * row_bytes;
      float v = DotScalar(x + i * w.cols, wr, w.dtype, w.cols);
      y[i * w.rows + j] = bias ? v + bias[j] : v;
    }
  }
}

#if defined(__x86_64__)
template <DType T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 LoadW(const void* base, int64_t i, __mmask16 mask) {
  if constexpr (T == DType::kF32) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(base) + i);
  } else if constexpr (T == DType::kBF16) {
    __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(base) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(base) + i);
    return _mm512_cvtph_ps(h);
  }
}

// An MR x NR tile of outputs; each accumulator sees the same op sequence as in a 1x1 tile.
template <DType T, int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void Tile(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes,
                                                             int64_t k, float* out, int64_t ldo) {
  __m512 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_ps();
  for (int64_t i = 0; i < k; i += 16) {
    __mmask16 mask = k - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (k - i)) - 1);
    __m512 wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = LoadW<T>(w + b * row_bytes, i, mask);
    for (int a = 0; a < MR; ++a) {
      __m512 xv = _mm512_maskz_loadu_ps(mask, x + a * ldx + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, wv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = _mm512_reduce_add_ps(acc[a][b]);
}

template <DType T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void RangeAvx512(const float* x, int64_t m, const Matrix& w, const float* bias,
                                                                     float* y, int64_t n0, int64_t n1) {
  const size_t row_bytes = static_cast<size_t>(w.cols) * w.ElemBytes();
  const uint8_t* wb = static_cast<const uint8_t*>(w.data);
  const int64_t k = w.cols, ldo = w.rows;
  constexpr int64_t kNBlock = 64;  // weight rows kept hot in L2 while all m rows pass
  for (int64_t nb = n0; nb < n1; nb += kNBlock) {
    const int64_t ne = std::min(n1, nb + kNBlock);
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
      int64_t j = nb;
      for (; j + 4 <= ne; j += 4) Tile<T, 4, 4>(x + i * k, k, wb + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
      for (; j < ne; ++j) Tile<T, 4, 1>(x + i * k, k, wb + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
    }
    for (; i < m; ++i) {
      int64_t j = nb;
      for (; j + 4 <= ne; j += 4) Tile<T, 1, 4>(x + i * k, k, wb + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
      for (; j < ne; ++j) Tile<T, 1, 1>(x + i * k, k, wb + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
    }
  }
  if (bias) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = n0; j < n1; ++j) y[r * ldo + j] += bias[j];
  }
}
#endif

bool UseAvx512() {
  const CpuFeatures& f = GetCpuFeatures();
  return f.avx512f && f.avx512bw && f.avx512vl;
}

}  // namespace

const char* MatMulKernelName() { return UseAvx512() ? "avx512" : "scalar"; }

void MatMulScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y) {
  RangeScalar(x, m, w, bias, y, 0, w.rows);
}

void MatMul(ThreadPool& pool, const float* x, int64_t m, const Matrix& w, const float* bias, float* y) {
  static const bool avx512 = UseAvx512();
  pool.Run(w.rows, [&](int64_t n0, int64_t n1, int) {
#if defined(__x86_64__)
    if (avx512) {
      switch (w.dtype) {
        case DType::kF32: RangeAvx512<DType::kF32>(x, m, w, bias, y, n0, n1); return;
        case DType::kBF16: RangeAvx512<DType::kBF16>(x, m, w, bias, y, n0, n1); return;
        case DType::kF16: RangeAvx512<DType::kF16>(x, m, w, bias, y, n0, n1); return;
        default: break;
      }
    }
#endif
    RangeScalar(x, m, w, bias, y, n0, n1);
  }, 16);
}

}  // namespace pagoda::backend
