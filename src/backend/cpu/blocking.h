#pragma once
// Internal to the CPU backend: cache blocking shared by the matmul tiers.

#include <cstdint>

namespace pagoda::backend::internal {

// Rows of x per cache block in the prefill paths: about 256 KiB of float32
// activations (a multiple of the 4-row tile), so they stay in L2 while weight
// panels pass over them.
inline int64_t MRowBlock(int64_t k) {
  const int64_t rows = (int64_t{256} << 10) / (4 * (k > 0 ? k : 1));
  return rows < 32 ? 32 : rows > 512 ? 512 : rows / 4 * 4;
}

}  // namespace pagoda::backend::internal
