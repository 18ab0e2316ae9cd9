#include "sample/fast_exp.h"

#include <immintrin.h>

#include <limits>

#include "common/cpu_features.h"

namespace pagoda::sample {
namespace detail {

float MaxPortable(const float* p, size_t n) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float lanes[8] = {kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] = p[i + j] > lanes[j] ? p[i + j] : lanes[j];
  float m = kNegInf;
  for (; i < n; ++i) m = p[i] > m ? p[i] : m;
  for (float l : lanes) m = l > m ? l : m;
  return m;
}

double ExpShiftedPortable(const float* x, float m, float* out, size_t n) {
  double total = 0;
  for (size_t begin = 0; begin < n; begin += 256) {
    const size_t end = begin + 256 < n ? begin + 256 : n;
    Float4 lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
    size_t i = begin;
    for (; i + 8 <= end; i += 8) {
      const Float4 a = FastExp4(Load4(x + i) - m);
      const Float4 b = FastExp4(Load4(x + i + 4) - m);
      if (out) {
        Store4(out + i, a);
        Store4(out + i + 4, b);
      }
      lo += a;
      hi += b;
    }
    double block = 0;
    for (int j = 0; j < 4; ++j) block += lo[j];
    for (int j = 0; j < 4; ++j) block += hi[j];
    for (; i < end; ++i) {
      const float w = FastExp(x[i] - m);
      if (out) out[i] = w;
      block += w;
    }
    total += block;
  }
  return total;
}

#if defined(__x86_64__)
// FastExp on eight lanes: the same operations, in the same order, as FastExp4.
__attribute__((target("avx2"))) static inline __m256 FastExp8(__m256 x) {
  const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
  x = _mm256_andnot_ps(under, x);
  const __m256 fx = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _mm256_set1_ps(0.5f));
  __m256i n = _mm256_cvttps_epi32(fx);
  n = _mm256_add_epi32(n, _mm256_castps_si256(_mm256_cmp_ps(fx, _mm256_cvtepi32_ps(n), _CMP_LT_OQ)));
  const __m256 nf = _mm256_cvtepi32_ps(n);
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(nf, _mm256_set1_ps(0.693359375f)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(nf, _mm256_set1_ps(-2.12194440e-4f)));
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(y, r), r), r), _mm256_set1_ps(1.0f));
  const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(under, _mm256_mul_ps(y, scale));
}

// A block's sum: its eight lanes in order, then its scalar tail [i, end).
__attribute__((target("avx2"))) static double BlockSum(__m256 acc, const float* x, float m, float* out, size_t i, size_t end) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  double block = 0;
  for (int j = 0; j < 8; ++j) block += lanes[j];
  for (; i < end; ++i) {
    const float w = FastExp(x[i] - m);
    if (out) out[i] = w;
    block += w;
  }
  return block;
}

__attribute__((target("avx2"))) double ExpShiftedAvx2(const float* x, float m, float* out, size_t n) {
  const __m256 mv = _mm256_set1_ps(m);
  double total = 0;
  for (size_t begin = 0; begin < n; begin += 256) {
    const size_t end = begin + 256 < n ? begin + 256 : n;
    __m256 acc = _mm256_setzero_ps();
    size_t i = begin;
    for (; i + 8 <= end; i += 8) {
      const __m256 w = FastExp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
      if (out) _mm256_storeu_ps(out + i, w);
      acc = _mm256_add_ps(acc, w);
    }
    total += BlockSum(acc, x, m, out, i, end);
  }
  return total;
}

#define PAGODA_TARGET_AVX512_EXP __attribute__((target("avx512f,avx2")))

