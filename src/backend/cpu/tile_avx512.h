#pragma once
// Internal to the CPU backend: the float32 register tile every exact-precision
// matmul path ends in, shared so that the dense kernels, the skinny quantized
// kernels and the blocked (dequantized panel) kernels run the very same FMA
// sequence per output element: lane l accumulates k = l, l + 16, ... in order,
// then one _mm512_reduce_add_ps.

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "backend/cpu/blocking.h"
#include "loader/dtype.h"

#define PAGODA_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

namespace pagoda::backend::internal {

template <loader::DType T>
PAGODA_TARGET_AVX512 inline __m512 LoadW(const void* base, int64_t i) {
  if constexpr (T == loader::DType::kF32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + i);
  } else if constexpr (T == loader::DType::kBF16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    return _mm512_cvtph_ps(h);
  }
}

template <loader::DType T>
PAGODA_TARGET_AVX512 inline __m512 LoadW(const void* base, int64_t i, __mmask16 mask) {
  if constexpr (T == loader::DType::kF32) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(base) + i);
  } else if constexpr (T == loader::DType::kBF16) {
    __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(base) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(base) + i);
    return _mm512_cvtph_ps(h);
  }
}

// An MR x NR tile of outputs over plain weights; out[a * ldo + b] = x_a . w_b.
// pf (decode): a prefetch advanced once per 16 inputs.
template <loader::DType T, int MR, int NR>
PAGODA_TARGET_AVX512 inline void DenseTile(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes, int64_t k, float* out,
                                           int64_t ldo, PrefetchStream* pf = nullptr) {
  __m512 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    if (pf != nullptr) pf->Next();
    __m512 wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = LoadW<T>(w + b * row_bytes, i);
    for (int a = 0; a < MR; ++a) {
      __m512 xv = _mm512_loadu_ps(x + a * ldx + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, wv[b], acc[a][b]);
    }
  }
  if (i < k) {  // the tail: masked lanes are zero, the same lane order
    const __mmask16 mask = static_cast<__mmask16>((1u << (k - i)) - 1);
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

// All m rows against plain weight rows [j0, j1) (4x4 tiles, then edges); pf
// goes to the first tile.
template <loader::DType T>
PAGODA_TARGET_AVX512 inline void DensePanel(const float* x, int64_t m, int64_t k, const uint8_t* w, size_t row_bytes, int64_t nrows,
                                            float* y, int64_t ldo, PrefetchStream* pf = nullptr) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int64_t j = 0;
    for (; j + 4 <= nrows; j += 4, pf = nullptr) DenseTile<T, 4, 4>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo, pf);
    for (; j < nrows; ++j, pf = nullptr) DenseTile<T, 4, 1>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo, pf);
  }
  for (; i < m; ++i) {
    int64_t j = 0;
    for (; j + 4 <= nrows; j += 4, pf = nullptr) DenseTile<T, 1, 4>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo, pf);
    for (; j < nrows; ++j, pf = nullptr) DenseTile<T, 1, 1>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo, pf);
  }
}

}  // namespace pagoda::backend::internal

#endif
