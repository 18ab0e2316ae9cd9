#include "backend/cpu/avx2_matmul.h"

#include <algorithm>
#include <cstring>

#include "backend/aligned_buffer.h"
#include "backend/cpu/blocking.h"
#include "common/check.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pagoda::backend::internal {

namespace {

using loader::DType;

bool IsBlock32(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 || t == DType::kQ8_0; }
bool IsPlainType(DType t) { return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16; }

}  // namespace

bool Avx2Supports(const Matrix& w) {
  if (w.cols % 8 != 0 || w.scales_first) return false;  // scales-first Q4_1 is the AVX-512 kernel's layout
  return IsPlainType(w.dtype) || loader::IsQuantized(w.dtype);
}

#if defined(__x86_64__)

#define PAGODA_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace {

PAGODA_TARGET_AVX2 inline float HSum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

template <DType T>
PAGODA_TARGET_AVX2 inline __m256 Load8(const void* base, int64_t i) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
    if constexpr (T == DType::kBF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
  }
}

// MR x NR outputs over plain weight rows: out[a * ldo + b] = x_a . w_b, k % 8 == 0.
template <DType T, int MR, int NR>
PAGODA_TARGET_AVX2 void DenseTile8(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes, int64_t k, float* out, int64_t ldo) {
  __m256 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm256_setzero_ps();
  for (int64_t i = 0; i < k; i += 8) {
    __m256 wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = Load8<T>(w + b * row_bytes, i);
    for (int a = 0; a < MR; ++a) {
      const __m256 xv = _mm256_loadu_ps(x + a * ldx + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm256_fmadd_ps(xv, wv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = HSum8(acc[a][b]);
}

// Weight rows per tile when MR activation rows share it: at least 6 independent
// FMA chains (the FMA latency), within the 16 ymm registers.
template <int MR>
constexpr int kTileRows = MR == 1 ? 6 : MR == 2 ? 3 : 2;

// MR (<= 4) activation rows against nrows weight rows, kTileRows<MR> at a time.
template <DType T, int MR>
PAGODA_TARGET_AVX2 void DenseRowsFew(const float* x, int64_t k, const uint8_t* w, size_t row_bytes, int64_t nrows, float* y, int64_t ldo) {
  constexpr int NR = kTileRows<MR>;
  int64_t j = 0;
  for (; j + NR <= nrows; j += NR) DenseTile8<T, MR, NR>(x, k, w + j * row_bytes, row_bytes, k, y + j, ldo);
  for (; j < nrows; ++j) DenseTile8<T, MR, 1>(x, k, w + j * row_bytes, row_bytes, k, y + j, ldo);
}

// All m rows against nrows plain weight rows (16 ymm registers: 4x2 tiles, then edges).
template <DType T>
PAGODA_TARGET_AVX2 void DensePanel8(const float* x, int64_t m, int64_t k, const uint8_t* w, size_t row_bytes, int64_t nrows, float* y,
                                    int64_t ldo) {
  switch (m) {  // decode: every row of x in one tile, so the weights are read once
    case 1: return DenseRowsFew<T, 1>(x, k, w, row_bytes, nrows, y, ldo);
    case 2: return DenseRowsFew<T, 2>(x, k, w, row_bytes, nrows, y, ldo);
    case 3: return DenseRowsFew<T, 3>(x, k, w, row_bytes, nrows, y, ldo);
    case 4: return DenseRowsFew<T, 4>(x, k, w, row_bytes, nrows, y, ldo);
    default: break;
  }
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int64_t j = 0;
    for (; j + 2 <= nrows; j += 2) DenseTile8<T, 4, 2>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
    for (; j < nrows; ++j) DenseTile8<T, 4, 1>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
  }
  for (; i < m; ++i) {
    int64_t j = 0;
    for (; j + 4 <= nrows; j += 4) DenseTile8<T, 1, 4>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
    for (; j < nrows; ++j) DenseTile8<T, 1, 1>(x + i * k, k, w + j * row_bytes, row_bytes, k, y + i * ldo + j, ldo);
  }
}

template <DType T>
PAGODA_TARGET_AVX2 void DenseRange(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  constexpr int64_t kNBlock = 64;
  const int64_t mb = MRowBlock(w.cols);
  for (int64_t i0 = 0; i0 < m; i0 += mb) {
    const int64_t mi = std::min(mb, m - i0);
    for (int64_t nb = n0; nb < n1; nb += kNBlock) {
      const int64_t ne = std::min(n1, nb + kNBlock);
      if (mi <= 4 && ne < n1) {  // decode: stream the next block of rows in ahead
        PrefetchRange(w.Row(ne), static_cast<size_t>(std::min(n1, ne + kNBlock) - ne) * w.RowBytes());
      }
      DensePanel8<T>(x + i0 * w.cols, mi, w.cols, w.Row(nb), w.RowBytes(), ne - nb, y + i0 * w.rows + nb, w.rows);
    }
  }
}

PAGODA_TARGET_AVX2 inline float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// q * d + m for Q4_1/Q5_1 codes (below 32) and a float16 d: the product is
// exact in float32, so one fused multiply-add gives fl(fl(q * d) + m), the
// loader's value (quant_matmul.cpp's ExactMulAdd says why).
PAGODA_TARGET_AVX2 inline __m256 ExactMulAdd8(__m256 q, __m256 d, __m256 m) { return _mm256_fmadd_ps(q, d, m); }

PAGODA_TARGET_AVX2 inline __m256i Bytes8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }

// Elements [8e, 8e + 8) of a 32-element block, as loader::DequantizeRow computes them.
template <DType T>
PAGODA_TARGET_AVX2 inline __m256 Decode8(const uint8_t* b, int e, __m256 d, __m256 m) {
  if constexpr (T == DType::kQ8_0) {
    const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + 8 * e)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
  } else {
    const uint8_t* qs = b + (T == DType::kQ4_1 ? 4 : 2);
    __m256i q = Bytes8(qs + 8 * (e & 1));
    q = e < 2 ? _mm256_and_si256(q, _mm256_set1_epi32(0x0F)) : _mm256_srli_epi32(q, 4);
    if constexpr (T == DType::kQ4_0) return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(8))), d);
    else return ExactMulAdd8(_mm256_cvtepi32_ps(q), d, m);
  }
}