// FastExp8 on sixteen lanes: the same operations, in the same order.
PAGODA_TARGET_AVX512_EXP static inline __m512 FastExp16(__m512 x) {
  const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
  x = _mm512_maskz_mov_ps(static_cast<__mmask16>(~under), x);
  const __m512 fx = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _mm512_set1_ps(0.5f));
  __m512i n = _mm512_cvttps_epi32(fx);
  n = _mm512_mask_sub_epi32(n, _mm512_cmp_ps_mask(fx, _mm512_cvtepi32_ps(n), _CMP_LT_OQ), n, _mm512_set1_epi32(1));
  const __m512 nf = _mm512_cvtepi32_ps(n);
  __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(nf, _mm512_set1_ps(0.693359375f)));
  r = _mm512_sub_ps(r, _mm512_mul_ps(nf, _mm512_set1_ps(-2.12194440e-4f)));
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(y, r), r), r), _mm512_set1_ps(1.0f));
  const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~under), _mm512_mul_ps(y, scale));
}

// The exponentials sixteen at a time; the sum keeps the eight-lane order of the
// AVX2 path (the low eight terms added, then the high eight), so the same bits.
PAGODA_TARGET_AVX512_EXP double ExpShiftedAvx512(const float* x, float m, float* out, size_t n) {
  const __m512 mv = _mm512_set1_ps(m);
  double total = 0;
  for (size_t begin = 0; begin < n; begin += 256) {
    const size_t end = begin + 256 < n ? begin + 256 : n;
    __m256 acc = _mm256_setzero_ps();
    size_t i = begin;
    for (; i + 16 <= end; i += 16) {
      const __m512 w = FastExp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
      if (out) _mm512_storeu_ps(out + i, w);
      acc = _mm256_add_ps(acc, _mm512_castps512_ps256(w));
      acc = _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(w), 1)));
    }
    if (i + 8 <= end) {
      const __m512 w = FastExp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(0xFF, x + i), mv));
      if (out) _mm512_mask_storeu_ps(out + i, 0xFF, w);
      acc = _mm256_add_ps(acc, _mm512_castps512_ps256(w));
      i += 8;
    }
    total += BlockSum(acc, x, m, out, i, end);
  }
  return total;
}

// max_ps(p, acc) is p > acc ? p : acc, the portable loop's select.
PAGODA_TARGET_AVX512_EXP float MaxAvx512(const float* p, size_t n) {
  __m512 acc = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  size_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_max_ps(_mm512_loadu_ps(p + i), acc);
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc = _mm512_mask_max_ps(acc, k, _mm512_maskz_loadu_ps(k, p + i), acc);
  }
  return _mm512_reduce_max_ps(acc);
}
#else
float MaxAvx512(const float* p, size_t n) { return MaxPortable(p, n); }
double ExpShiftedAvx2(const float* x, float m, float* out, size_t n) { return ExpShiftedPortable(x, m, out, n); }
double ExpShiftedAvx512(const float* x, float m, float* out, size_t n) { return ExpShiftedPortable(x, m, out, n); }
#endif

}  // namespace detail

namespace {
enum class ExpPath { kPortable, kAvx2, kAvx512 };
ExpPath Path() {
  static const ExpPath p = [] {
    const CpuFeatures& f = GetCpuFeatures();
    if (f.avx512f && f.avx2) return ExpPath::kAvx512;
    return f.avx2 ? ExpPath::kAvx2 : ExpPath::kPortable;
  }();
  return p;
}
}  // namespace

double ExpShifted(const float* x, float m, float* out, size_t n) {
  switch (Path()) {
    case ExpPath::kAvx512: return detail::ExpShiftedAvx512(x, m, out, n);
    case ExpPath::kAvx2: return detail::ExpShiftedAvx2(x, m, out, n);
    case ExpPath::kPortable: break;
  }
  return detail::ExpShiftedPortable(x, m, out, n);
}

double SumExpShifted(const float* x, float m, size_t n) { return ExpShifted(x, m, nullptr, n); }

float MaxOfFloats(const float* p, size_t n) {
  return Path() == ExpPath::kAvx512 ? detail::MaxAvx512(p, n) : detail::MaxPortable(p, n);
}

}  // namespace pagoda::sample
