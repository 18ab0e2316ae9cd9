#include "backend/cpu/quant_matmul.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/blocking.h"
#include "backend/cpu/tile_avx512.h"
#include "common/check.h"

namespace pagoda::backend::internal {

#if defined(__x86_64__)

namespace {

using loader::DType;

// Every decoder below reproduces the arithmetic of loader/dtype.cpp exactly:
// integer codes converted to float (exact), then the same float multiplies and
// adds in the same order (separate mul and add), except where the product is
// exact (ExactMulAdd): then one fused multiply-add rounds as mul + add does.

PAGODA_TARGET_AVX512 inline float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// q * d + m for the Q4_1 and Q5_1 codes q (integers below 32: 5 bits) and d
// from float16 (11 significant bits): q * d has at most 16 significant bits, so
// it is exact in float32 (no underflow either: float16's smallest subnormal is
// far above float32's normal range), and fma(q, d, m) rounds once, as
// fl(fl(q * d) + m) does. One instruction instead of two.
PAGODA_TARGET_AVX512 inline __m512 ExactMulAdd(__m512 q, __m512 d, __m512 m) { return _mm512_fmadd_ps(q, d, m); }

PAGODA_TARGET_AVX512 inline __m512i Bytes16(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

// The 32 values of a block of 4-bit codes (16 bytes: element i in the low
// nibble of byte i, element i + 16 in the high one) looked up in a 16-entry
// table: vpermps reads only the low 4 bits of each index, so the low nibbles
// need no mask.
PAGODA_TARGET_AVX512 inline void TableDecode(__m512 table, const uint8_t* codes, __m512& lo, __m512& hi) {
  const __m512i v = Bytes16(codes);
  lo = _mm512_permutexvar_ps(v, table);
  hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
}

// Q4_0, Q4_1 and Q8_0 blocks: kHalves float16 scales (d, or Q4_1's d and m),
// then kCodeBytes of codes; Decode gives the 32 values from the scales as
// float32 and the codes. Decode32 reads them from a GGUF block, the
// scales-first layout (Matrix::scales_first) from a row's head and body.
// Q4_0 and Q4_1: the 16 values a code can take ((q - 8) * d, or q * d + m),
// with the loader's rounding, then one permute per 16 codes.
template <DType T>
struct SplitFormat;

template <>
struct SplitFormat<DType::kQ4_0> {
  static constexpr int kHalves = 1, kCodeBytes = 16;
  PAGODA_TARGET_AVX512 static void Decode(const float* s, const uint8_t* codes, __m512& lo, __m512& hi) {
    const __m512 table = _mm512_mul_ps(_mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_ps(s[0]));
    TableDecode(table, codes, lo, hi);
  }
};

template <>
struct SplitFormat<DType::kQ4_1> {
  static constexpr int kHalves = 2, kCodeBytes = 16;
  PAGODA_TARGET_AVX512 static void Decode(const float* s, const uint8_t* codes, __m512& lo, __m512& hi) {
    const __m512 table = ExactMulAdd(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_ps(s[0]), _mm512_set1_ps(s[1]));
    TableDecode(table, codes, lo, hi);
  }
};

template <>
struct SplitFormat<DType::kQ8_0> {
  static constexpr int kHalves = 1, kCodeBytes = 32;
  PAGODA_TARGET_AVX512 static void Decode(const float* s, const uint8_t* codes, __m512& lo, __m512& hi) {
    const __m512 d = _mm512_set1_ps(s[0]);
    lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)))), d);
    hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16)))), d);
  }
};

template <DType T>
constexpr bool kSplits = T == DType::kQ4_0 || T == DType::kQ4_1 || T == DType::kQ8_0;

// The 32-element formats: elements 0..15 in lo, 16..31 in hi.
template <DType T>
PAGODA_TARGET_AVX512 inline void Decode32(const uint8_t* b, __m512& lo, __m512& hi) {
  const __m512i nib = _mm512_set1_epi32(0x0F);
  if constexpr (kSplits<T>) {
    constexpr int H = SplitFormat<T>::kHalves;
    float sc[H];
    for (int h = 0; h < H; ++h) sc[h] = Half(b + 2 * h);
    SplitFormat<T>::Decode(sc, b + 2 * H, lo, hi);
  } else if constexpr (T == DType::kQ5_0 || T == DType::kQ5_1) {
    constexpr bool kMin = T == DType::kQ5_1;
    const __m512 d = _mm512_set1_ps(Half(b));
    uint32_t qh;
    std::memcpy(&qh, b + (kMin ? 4 : 2), 4);
    const __m512i v = Bytes16(b + (kMin ? 8 : 6)), sixteen = _mm512_set1_epi32(16);
    __m512i l = _mm512_and_si512(v, nib), h = _mm512_srli_epi32(v, 4);
    l = _mm512_mask_or_epi32(l, static_cast<__mmask16>(qh & 0xFFFF), l, sixteen);
    h = _mm512_mask_or_epi32(h, static_cast<__mmask16>(qh >> 16), h, sixteen);
    if constexpr (kMin) {
      const __m512 m = _mm512_set1_ps(Half(b + 2));
      lo = ExactMulAdd(_mm512_cvtepi32_ps(l), d, m);
      hi = ExactMulAdd(_mm512_cvtepi32_ps(h), d, m);
    } else {
      lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(l, sixteen)), d);
      hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(h, sixteen)), d);
    }
  } else {
    static_assert(T == DType::kQ5_0 || T == DType::kQ5_1, "Decode32: not a 32-element format");
  }
}

