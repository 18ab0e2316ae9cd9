#pragma once
// Internal to the CPU backend: cache blocking shared by the matmul tiers.

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace pagoda::backend::internal {

// Rows of x per cache block in the prefill paths: about 256 KiB of float32
// activations (a multiple of the 4-row tile), so they stay in L2 while weight
// panels pass over them.
inline int64_t MRowBlock(int64_t k) {
  const int64_t rows = (int64_t{256} << 10) / (4 * (k > 0 ? k : 1));
  return rows < 32 ? 32 : rows > 512 ? 512 : rows / 4 * 4;
}

// Asks for [p, p + bytes) in L1 ahead of use, one prefetch per cache line: the
// decode paths stream each weight once, and the hardware prefetcher alone
// leaves them latency-bound.
inline void PrefetchRange(const void* p, size_t bytes) {
#if defined(__x86_64__)
  const char* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace pagoda::backend::internal
