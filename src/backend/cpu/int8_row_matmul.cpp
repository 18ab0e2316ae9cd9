#include "backend/cpu/int8_row_matmul.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/blocking.h"
#include "backend/cpu/tile_avx512.h"
#include "common/check.h"

namespace pagoda::backend::internal {

#if defined(__x86_64__)

namespace {

using loader::DType;

PAGODA_TARGET_AVX512 inline float RowScale(const uint8_t* row) {
  float s;
  std::memcpy(&s, row, 4);
  return s;
}

// 16 weights from element i on (masked: lanes past k read nothing and are 0),
// float(q) * scale as loader::DequantizeRow computes it.
PAGODA_TARGET_AVX512 inline __m512 Decode16(const uint8_t* codes, int64_t i, __mmask16 mask, __m512 scale) {
  const __m128i q = _mm_maskz_loadu_epi8(mask, codes + i);
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), scale);
}

PAGODA_TARGET_AVX512 inline __mmask16 TailMask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

// Decode (few rows): the FMA sequence of DenseTile with weights decoded in registers.
template <int MR, int NR>
PAGODA_TARGET_AVX512 void SkinnyTile(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes, int64_t k, float* out, int64_t ldo,
                                     PrefetchStream* pf) {
  __m512 acc[MR][NR], scale[NR];
  for (int b = 0; b < NR; ++b) scale[b] = _mm512_set1_ps(RowScale(w + b * row_bytes));
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_ps();
  // Unmasked loads in the main loop (masked ones are slow), the mask on the tail only.
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    if (pf != nullptr) pf->Next();
    __m512 wv[NR];
    for (int b = 0; b < NR; ++b) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + b * row_bytes + 4 + i));
      wv[b] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), scale[b]);
    }
    for (int a = 0; a < MR; ++a) {
      const __m512 xv = _mm512_loadu_ps(x + a * ldx + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, wv[b], acc[a][b]);
    }
  }
  if (i < k) {
    const __mmask16 mask = TailMask(k - i);
    __m512 wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = Decode16(w + b * row_bytes + 4, i, mask, scale[b]);
    for (int a = 0; a < MR; ++a) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + a * ldx + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, wv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = _mm512_reduce_add_ps(acc[a][b]);
}

template <int MR>
PAGODA_TARGET_AVX512 void SkinnyRows(const float* x, int64_t k, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  const size_t rb = w.RowBytes();
  const int64_t ldo = w.rows;
  // Each weight is streamed from memory once: prefetch the tile kPrefetchTiles
  // ahead (one linear stream), spread over the tile, as quant_matmul.cpp does.
  constexpr int64_t kPrefetchTiles = 3;
  const size_t tile_bytes = 4 * rb;
  int64_t j = n0;
  for (; j + 4 <= n1; j += 4) {
    const bool ahead = j + 4 * (kPrefetchTiles + 1) <= n1;
    PrefetchStream pf(ahead ? w.Row(j + 4 * kPrefetchTiles) : nullptr, ahead ? tile_bytes : 0, k / 16, PrefetchTo::kL2);
    SkinnyTile<MR, 4>(x, k, w.Row(j), rb, k, y + j, ldo, &pf);
  }
  for (; j < n1; ++j) SkinnyTile<MR, 1>(x, k, w.Row(j), rb, k, y + j, ldo, nullptr);
}

PAGODA_TARGET_AVX512 void DecodeRow(const uint8_t* row, float* dst, int64_t n) {
  const __m512 scale = _mm512_set1_ps(RowScale(row));
  for (int64_t i = 0; i < n; i += 16) _mm512_mask_storeu_ps(dst + i, TailMask(n - i), Decode16(row + 4, i, TailMask(n - i), scale));
}

// Prefill and batched decode: a panel of weight rows decoded once to float32,
// then all m rows pass over it with the dense tile.
constexpr int64_t kPanelRows = 16;

}  // namespace

PAGODA_TARGET_AVX512 void Int8RowRangeAvx512(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  PAGODA_CHECK(w.dtype == DType::kI8Row);
  const int64_t k = w.cols;
  if (m <= 4) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) SkinnyRows<2>(x + i * k, k, w, y + i * w.rows, n0, n1);
    if (i < m) SkinnyRows<1>(x + i * k, k, w, y + i * w.rows, n0, n1);
    return;
  }
  thread_local AlignedBuffer panel;
  const size_t need = static_cast<size_t>(kPanelRows * k) * sizeof(float);
  if (panel.size() < need) panel.Resize(need);
  float* p = panel.as<float>();
  for (int64_t j0 = n0; j0 < n1; j0 += kPanelRows) {
    const int64_t nr = std::min(kPanelRows, n1 - j0);
    for (int64_t r = 0; r < nr; ++r) DecodeRow(w.Row(j0 + r), p + r * k, k);
    DensePanel<DType::kF32>(x, m, k, reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(k) * sizeof(float), nr, y + j0, w.rows);
  }
}

void Int8RowDequantizeAvx512(const uint8_t* row, float* dst, int64_t n) { DecodeRow(row, dst, n); }

#else

void Int8RowRangeAvx512(const float*, int64_t, const Matrix&, float*, int64_t, int64_t) { PAGODA_CHECK_MSG(false, "not built for x86-64"); }
void Int8RowDequantizeAvx512(const uint8_t* row, float* dst, int64_t n) { loader::DequantizeRow(loader::DType::kI8Row, row, dst, n); }

#endif

}  // namespace pagoda::backend::internal