using loader::ScaleMinK4;

// The 256-element k-quants, into y[256].
template <DType T>
PAGODA_TARGET_AVX512 inline void Decode256(const uint8_t* b, float* y) {
  const __m512i nib = _mm512_set1_epi32(0x0F);
  if constexpr (T == DType::kQ4_K || T == DType::kQ5_K) {
    constexpr bool k5 = T == DType::kQ5_K;
    const float d = Half(b), dmin = Half(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + (k5 ? 48 : 16);
    for (int g = 0; g < 4; ++g) {
      uint8_t sc, mn;
      ScaleMinK4(2 * g, scales, &sc, &mn);
      const __m512 d1 = _mm512_set1_ps(d * sc), m1 = _mm512_set1_ps(dmin * mn);
      ScaleMinK4(2 * g + 1, scales, &sc, &mn);
      const __m512 d2 = _mm512_set1_ps(d * sc), m2 = _mm512_set1_ps(dmin * mn);
      const __m512i u1 = _mm512_set1_epi32(1 << (2 * g)), u2 = _mm512_set1_epi32(2 << (2 * g)), sixteen = _mm512_set1_epi32(16);
      for (int h = 0; h < 2; ++h) {
        const __m512i v = Bytes16(q + 16 * h);
        __m512i l = _mm512_and_si512(v, nib), u = _mm512_srli_epi32(v, 4);
        if constexpr (k5) {
          const __m512i hb = Bytes16(qh + 16 * h);
          l = _mm512_mask_add_epi32(l, _mm512_test_epi32_mask(hb, u1), l, sixteen);
          u = _mm512_mask_add_epi32(u, _mm512_test_epi32_mask(hb, u2), u, sixteen);
        }
        _mm512_storeu_ps(y + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(l)), m1));
        _mm512_storeu_ps(y + 32 + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(u)), m2));
      }
      q += 32;
      y += 64;
    }
  } else {
    static_assert(T == DType::kQ6_K);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = Half(b + 208);
    const __m512i three = _mm512_set1_epi32(3), off = _mm512_set1_epi32(32);
    for (int n = 0; n < 2; ++n) {
      for (int l0 = 0; l0 < 32; l0 += 16) {
        const int is = l0 / 16;
        const __m512i a = Bytes16(ql + l0), c = Bytes16(ql + l0 + 32), h = Bytes16(qh + l0);
        const __m512i q1 = _mm512_sub_epi32(_mm512_or_si512(_mm512_and_si512(a, nib), _mm512_slli_epi32(_mm512_and_si512(h, three), 4)), off);
        const __m512i q2 = _mm512_sub_epi32(
            _mm512_or_si512(_mm512_and_si512(c, nib), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), three), 4)), off);
        const __m512i q3 = _mm512_sub_epi32(
            _mm512_or_si512(_mm512_srli_epi32(a, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), three), 4)), off);
        const __m512i q4 = _mm512_sub_epi32(
            _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 6), three), 4)), off);
        _mm512_storeu_ps(y + l0, _mm512_mul_ps(_mm512_set1_ps(d * sc[is + 0]), _mm512_cvtepi32_ps(q1)));
        _mm512_storeu_ps(y + l0 + 32, _mm512_mul_ps(_mm512_set1_ps(d * sc[is + 2]), _mm512_cvtepi32_ps(q2)));
        _mm512_storeu_ps(y + l0 + 64, _mm512_mul_ps(_mm512_set1_ps(d * sc[is + 4]), _mm512_cvtepi32_ps(q3)));
        _mm512_storeu_ps(y + l0 + 96, _mm512_mul_ps(_mm512_set1_ps(d * sc[is + 6]), _mm512_cvtepi32_ps(q4)));
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

