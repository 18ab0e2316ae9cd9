#include "backend/cpu/ops.h"

#include <cmath>

#include "backend/cpu/vec_math_avx512.h"
#include "common/cpu_features.h"

namespace pagoda::backend {

float ActScalar(ActKind act, float v) {
  switch (act) {
    case ActKind::kSilu: return v / (1.0f + std::exp(-v));
    case ActKind::kGeluTanh: {
      const float c = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * v * (1.0f + std::tanh(c * (v + 0.044715f * v * v * v)));
    }
    case ActKind::kGeluErf: return 0.5f * v * (1.0f + std::erf(v * 0.7071067811865476f));
    case ActKind::kRelu: return v > 0 ? v : 0.0f;
  }
  return v;
}

namespace {

// One row: optionally x += r first (the residual), then y = x / rms(x) * w.
// The sum of squares is taken in double over 8 lanes (lane l: elements i with
// i % 8 == l; each square is exact in double), then the lanes in a fixed tree,
// on both paths below, so they give the same bits.
inline double LaneTree8(const double* a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); }

inline void NormalizeRow(const float* x, const float* w, float inv, bool weight_offset, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    float wv = weight_offset ? 1.0f + w[i] : w[i];
    y[i] = (x[i] * inv) * wv;
  }
}

void RmsNormRowScalar(float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t n, float* y) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) {
    if (r) x[i] += r[i];
    acc[i % 8] += static_cast<double>(x[i]) * x[i];
  }
  const float inv = 1.0f / std::sqrt(static_cast<float>(LaneTree8(acc) / n) + eps);
  NormalizeRow(x, w, inv, weight_offset, n, y);
}

#if defined(__x86_64__)
PAGODA_TARGET_AVX512_MATH void RmsNormRowAvx512(float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t n, float* y) {
  __m512d acc = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 m = n - i >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1u << (n - i)) - 1);
    __m256 v = _mm256_maskz_loadu_ps(m, x + i);
    if (r) {
      v = _mm256_add_ps(v, _mm256_maskz_loadu_ps(m, r + i));
      _mm256_mask_storeu_ps(x + i, m, v);
    }
    const __m512d d = _mm512_cvtps_pd(v);
    acc = _mm512_add_pd(acc, _mm512_mul_pd(d, d));  // masked lanes add 0
  }
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, acc);
  const float inv = 1.0f / std::sqrt(static_cast<float>(LaneTree8(lanes) / n) + eps);
  const __m512 iv = _mm512_set1_ps(inv), one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 wv = _mm512_maskz_loadu_ps(m, w + i);
    if (weight_offset) wv = _mm512_add_ps(one, wv);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), iv), wv));
  }
}
#endif

inline void RmsNormRow(float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t n, float* y) {
#if defined(__x86_64__)
  static const bool avx512 = GetCpuFeatures().avx512f && GetCpuFeatures().avx512bw && GetCpuFeatures().avx512vl;
  if (avx512) return RmsNormRowAvx512(x, r, w, eps, weight_offset, n, y);
#endif
  RmsNormRowScalar(x, r, w, eps, weight_offset, n, y);
}

}  // namespace

void RmsNorm(ThreadPool& pool, const float* x, const float* w, float eps, bool weight_offset, int64_t rows, int64_t n, float* y) {
  // x is only read (r is null); the cast lets both entry points share the row loop.
  pool.Run(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) RmsNormRow(const_cast<float*>(x + r * n), nullptr, w, eps, weight_offset, n, y + r * n);
  });
}

void AddRmsNorm(ThreadPool& pool, float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t rows, int64_t n, float* y) {
  pool.Run(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t i = r0; i < r1; ++i) RmsNormRow(x + i * n, r ? r + i * n : nullptr, w, eps, weight_offset, n, y + i * n);
  });
}

void AddRmsNormPortable(float* x, const float* r, const float* w, float eps, bool weight_offset, int64_t rows, int64_t n, float* y) {
  for (int64_t i = 0; i < rows; ++i) RmsNormRowScalar(x + i * n, r ? r + i * n : nullptr, w, eps, weight_offset, n, y + i * n);
}

void LayerNorm(ThreadPool& pool, const float* x, const float* w, const float* b, float eps, int64_t rows, int64_t n, float* y) {
  pool.Run(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double mean = 0;
      for (int64_t i = 0; i < n; ++i) mean += xr[i];
      mean /= n;
      double var = 0;
      for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= n;
      const float inv = 1.0f / std::sqrt(static_cast<float>(var) + eps);
      const float m = static_cast<float>(mean);
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) * inv * w[i] + (b ? b[i] : 0.0f);
    }
  });
}

void Activate(ThreadPool& pool, ActKind act, float* x, int64_t n) {
  pool.Run(n, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) x[i] = ActScalar(act, x[i]);
  }, 1024);
}

namespace {

#if defined(__x86_64__)
PAGODA_TARGET_AVX512_MATH void SiluMulAvx512(float* gate, const float* up, int64_t b, int64_t e) {
  int64_t i = b;
  for (; i + 16 <= e; i += 16)
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(internal::Silu512(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
  if (i < e) {
    const __mmask16 m = static_cast<__mmask16>((1u << (e - i)) - 1);
    _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(internal::Silu512(_mm512_maskz_loadu_ps(m, gate + i)), _mm512_maskz_loadu_ps(m, up + i)));
  }
}
#endif

bool VectorMath() {
  static const bool ok = GetCpuFeatures().avx512f && GetCpuFeatures().avx512bw && GetCpuFeatures().avx512vl;
  return ok;
}

}  // namespace

void GatedActivate(ThreadPool& pool, ActKind act, float* gate, const float* up, int64_t n) {
#if defined(__x86_64__)
  if (act == ActKind::kSilu && VectorMath()) {
    // Elementwise, so the split over threads cannot change a value.
    if (n < 16384) SiluMulAvx512(gate, up, 0, n);
    else pool.Run(n, [&](int64_t b, int64_t e, int) { SiluMulAvx512(gate, up, b, e); }, 1024);
    return;
  }
#endif
  pool.Run(n, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) gate[i] = ActScalar(act, gate[i]) * up[i];
  }, 1024);
}

void AddInPlace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void SoftCap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] / cap) * cap;
}

}  // namespace pagoda::backend
