#pragma once
// exp(x) for x <= 0 in float, written so that GCC vectorizes the loops that call
// it (std::exp does not vectorize without -ffast-math). Cephes' expf polynomial:
// relative error about 2e-7 (checked against std::exp in tests/sample). Inputs
// below -87.3 (where float exp leaves the normal range) give exactly 0, so a
// -inf logit has weight 0. Any thread.

#include <bit>
#include <cstdint>

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

}  // namespace pagoda::sample