template <DType T>
constexpr int kBlockElems = (T == DType::kQ4_K || T == DType::kQ5_K || T == DType::kQ6_K) ? 256 : 32;
template <DType T>
constexpr int kBlockBytes = T == DType::kQ4_0 ? 18 : T == DType::kQ4_1 ? 20 : T == DType::kQ5_0 ? 22 : T == DType::kQ5_1 ? 24
                          : T == DType::kQ8_0 ? 34 : T == DType::kQ4_K ? 144 : T == DType::kQ5_K ? 176 : 210;

template <DType T>
PAGODA_TARGET_AVX512 void DecodeRow(const uint8_t* src, float* dst, int64_t n) {
  constexpr int BE = kBlockElems<T>, BB = kBlockBytes<T>;
  for (int64_t blk = 0; blk < n / BE; ++blk) {
    if constexpr (BE == 32) {
      __m512 lo, hi;
      Decode32<T>(src + blk * BB, lo, hi);
      _mm512_storeu_ps(dst + blk * 32, lo);
      _mm512_storeu_ps(dst + blk * 32 + 16, hi);
    } else {
      Decode256<T>(src + blk * BB, dst + blk * 256);
    }
  }
}

// The decode tile of the 32-element formats: decode(b, blk, lo, hi) gives
// elements 0..15 and 16..31 of block blk of weight row b in registers; then the
// FMA sequence of DenseTile (lane l takes k = l, l + 16, ... in order).
template <int MR, int NR, class Decode>
PAGODA_TARGET_AVX512 inline void BlockTile32(const float* x, int64_t ldx, int64_t nblk, const Decode& decode, float* out, int64_t ldo,
                                             PrefetchStream* pf) {
  __m512 acc[MR][NR];
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_ps();
  for (int64_t blk = 0; blk < nblk; ++blk) {
    if (pf != nullptr) pf->Next();
    __m512 lo[NR], hi[NR];
    for (int b = 0; b < NR; ++b) decode(b, blk, lo[b], hi[b]);
    for (int a = 0; a < MR; ++a) {
      const __m512 xv = _mm512_loadu_ps(x + a * ldx + blk * 32);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, lo[b], acc[a][b]);
    }
    for (int a = 0; a < MR; ++a) {
      const __m512 xv = _mm512_loadu_ps(x + a * ldx + blk * 32 + 16);
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, hi[b], acc[a][b]);
    }
  }
  for (int a = 0; a < MR; ++a)
    for (int b = 0; b < NR; ++b) out[a * ldo + b] = _mm512_reduce_add_ps(acc[a][b]);
}

// Blocks of rows in GGUF layout (row b at w + b * row_bytes).
template <DType T>
struct GgufBlocks {
  const uint8_t* w;
  size_t row_bytes;
  PAGODA_TARGET_AVX512 void operator()(int b, int64_t blk, __m512& lo, __m512& hi) const {
    Decode32<T>(w + b * row_bytes + blk * kBlockBytes<T>, lo, hi);
  }
};

// Decode (few rows): weights decoded in registers (32-element formats) or into
// one block-sized L1 buffer per weight row (k-quants), then the FMA sequence of
// DenseTile.
template <DType T, int MR, int NR>
PAGODA_TARGET_AVX512 void SkinnyTile(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes, int64_t k, float* out, int64_t ldo,
                                     PrefetchStream* pf) {
  constexpr int BE = kBlockElems<T>, BB = kBlockBytes<T>;
  const int64_t nblk = k / BE;
  if constexpr (BE == 32) {
    BlockTile32<MR, NR>(x, ldx, nblk, GgufBlocks<T>{w, row_bytes}, out, ldo, pf);
  } else {
    __m512 acc[MR][NR];
    for (int a = 0; a < MR; ++a)
      for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_setzero_ps();
    alignas(64) float buf[NR][BE];
    for (int64_t blk = 0; blk < nblk; ++blk) {
      if (pf != nullptr) pf->Next();
      for (int b = 0; b < NR; ++b) Decode256<T>(w + b * row_bytes + blk * BB, buf[b]);
      for (int e = 0; e < BE; e += 16) {
        __m512 wv[NR];
        for (int b = 0; b < NR; ++b) wv[b] = _mm512_load_ps(buf[b] + e);
        for (int a = 0; a < MR; ++a) {
          const __m512 xv = _mm512_loadu_ps(x + a * ldx + blk * BE + e);
          for (int b = 0; b < NR; ++b) acc[a][b] = _mm512_fmadd_ps(xv, wv[b], acc[a][b]);
        }
      }
    }
    for (int a = 0; a < MR; ++a)
      for (int b = 0; b < NR; ++b) out[a * ldo + b] = _mm512_reduce_add_ps(acc[a][b]);
  }
}