template <DType T>
constexpr int64_t kBlockBytes32 = T == DType::kQ4_0 ? 18 : T == DType::kQ4_1 ? 20 : T == DType::kQ5_0 ? 22 : T == DType::kQ5_1 ? 24 : 34;

// The same for Q5_0 / Q5_1: bit 4 of element j is bit j of the 32-bit qh.
template <DType T>
PAGODA_TARGET_AVX2 inline __m256 Decode8Q5(const uint8_t* b, int e, __m256 d, __m256 m) {
  constexpr bool kMin = T == DType::kQ5_1;
  uint32_t qh;
  std::memcpy(&qh, b + (kMin ? 4 : 2), 4);
  const uint8_t* qs = b + (kMin ? 8 : 6);
  __m256i q = Bytes8(qs + 8 * (e & 1));
  q = e < 2 ? _mm256_and_si256(q, _mm256_set1_epi32(0x0F)) : _mm256_srli_epi32(q, 4);
  const __m256i hb = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> (8 * e))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                      _mm256_set1_epi32(1));
  q = _mm256_or_si256(q, _mm256_slli_epi32(hb, 4));
  if constexpr (kMin) return ExactMulAdd8(_mm256_cvtepi32_ps(q), d, m);
  else return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(16))), d);
}

template <DType T>
PAGODA_TARGET_AVX2 inline __m256 DecodeAny8(const uint8_t* b, int e, __m256 d, __m256 m) {
  if constexpr (T == DType::kQ5_0 || T == DType::kQ5_1) return Decode8Q5<T>(b, e, d, m);
  else return Decode8<T>(b, e, d, m);
}

