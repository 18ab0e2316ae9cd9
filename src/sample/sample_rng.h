#pragma once
// Counter-based random numbers for sampling: the uniform for a draw is a hash of
// (seed, stream, position), so a seeded request's draw at output position p is
// the same whatever else is in the batch and however the steps are cut.
// stream = index of the sample within an n > 1 request (0 for the first), so
// each child has its own stream. SplitMix64's finalizer (Stafford's Mix13),
// chained; statistical quality is checked by the chi-square tests in
// tests/sample. Not cryptographic. Any thread.

#include <cstdint>

namespace pagoda::sample {

inline uint64_t Mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t SampleHash(uint64_t seed, uint64_t stream, uint64_t position) {
  return Mix64(Mix64(Mix64(seed) ^ stream) ^ position);
}

// Uniform in [0, 1) with 53 random bits.
inline double SampleUniform(uint64_t seed, uint64_t stream, uint64_t position) {
  return static_cast<double>(SampleHash(seed, stream, position) >> 11) * 0x1.0p-53;
}

}  // namespace pagoda::sample
