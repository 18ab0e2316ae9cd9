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

// One PrefetchRange spread over the iterations of a loop: Next() asks for the
// next ceil(lines / parts) lines, so the lines go out a few at a time between
// the loop's own loads instead of in one burst.
// Where to: kL1 (prefetcht0) for lines the next tiles read from cache (the
// batched int8 kernel's next run of groups); kL2 (prefetcht1) for the decode
// paths, whose weights come from memory once per token (held in L1 fill
// buffers for a whole memory round trip, the t0 lines capped the misses in
// flight: the decode loops sat on their prefetch instructions). Measured on a
// Xeon with AVX-512, batch-1 decode of the default model, 5 interleaved runs,
// medians, L1 -> L2: --fast-matmul Q4_1 283 -> 335 tok/s, exact 166 -> 170; its
// bf16 copy 69 -> 85 exact, 78 -> 83 fast; int8 178 -> 214. Prefill and 64
// sequences within noise.
enum class PrefetchTo { kL1, kL2 };

class PrefetchStream {
 public:
  PrefetchStream(const void* p, size_t bytes, int64_t parts, PrefetchTo to = PrefetchTo::kL1)
      : c_(static_cast<const char*>(p)),
        end_(c_ + bytes),
        step_(parts > 0 ? ((bytes + 63) / 64 + static_cast<size_t>(parts) - 1) / static_cast<size_t>(parts) : 0),
        l2_(to == PrefetchTo::kL2) {}
  void Next() {
#if defined(__x86_64__)
    if (l2_) {
      for (size_t i = 0; i < step_ && c_ < end_; ++i, c_ += 64) _mm_prefetch(c_, _MM_HINT_T1);
    } else {
      for (size_t i = 0; i < step_ && c_ < end_; ++i, c_ += 64) _mm_prefetch(c_, _MM_HINT_T0);
    }
#endif
  }

 private:
  const char* c_;
  const char* end_;
  size_t step_;
  bool l2_;
};

}  // namespace pagoda::backend::internal
