#include "backend/cpu/bf16_matmul.h"

#include <algorithm>

#include "backend/cpu/blocking.h"
#include "common/check.h"
#include "common/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pagoda::backend::internal {

bool HasBf16DotKernel() {
  const CpuFeatures& f = GetCpuFeatures();
  return f.avx512f && f.avx512bw && f.avx512vl && f.avx512_bf16;
}

#if defined(__x86_64__)

#define PAGODA_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace {

PAGODA_TARGET_BF16 inline __m512bh LoadBh(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
PAGODA_TARGET_BF16 inline __m512bh LoadBh(const uint16_t* p, __mmask32 m) { return (__m512bh)_mm512_maskz_loadu_epi16(m, p); }

// An MR x NR tile: out[a * ldo + b] = x_a . w_b over k bf16 values.
template <int MR, int NR>
PAGODA_TARGET_BF16 inline void Tile(const uint16_t* x, int64_t k, const uint16_t* w, int64_t ldw, float* out, int64_t ldo,
                                    PrefetchStream* pf = nullptr) {
  __m512 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    if (pf != nullptr) pf->Next();
    __m512bh wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = LoadBh(w + b * ldw + i);
    for (int a = 0; a < MR; ++a) {
      const __m512bh xv = LoadBh(x + a * k + i);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, wv[b]);
    }
  }
  if (i < k) {  // the tail: masked values are zero, the same lane order
    const __mmask32 mask = static_cast<__mmask32>((uint64_t{1} << (k - i)) - 1);
    __m512bh wv[NR];
    for (int b = 0; b < NR; ++b) wv[b] = LoadBh(w + b * ldw + i, mask);
    for (int a = 0; a < MR; ++a) {
      const __m512bh xv = LoadBh(x + a * k + i, mask);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, wv[b]);
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = _mm512_reduce_add_ps(acc[a][b]);
}

// All m rows of xb against weight rows [j0, j0 + nrows); pf goes to the first tile.
PAGODA_TARGET_BF16 void Panel(const uint16_t* x, int64_t m, int64_t k, const uint16_t* w, int64_t nrows, float* y, int64_t ldo,
                              PrefetchStream* pf = nullptr) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int64_t j = 0;
    for (; j + 4 <= nrows; j += 4, pf = nullptr) Tile<4, 4>(x + i * k, k, w + j * k, k, y + i * ldo + j, ldo, pf);
    for (; j < nrows; ++j, pf = nullptr) Tile<4, 1>(x + i * k, k, w + j * k, k, y + i * ldo + j, ldo, pf);
  }
  for (; i < m; ++i) {
    int64_t j = 0;
    for (; j + 4 <= nrows; j += 4, pf = nullptr) Tile<1, 4>(x + i * k, k, w + j * k, k, y + i * ldo + j, ldo, pf);
    for (; j < nrows; ++j, pf = nullptr) Tile<1, 1>(x + i * k, k, w + j * k, k, y + i * ldo + j, ldo, pf);
  }
}

}  // namespace

PAGODA_TARGET_BF16 void RoundRowsToBf16(const float* x, int64_t m, int64_t k, uint16_t* out) {
  const int64_t n = m * k;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(out + i, mask, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}

PAGODA_TARGET_BF16 void Bf16DotRange(const uint16_t* xb, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  PAGODA_CHECK(w.dtype == loader::DType::kBF16);
  const int64_t k = w.cols;
  const uint16_t* wb = static_cast<const uint16_t*>(w.data);
  if (m <= 4) {
    // Decode streams each weight once: prefetch a few 4-row tiles ahead,
    // spread over the tile (as the float32 path).
    constexpr int64_t kAhead = 12;
    for (int64_t j = n0; j < n1; j += 4) {
      const bool ahead = j + kAhead + 4 <= n1;
      PrefetchStream pf(ahead ? wb + (j + kAhead) * k : nullptr, ahead ? 4 * k * sizeof(uint16_t) : 0, k / 32, PrefetchTo::kL2);
      Panel(xb, m, k, wb + j * k, std::min<int64_t>(4, n1 - j), y + j, w.rows, &pf);
    }
    return;
  }
  // Blocks of activation rows (half the bytes of float32, so twice the rows of
  // MRowBlock) stay in L2 while runs of weight rows pass over them.
  constexpr int64_t kNBlock = 64;
  const int64_t mb = 2 * MRowBlock(k);
  for (int64_t i0 = 0; i0 < m; i0 += mb) {
    const int64_t mi = std::min(mb, m - i0);
    for (int64_t nb = n0; nb < n1; nb += kNBlock) {
      const int64_t ne = std::min(n1, nb + kNBlock);
      Panel(xb + i0 * k, mi, k, wb + nb * k, ne - nb, y + i0 * w.rows + nb, w.rows);
    }
  }
}

#else

void RoundRowsToBf16(const float*, int64_t, int64_t, uint16_t*) { PAGODA_CHECK_MSG(false, "bf16 dot kernel: not built for this CPU"); }
void Bf16DotRange(const uint16_t*, int64_t, const Matrix&, float*, int64_t, int64_t) {
  PAGODA_CHECK_MSG(false, "bf16 dot kernel: not built for this CPU");
}

#endif

}  // namespace pagoda::backend::internal
