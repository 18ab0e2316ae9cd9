#pragma once
// exp(x) for x <= 0 in float, scalar and four lanes at a time (GCC/Clang
// vector extensions: SSE2 on x86-64, NEON on arm64), because std::exp does not
// vectorize without -ffast-math. Cephes' expf polynomial: relative error about
// 2e-7 (checked against std::exp in tests/sample); the scalar and vector forms
// do the same operations in the same order, so they give the same floats.
// Inputs below -87.3 (where float exp leaves the normal range) give exactly 0,
// so a -inf logit has weight 0. Any thread.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pagoda::sample {

inline float FastExp(float x) {
  const bool underflow = x < -87.3f;
  x = x > 88.0f ? 88.0f : x;
  x = underflow ? 0.0f : x;
  const float fx = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(fx);
  n -= fx < static_cast<float>(n) ? 1 : 0;  // floor
  const float nf = static_cast<float>(n);
  float r = x - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>(static_cast<int32_t>((n + 127) << 23));
  return underflow ? 0.0f : y * scale;
}

using Float4 = float __attribute__((vector_size(16)));
using Int4 = int32_t __attribute__((vector_size(16)));

inline Float4 Load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store4(float* p, Float4 v) { std::memcpy(p, &v, sizeof(v)); }

inline Float4 FastExp4(Float4 x) {
  const Float4 zero = {0, 0, 0, 0};
  const Int4 underflow = x < -87.3f;  // all ones where true
  x = x > 88.0f ? 88.0f + zero : x;
  x = underflow ? zero : x;
  const Float4 fx = x * 1.44269504088896341f + 0.5f;
  Int4 n = __builtin_convertvector(fx, Int4);  // truncates
  n += fx < __builtin_convertvector(n, Float4);  // floor: -1 where truncation rounded up
  const Float4 nf = __builtin_convertvector(n, Float4);
  Float4 r = x - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  Float4 y = 1.9875691500e-4f + zero;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const Float4 scale = reinterpret_cast<Float4>((n + 127) << 23);
  const Float4 out = y * scale;
  return underflow ? zero : out;
}

// out[i] = FastExp(x[i] - m) for i < n (x[i] - m <= 0); returns their sum in
// a fixed order: eight float lanes (element index mod 8) per block of 256,
// the lanes in order then the block's tail in double, blocks in double. The
// AVX-512 path (16 exponentials at a time, summed as two 8-lane halves in
// turn), the AVX2 path (8 lanes in one register) and the portable path (two
// 4-lane vectors) give the same floats and the same sum. Dispatched at run time.
double ExpShifted(const float* x, float m, float* out, size_t n);
// The same sum without storing the terms.
double SumExpShifted(const float* x, float m, size_t n);

// The largest of p[0, n) (-inf for n = 0; NaNs are never picked), as the
// sequential `p > m ? p : m` gives it up to the sign of a zero. Dispatched at run time.
float MaxOfFloats(const float* p, size_t n);

namespace detail {
float MaxPortable(const float* p, size_t n);
float MaxAvx512(const float* p, size_t n);  // only where AVX-512F exists
double ExpShiftedPortable(const float* x, float m, float* out, size_t n);  // out may be null
double ExpShiftedAvx2(const float* x, float m, float* out, size_t n);      // only where AVX2 exists
double ExpShiftedAvx512(const float* x, float m, float* out, size_t n);    // only where AVX-512F exists
}  // namespace detail

}  // namespace pagoda::sample
