#pragma once
// CPU features detected once at run time; kernels dispatch on these.

#include <string>

namespace pagoda {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  bool avx_vnni = false;

  std::string ToString() const;
};

// Detected on first call; thread-safe.
const CpuFeatures& GetCpuFeatures();

}  // namespace pagoda
