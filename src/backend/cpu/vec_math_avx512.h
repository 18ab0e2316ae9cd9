#pragma once
// Internal to the CPU backend: elementwise math on 16 floats for the AVX-512
// kernels (softmax in attention, SiLU in the MLP). One definition, so every
// path that uses it computes bit-identical values.

#if defined(__x86_64__)
#include <immintrin.h>

#define PAGODA_TARGET_AVX512_MATH __attribute__((target("avx512f,avx512bw,avx512vl,fma")))

namespace pagoda::backend::internal {

// e^x with a relative error of about 1 ulp: x = n ln2 + r, |r| <= ln2 / 2, a
// degree-6 polynomial for e^r (the classic Cephes expf coefficients), then
// scaled by 2^n. Inputs below -87.3 give 0 (so e^-inf = 0), above 88.7 give the
// largest finite result's neighbourhood (x is clamped).
PAGODA_TARGET_AVX512_MATH inline __m512 Exp512(__m512 x) {
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ);
  x = _mm512_min_ps(x, _mm512_set1_ps(88.72283f));
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.33654f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(y, n));
}

// x * sigmoid(x) = x / (1 + e^-x).
PAGODA_TARGET_AVX512_MATH inline __m512 Silu512(__m512 x) {
  const __m512 e = Exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

}  // namespace pagoda::backend::internal

#endif