// The 256-element k-quants into y[256], with loader/dtype.cpp's arithmetic:
// Q4_K / Q5_K as (d * sc) * q - dmin * m, Q6_K as (d * sc) * q.
template <DType T>
PAGODA_TARGET_AVX2 void Decode256(const uint8_t* b, float* y) {
  const __m256i nib = _mm256_set1_epi32(0x0F);
  if constexpr (T == DType::kQ4_K || T == DType::kQ5_K) {
    constexpr bool k5 = T == DType::kQ5_K;
    const float d = Half(b), dmin = Half(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + (k5 ? 48 : 16);
    for (int g = 0; g < 4; ++g) {
      uint8_t sc, mn;
      loader::ScaleMinK4(2 * g, scales, &sc, &mn);
      const __m256 d1 = _mm256_set1_ps(d * sc), m1 = _mm256_set1_ps(dmin * mn);
      loader::ScaleMinK4(2 * g + 1, scales, &sc, &mn);
      const __m256 d2 = _mm256_set1_ps(d * sc), m2 = _mm256_set1_ps(dmin * mn);
      const __m256i u1 = _mm256_set1_epi32(1 << (2 * g)), u2 = _mm256_set1_epi32(2 << (2 * g)), sixteen = _mm256_set1_epi32(16);
      for (int h = 0; h < 4; ++h) {
        const __m256i v = Bytes8(q + 8 * h);
        __m256i l = _mm256_and_si256(v, nib), u = _mm256_srli_epi32(v, 4);
        if constexpr (k5) {
          const __m256i hb = Bytes8(qh + 8 * h);
          l = _mm256_add_epi32(l, _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(hb, u1), _mm256_setzero_si256()), sixteen));
          u = _mm256_add_epi32(u, _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(hb, u2), _mm256_setzero_si256()), sixteen));
        }
        _mm256_storeu_ps(y + 8 * h, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(l)), m1));
        _mm256_storeu_ps(y + 32 + 8 * h, _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(u)), m2));
      }
      q += 32;
      y += 64;
    }
  } else {
    static_assert(T == DType::kQ6_K);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = Half(b + 208);
    const __m256i three = _mm256_set1_epi32(3), off = _mm256_set1_epi32(32);
    for (int n = 0; n < 2; ++n) {
      for (int l0 = 0; l0 < 32; l0 += 8) {
        const int is = l0 / 16;
        const __m256i a = Bytes8(ql + l0), c = Bytes8(ql + l0 + 32), h = Bytes8(qh + l0);
        const __m256i q1 = _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(a, nib), _mm256_slli_epi32(_mm256_and_si256(h, three), 4)), off);
        const __m256i q2 = _mm256_sub_epi32(
            _mm256_or_si256(_mm256_and_si256(c, nib), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), three), 4)), off);
        const __m256i q3 = _mm256_sub_epi32(
            _mm256_or_si256(_mm256_srli_epi32(a, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), three), 4)), off);
        const __m256i q4 = _mm256_sub_epi32(
            _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 6), three), 4)), off);
        _mm256_storeu_ps(y + l0, _mm256_mul_ps(_mm256_set1_ps(d * sc[is + 0]), _mm256_cvtepi32_ps(q1)));
        _mm256_storeu_ps(y + l0 + 32, _mm256_mul_ps(_mm256_set1_ps(d * sc[is + 2]), _mm256_cvtepi32_ps(q2)));
        _mm256_storeu_ps(y + l0 + 64, _mm256_mul_ps(_mm256_set1_ps(d * sc[is + 4]), _mm256_cvtepi32_ps(q3)));
        _mm256_storeu_ps(y + l0 + 96, _mm256_mul_ps(_mm256_set1_ps(d * sc[is + 6]), _mm256_cvtepi32_ps(q4)));
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