// The n float16 scales at the head of a scales-first row as floats.
PAGODA_TARGET_AVX512 inline void RowScales(const uint8_t* row, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t c = std::min<int64_t>(16, n - i);
    const __mmask16 mk = c == 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << c) - 1);
    _mm512_mask_storeu_ps(out + i, mk, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, row + 2 * i)));
  }
}

// Blocks of scales-first rows, their scales already converted into s (row
// b's at s + b * kHalves * nblk).
template <DType T>
struct SplitBlocks {
  const uint8_t* w;
  size_t row_bytes;
  int64_t nblk;
  const float* s;
  PAGODA_TARGET_AVX512 void operator()(int b, int64_t blk, __m512& lo, __m512& hi) const {
    constexpr int H = SplitFormat<T>::kHalves;
    SplitFormat<T>::Decode(s + (b * nblk + blk) * H, w + b * row_bytes + 2 * H * nblk + SplitFormat<T>::kCodeBytes * blk, lo, hi);
  }
};

// SkinnyTile for a scales-first layout: each row's scales are converted once
// per tile into an L1 buffer (a few wide conversions instead of one per
// block), then the same values and the same FMA sequence as SkinnyTile.
template <DType T, int MR, int NR>
PAGODA_TARGET_AVX512 void SkinnyTileSplit(const float* x, int64_t ldx, const uint8_t* w, size_t row_bytes, int64_t k, float* out, int64_t ldo,
                                          PrefetchStream* pf) {
  constexpr int H = SplitFormat<T>::kHalves;
  const int64_t nblk = k / 32;
  thread_local AlignedBuffer scratch;
  const size_t need = static_cast<size_t>(NR * H * nblk) * sizeof(float);
  if (scratch.size() < need) scratch.Resize(need);
  float* s = scratch.as<float>();
  for (int b = 0; b < NR; ++b) RowScales(w + b * row_bytes, H * nblk, s + b * H * nblk);
  BlockTile32<MR, NR>(x, ldx, nblk, SplitBlocks<T>{w, row_bytes, nblk, s}, out, ldo, pf);
}

// A scales-first row as float32 (DecodeRow's values).
template <DType T>
PAGODA_TARGET_AVX512 void DecodeRowSplit(const uint8_t* src, float* dst, int64_t n) {
  constexpr int H = SplitFormat<T>::kHalves;
  const int64_t nblk = n / 32;
  for (int64_t blk = 0; blk < nblk; ++blk) {
    float s[H];
    for (int h = 0; h < H; ++h) s[h] = Half(src + 2 * (H * blk + h));
    __m512 lo, hi;
    SplitFormat<T>::Decode(s, src + 2 * H * nblk + SplitFormat<T>::kCodeBytes * blk, lo, hi);
    _mm512_storeu_ps(dst + blk * 32, lo);
    _mm512_storeu_ps(dst + blk * 32 + 16, hi);
  }
}

template <DType T, int MR>
PAGODA_TARGET_AVX512 void SkinnyRows(const float* x, int64_t k, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  const size_t rb = w.RowBytes();
  const int64_t ldo = w.rows;
  // Decode streams every weight from memory once: prefetch the tile
  // kPrefetchTiles ahead (rows are contiguous, so that is one linear stream) to
  // keep enough misses in flight; the hardware prefetcher alone leaves this loop
  // latency-bound. The lines go out a block at a time as the tile runs (in one
  // burst they stall the core: 82 -> 100-114 tok/s at batch 1 on a Xeon).
  constexpr int64_t kPrefetchTiles = 3;
  const size_t tile_bytes = 4 * rb;
  const int64_t blocks = k / kBlockElems<T>;
  int64_t j = n0;
  for (; j + 4 <= n1; j += 4) {
    const bool ahead = j + 4 * (kPrefetchTiles + 1) <= n1;
    PrefetchStream pf(ahead ? w.Row(j + 4 * kPrefetchTiles) : nullptr, ahead ? tile_bytes : 0, blocks, PrefetchTo::kL2);
    if constexpr (kSplits<T>) {
      if (w.scales_first) {
        SkinnyTileSplit<T, MR, 4>(x, k, w.Row(j), rb, k, y + j, ldo, &pf);
        continue;
      }
    }
    SkinnyTile<T, MR, 4>(x, k, w.Row(j), rb, k, y + j, ldo, &pf);
  }
  for (; j < n1; ++j) {
    if constexpr (kSplits<T>) {
      if (w.scales_first) {
        SkinnyTileSplit<T, MR, 1>(x, k, w.Row(j), rb, k, y + j, ldo, nullptr);
        continue;
      }
    }
    SkinnyTile<T, MR, 1>(x, k, w.Row(j), rb, k, y + j, ldo, nullptr);
  }
}