template <DType T>
PAGODA_TARGET_AVX2 void DecodeRow256(const uint8_t* src, float* dst, int64_t n) {
  constexpr int64_t BB = T == DType::kQ4_K ? 144 : T == DType::kQ5_K ? 176 : 210;
  for (int64_t blk = 0; blk < n / 256; ++blk) Decode256<T>(src + blk * BB, dst + blk * 256);
}

// Decode (few rows): NR weight rows decoded in registers, 8 values at a time,
// with the FMA order of DenseTile8. Block scales are converted once per block
// into small arrays and broadcast from there (a load, no register held).
template <DType T, int MR, int NR>
PAGODA_TARGET_AVX2 void SkinnyTile8(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes, int64_t k, float* out, int64_t ldo) {
  constexpr int64_t BB = kBlockBytes32<T>;
  __m256 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm256_setzero_ps();
  alignas(32) float ds[NR], ms[NR];
  for (int64_t blk = 0; blk < k / 32; ++blk) {
    for (int b = 0; b < NR; ++b) {
      const uint8_t* p = w + b * row_bytes + blk * BB;
      ds[b] = Half(p);
      ms[b] = T == DType::kQ4_1 || T == DType::kQ5_1 ? Half(p + 2) : 0.0f;
    }
    for (int e = 0; e < 4; ++e) {
      __m256 wv[NR];
      for (int b = 0; b < NR; ++b)
        wv[b] = DecodeAny8<T>(w + b * row_bytes + blk * BB, e, _mm256_broadcast_ss(&ds[b]), _mm256_broadcast_ss(&ms[b]));
      for (int a = 0; a < MR; ++a) {
        const __m256 xv = _mm256_loadu_ps(x + a * ldx + blk * 32 + 8 * e);
        for (int b = 0; b < NR; ++b) acc[a][b] = _mm256_fmadd_ps(xv, wv[b], acc[a][b]);
      }
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = HSum8(acc[a][b]);
}

template <DType T, int MR>
PAGODA_TARGET_AVX2 void SkinnyRows8(const float* x, int64_t k, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  constexpr int NR = MR == 1 ? 4 : kTileRows<MR>;  // decoding needs registers too
  const size_t rb = w.RowBytes();
  int64_t j = n0;
  for (; j + NR <= n1; j += NR) {
    if (j + 4 * NR <= n1) PrefetchRange(w.Row(j + 3 * NR), NR * rb);
    SkinnyTile8<T, MR, NR>(x, k, w.Row(j), rb, k, y + j, w.rows);
  }
  for (; j < n1; ++j) SkinnyTile8<T, MR, 1>(x, k, w.Row(j), rb, k, y + j, w.rows);
}

template <DType T>
PAGODA_TARGET_AVX2 void SkinnyAll(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  const int64_t k = w.cols;
  switch (m) {
    case 1: return SkinnyRows8<T, 1>(x, k, w, y, n0, n1);
    case 2: return SkinnyRows8<T, 2>(x, k, w, y, n0, n1);
    case 3: return SkinnyRows8<T, 3>(x, k, w, y, n0, n1);
    default: return SkinnyRows8<T, 4>(x, k, w, y, n0, n1);
  }
}

template <DType T>
PAGODA_TARGET_AVX2 void DecodeRow8(const uint8_t* src, float* dst, int64_t n) {
  constexpr int64_t BB = kBlockBytes32<T>;
  for (int64_t blk = 0; blk < n / 32; ++blk) {
    const uint8_t* p = src + blk * BB;
    const __m256 d = _mm256_set1_ps(Half(p));
    const __m256 m = T == DType::kQ4_1 || T == DType::kQ5_1 ? _mm256_set1_ps(Half(p + 2)) : _mm256_setzero_ps();
    for (int e = 0; e < 4; ++e) _mm256_storeu_ps(dst + blk * 32 + 8 * e, DecodeAny8<T>(p, e, d, m));
  }
}

// Block formats: weight rows decoded into a float32 panel, then the dense tiles;
// for m <= 4 the 32-element formats decode in registers instead (same values,
// same FMA order).
PAGODA_TARGET_AVX2 void QuantRange(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  const int64_t k = w.cols;
  const DType t = w.dtype;
  if (m <= 4 && IsBlock32(t) && k % 32 == 0) {
    if (t == DType::kQ4_0) SkinnyAll<DType::kQ4_0>(x, m, w, y, n0, n1);
    else if (t == DType::kQ4_1) SkinnyAll<DType::kQ4_1>(x, m, w, y, n0, n1);
    else if (t == DType::kQ5_0) SkinnyAll<DType::kQ5_0>(x, m, w, y, n0, n1);
    else if (t == DType::kQ5_1) SkinnyAll<DType::kQ5_1>(x, m, w, y, n0, n1);
    else SkinnyAll<DType::kQ8_0>(x, m, w, y, n0, n1);
    return;
  }
  constexpr int64_t kPanelRows = 16;
  thread_local AlignedBuffer panel;
  const size_t need = static_cast<size_t>(kPanelRows * k) * sizeof(float);
  if (panel.size() < need) panel.Resize(need);
  float* p = panel.as<float>();
  const int64_t mb = MRowBlock(k);
  for (int64_t i0 = 0; i0 < m; i0 += mb) {
    const int64_t mi = std::min(mb, m - i0);
    for (int64_t j0 = n0; j0 < n1; j0 += kPanelRows) {
      const int64_t nr = std::min(kPanelRows, n1 - j0);
      for (int64_t r = 0; r < nr; ++r) DequantizeRowAvx2(t, w.Row(j0 + r), p + r * k, k);
      DensePanel8<DType::kF32>(x + i0 * k, mi, k, reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(k) * sizeof(float), nr,
                               y + i0 * w.rows + j0, w.rows);
    }
  }
}

}  // namespace

PAGODA_TARGET_AVX2 void DequantizeRowAvx2(DType t, const uint8_t* src, float* dst, int64_t n) {
  const bool b32 = n % 32 == 0, b256 = n % 256 == 0;
  if (t == DType::kQ4_0 && b32) return DecodeRow8<DType::kQ4_0>(src, dst, n);
  if (t == DType::kQ4_1 && b32) return DecodeRow8<DType::kQ4_1>(src, dst, n);
  if (t == DType::kQ5_0 && b32) return DecodeRow8<DType::kQ5_0>(src, dst, n);
  if (t == DType::kQ5_1 && b32) return DecodeRow8<DType::kQ5_1>(src, dst, n);
  if (t == DType::kQ8_0 && b32) return DecodeRow8<DType::kQ8_0>(src, dst, n);
  if (t == DType::kQ4_K && b256) return DecodeRow256<DType::kQ4_K>(src, dst, n);
  if (t == DType::kQ5_K && b256) return DecodeRow256<DType::kQ5_K>(src, dst, n);
  if (t == DType::kQ6_K && b256) return DecodeRow256<DType::kQ6_K>(src, dst, n);
  loader::DequantizeRow(t, src, dst, n);
}

void MatMulRangeAvx2(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  PAGODA_CHECK(Avx2Supports(w));
  switch (w.dtype) {
    case DType::kF32: return DenseRange<DType::kF32>(x, m, w, y, n0, n1);
    case DType::kBF16: return DenseRange<DType::kBF16>(x, m, w, y, n0, n1);
    case DType::kF16: return DenseRange<DType::kF16>(x, m, w, y, n0, n1);
    default: return QuantRange(x, m, w, y, n0, n1);
  }
}

#else

void MatMulRangeAvx2(const float*, int64_t, const Matrix&, float*, int64_t, int64_t) { PAGODA_CHECK_MSG(false, "not built for x86-64"); }
void DequantizeRowAvx2(loader::DType t, const uint8_t* src, float* dst, int64_t n) { loader::DequantizeRow(t, src, dst, n); }

#endif

}  // namespace pagoda::backend::internal