// Prefill and batched decode: a panel of weight rows is decoded once into a
// float32 buffer and all m rows pass over it with the dense tile.
constexpr int64_t kPanelRows = 16;

template <DType T>
PAGODA_TARGET_AVX512 void Range(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  const int64_t k = w.cols;
  if (m <= 4) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) SkinnyRows<T, 2>(x + i * k, k, w, y + i * w.rows, n0, n1);
    if (i < m) SkinnyRows<T, 1>(x + i * k, k, w, y + i * w.rows, n0, n1);
    return;
  }
  thread_local AlignedBuffer panel;
  const size_t need = static_cast<size_t>(kPanelRows * k) * sizeof(float);
  if (panel.size() < need) panel.Resize(need);
  float* p = panel.as<float>();
  // Activation rows in blocks that stay in L2 while the panels of [n0, n1) pass
  // (each panel is decoded once per block); without it a long prefill streams
  // all of x from memory once per 16 weight rows.
  const int64_t mb = MRowBlock(k);
  for (int64_t i0 = 0; i0 < m; i0 += mb) {
    const int64_t mi = std::min(mb, m - i0);
    for (int64_t j0 = n0; j0 < n1; j0 += kPanelRows) {
      const int64_t nr = std::min(kPanelRows, n1 - j0);
      for (int64_t r = 0; r < nr; ++r) {
        if constexpr (kSplits<T>) {
          if (w.scales_first) {
            DecodeRowSplit<T>(w.Row(j0 + r), p + r * k, k);
            continue;
          }
        }
        DecodeRow<T>(w.Row(j0 + r), p + r * k, k);
      }
      DensePanel<DType::kF32>(x + i0 * k, mi, k, reinterpret_cast<const uint8_t*>(p), static_cast<size_t>(k) * sizeof(float), nr,
                              y + i0 * w.rows + j0, w.rows);
    }
  }
}

}  // namespace

void QuantRangeAvx512(const float* x, int64_t m, const Matrix& w, float* y, int64_t n0, int64_t n1) {
  switch (w.dtype) {
    case DType::kQ4_0: return Range<DType::kQ4_0>(x, m, w, y, n0, n1);
    case DType::kQ4_1: return Range<DType::kQ4_1>(x, m, w, y, n0, n1);
    case DType::kQ5_0: return Range<DType::kQ5_0>(x, m, w, y, n0, n1);
    case DType::kQ5_1: return Range<DType::kQ5_1>(x, m, w, y, n0, n1);
    case DType::kQ8_0: return Range<DType::kQ8_0>(x, m, w, y, n0, n1);
    case DType::kQ4_K: return Range<DType::kQ4_K>(x, m, w, y, n0, n1);
    case DType::kQ5_K: return Range<DType::kQ5_K>(x, m, w, y, n0, n1);
    case DType::kQ6_K: return Range<DType::kQ6_K>(x, m, w, y, n0, n1);
    default: PAGODA_CHECK_MSG(false, "QuantRangeAvx512: not a block format");
  }
}

void DequantizeRowAvx512(DType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case DType::kQ4_0: return DecodeRow<DType::kQ4_0>(src, dst, n);
    case DType::kQ4_1: return DecodeRow<DType::kQ4_1>(src, dst, n);
    case DType::kQ5_0: return DecodeRow<DType::kQ5_0>(src, dst, n);
    case DType::kQ5_1: return DecodeRow<DType::kQ5_1>(src, dst, n);
    case DType::kQ8_0: return DecodeRow<DType::kQ8_0>(src, dst, n);
    case DType::kQ4_K: return DecodeRow<DType::kQ4_K>(src, dst, n);
    case DType::kQ5_K: return DecodeRow<DType::kQ5_K>(src, dst, n);
    case DType::kQ6_K: return DecodeRow<DType::kQ6_K>(src, dst, n);
    default: loader::DequantizeRow(t, src, dst, n);
  }
}

#else

void QuantRangeAvx512(const float*, int64_t, const Matrix&, float*, int64_t, int64_t) { PAGODA_CHECK_MSG(false, "not built for x86-64"); }
void DequantizeRowAvx512(loader::DType t, const uint8_t* src, float* dst, int64_t n) { loader::DequantizeRow(t, src, dst, n); }

#endif

}  // namespace pagoda::backend::internal
