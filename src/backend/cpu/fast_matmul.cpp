#include "backend/cpu/fast_matmul.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/blocking.h"
#include "common/check.h"
#include "common/cpu_features.h"

namespace pagoda::backend::internal {

namespace {

using loader::DType;

constexpr int64_t kGroup = 16;  // output rows per interleaved group (one 512-bit lane each)

// kI8Row chunks have no header: its per-row scales follow all the chunks.
// kQ6_K chunks hold two float32 scales per row (one per 16-element half).
int64_t HeaderBytes(DType t) { return t == DType::kQ4_1 ? 64 : t == DType::kI8Row ? 0 : t == DType::kQ6_K ? 128 : 32; }
int64_t CodeBytes(DType t) { return t == DType::kQ8_0 || t == DType::kI8Row || t == DType::kQ6_K ? 512 : 256; }
int32_t CodeOffset(DType t) {
  return t == DType::kQ4_0 ? 8 : t == DType::kQ8_0 || t == DType::kI8Row ? 128 : t == DType::kQ6_K ? 32 : 0;
}
// One byte per code, 4 consecutive codes of a row per 32-bit lane.
bool ByteCodes(DType t) { return t == DType::kQ8_0 || t == DType::kI8Row || t == DType::kQ6_K; }
// Where GGUF keeps the codes inside a block.
int64_t GgufCodeStart(DType t) { return t == DType::kQ4_1 ? 4 : 2; }


const uint8_t* Chunk(const Matrix& w, int64_t group, int64_t block) {
  return static_cast<const uint8_t*>(w.data) + (group * (w.cols / 32) + block) * FastChunkBytes(w.dtype);
}

// kI8Row: the 16 row scales of a group (float32), after all the chunks.
const float* RowScales(const Matrix& w, int64_t group) {
  return reinterpret_cast<const float*>(Chunk(w, FastGroups(w), 0)) + group * kGroup;
}

void QuantizeRowsScalar(const float* x, int64_t r0, int64_t r1, int64_t k, QuantActs& qa) {
  const int64_t nb = k / 32;
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + r * k + b * 32;
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      int8_t* q = qa.q.data() + r * k + b * 32;
      int32_t sum = 0, half = 0;
      for (int i = 0; i < 32; ++i) {
        const int v = static_cast<int>(std::nearbyint(xb[i] * id));
        q[i] = static_cast<int8_t>(std::clamp(v, -127, 127));
        sum += q[i];
        if (i == 15) half = sum;
      }
      qa.d[r * nb + b] = d;
      qa.s[r * nb + b] = sum;
      qa.s16[r * nb + b] = half;
      qa.ds[r * nb + b] = d * static_cast<float>(sum);
    }
  }
}

#if defined(__x86_64__)
// The same values as QuantizeRowsScalar: the same float multiply, and
// cvtps2dq rounds to nearest even as nearbyint does in the default mode.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void QuantizeRowsAvx512(const float* x, int64_t r0, int64_t r1, int64_t k,
                                                                            QuantActs& qa) {
  const int64_t nb = k / 32;
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + r * k + b * 32;
      const __m512 a = _mm512_loadu_ps(xb), c = _mm512_loadu_ps(xb + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c)));
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      const __m512 idv = _mm512_set1_ps(id);
      const __m512i qa0 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_mul_ps(a, idv))));
      const __m512i qa1 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_mul_ps(c, idv))));
      int8_t* q = qa.q.data() + r * k + b * 32;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(qa0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(qa1));
      const int32_t half = _mm512_reduce_add_epi32(qa0);
      const int32_t sum = half + _mm512_reduce_add_epi32(qa1);
      qa.d[r * nb + b] = d;
      qa.s[r * nb + b] = sum;
      qa.s16[r * nb + b] = half;
      qa.ds[r * nb + b] = d * static_cast<float>(sum);
    }
  }
}

#define PAGODA_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

PAGODA_TARGET_AVX2 inline int32_t HSumEpi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// The same values as QuantizeRowsScalar, on AVX2 (the max is exact in any
// order; cvtps2dq rounds to nearest even).
PAGODA_TARGET_AVX2 void QuantizeRowsAvx2(const float* x, int64_t r0, int64_t r1, int64_t k, QuantActs& qa) {
  const int64_t nb = k / 32;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);  // undoes the per-lane interleave of the packs
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + r * k + b * 32;
      __m256 v[4];
      for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(xb + 8 * j);
      __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], abs_mask), _mm256_and_ps(v[1], abs_mask)),
                                _mm256_max_ps(_mm256_and_ps(v[2], abs_mask), _mm256_and_ps(v[3], abs_mask)));
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
      const float amax = _mm_cvtss_f32(m4);
      const float d = amax / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      const __m256 idv = _mm256_set1_ps(id);
      __m256i q[4];
      for (int j = 0; j < 4; ++j) q[j] = _mm256_min_epi32(hi, _mm256_max_epi32(lo, _mm256_cvtps_epi32(_mm256_mul_ps(v[j], idv))));
      const __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
      const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qa.q.data() + r * k + b * 32), p8);
      const int32_t half = HSumEpi32(_mm256_add_epi32(q[0], q[1]));
      const int32_t sum = half + HSumEpi32(_mm256_add_epi32(q[2], q[3]));
      qa.d[r * nb + b] = d;
      qa.s[r * nb + b] = sum;
      qa.s16[r * nb + b] = half;
      qa.ds[r * nb + b] = d * static_cast<float>(sum);
    }
  }
}
#endif

void QuantizeRows(const float* x, int64_t r0, int64_t r1, int64_t k, QuantActs& qa) {
#if defined(__x86_64__)
  static const bool avx512 = GetCpuFeatures().avx512f && GetCpuFeatures().avx512bw && GetCpuFeatures().avx512vl;
  static const bool avx2 = GetCpuFeatures().avx2 && GetCpuFeatures().fma && GetCpuFeatures().f16c;
  if (avx512) return QuantizeRowsAvx512(x, r0, r1, k, qa);
  if (avx2) return QuantizeRowsAvx2(x, r0, r1, k, qa);
#endif
  QuantizeRowsScalar(x, r0, r1, k, qa);
}

inline float HalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return loader::F16ToF32(h);
}

// The unsigned code of element e (0..31) of row lane l in a chunk.
inline int CodeAt(DType t, const uint8_t* chunk, int l, int e) {
  const uint8_t* codes = chunk + HeaderBytes(t);
  if (ByteCodes(t)) return codes[64 * (e / 4) + 4 * l + e % 4];
  const int byte_index = e % 16;  // GGUF qs index
  const uint8_t b = codes[64 * (byte_index / 4) + 4 * l + byte_index % 4];
  return e < 16 ? (b & 0x0F) : (b >> 4);
}

// kQ6_K: the float32 scale of half h (elements 16h..16h+15) of row lane l in a chunk.
inline float Q6Scale(const uint8_t* chunk, int h, int l) {
  float f;
  std::memcpy(&f, chunk + 64 * h + 4 * l, 4);
  return f;
}

void ScalarRange(const QuantActs& qa, int64_t m, const Matrix& w, float* y, int64_t g0, int64_t g1) {
  const DType t = w.dtype;
  const int64_t nb = w.cols / 32, k = w.cols;
  const int32_t off = CodeOffset(t);
  for (int64_t g = g0; g < g1; ++g) {
    for (int l = 0; l < kGroup; ++l) {
      const int64_t r = g * kGroup + l;
      if (r >= w.rows) break;
      for (int64_t i = 0; i < m; ++i) {
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b) {
          const uint8_t* c = Chunk(w, g, b);
          const int8_t* q = qa.q.data() + i * k + b * 32;
          if (t == DType::kQ6_K) {
            const int64_t ib = i * nb + b;
            int32_t ia = 0, ib2 = 0;
            for (int e = 0; e < 16; ++e) ia += CodeAt(t, c, l, e) * q[e];
            for (int e = 16; e < 32; ++e) ib2 += CodeAt(t, c, l, e) * q[e];
            ia -= off * qa.s16[ib];
            ib2 -= off * (qa.s[ib] - qa.s16[ib]);
            acc = std::fma(static_cast<float>(ia), Q6Scale(c, 0, l) * qa.d[ib], acc);
            acc = std::fma(static_cast<float>(ib2), Q6Scale(c, 1, l) * qa.d[ib], acc);
            continue;
          }
          int32_t isum = 0;
          for (int e = 0; e < 32; ++e) isum += CodeAt(t, c, l, e) * q[e];
          isum -= off * qa.s[i * nb + b];
          if (t == DType::kI8Row) {
            acc = std::fma(static_cast<float>(isum), qa.d[i * nb + b], acc);
            continue;
          }
          acc = std::fma(static_cast<float>(isum), HalfAt(c + 2 * l) * qa.d[i * nb + b], acc);
          if (t == DType::kQ4_1) acc = std::fma(HalfAt(c + 32 + 2 * l), qa.ds[i * nb + b], acc);
        }
        y[i * w.rows + r] = t == DType::kI8Row ? acc * RowScales(w, g)[l] : acc;
      }
    }
  }
}

#if defined(__x86_64__)
#define PAGODA_TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))

template <DType T, int MR>
PAGODA_TARGET_VNNI void VnniTile(const Matrix& w, int64_t g, const QuantActs& qa, int64_t i0, float* y, PrefetchStream* pf = nullptr) {
  const int64_t nb = w.cols / 32, k = w.cols;
  constexpr bool kRow = T == DType::kI8Row;  // one scale per row, applied after the last block
  constexpr bool kQ6 = T == DType::kQ6_K;    // two scales per row and block, one per 16-element half
  constexpr int32_t off = T == DType::kQ4_0 ? 8 : T == DType::kQ8_0 || kRow ? 128 : kQ6 ? 32 : 0;
  constexpr int64_t hdr = T == DType::kQ4_1 ? 64 : kRow ? 0 : kQ6 ? 128 : 32;
  constexpr int64_t cb = hdr + (T == DType::kQ8_0 || kRow || kQ6 ? 512 : 256);
  const uint8_t* base = Chunk(w, g, 0);
  const __m512i nib = _mm512_set1_epi8(0x0F);
  __m512 acc[MR];
  for (int a = 0; a < MR; ++a) acc[a] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* c = base + b * cb;
    if (pf != nullptr) pf->Next();
    __m512 dw = _mm512_setzero_ps();
    if constexpr (!kRow && !kQ6) dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)));
    __m512 mw = _mm512_setzero_ps();
    if constexpr (T == DType::kQ4_1) mw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 32)));
    __m512i wv[8];
    if constexpr (T == DType::kQ8_0 || kRow || kQ6) {
      for (int s = 0; s < 8; ++s) wv[s] = _mm512_loadu_si512(c + hdr + 64 * s);
    } else {
      for (int t = 0; t < 4; ++t) {
        const __m512i p = _mm512_loadu_si512(c + hdr + 64 * t);
        wv[t] = _mm512_and_si512(p, nib);
        wv[t + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), nib);
      }
    }
    // Rows unrolled so their dot chains interleave; each row's 8 dot products go
    // to two integer accumulators (exact, so the value is the same).
    if constexpr (kQ6) {
      // Each half's 4 dot products into its own accumulator, scaled on its own.
      const __m512 sa = _mm512_loadu_ps(c), sb = _mm512_loadu_ps(c + 64);
#pragma GCC unroll 8
      for (int a = 0; a < MR; ++a) {
        const int64_t i = i0 + a, ib = i * nb + b;
        const int8_t* q = qa.q.data() + i * k + b * 32;
        __m512i is0 = _mm512_setzero_si512(), is1 = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
          int32_t f0, f1;
          std::memcpy(&f0, q + 4 * s, 4);
          std::memcpy(&f1, q + 16 + 4 * s, 4);
          is0 = _mm512_dpbusd_epi32(is0, wv[s], _mm512_set1_epi32(f0));
          is1 = _mm512_dpbusd_epi32(is1, wv[s + 4], _mm512_set1_epi32(f1));
        }
        is0 = _mm512_sub_epi32(is0, _mm512_set1_epi32(off * qa.s16[ib]));
        is1 = _mm512_sub_epi32(is1, _mm512_set1_epi32(off * (qa.s[ib] - qa.s16[ib])));
        const __m512 dx = _mm512_set1_ps(qa.d[ib]);
        acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is0), _mm512_mul_ps(sa, dx), acc[a]);
        acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is1), _mm512_mul_ps(sb, dx), acc[a]);
      }
      continue;
    }
#pragma GCC unroll 8
    for (int a = 0; a < MR; ++a) {
      const int64_t i = i0 + a;
      const int8_t* q = qa.q.data() + i * k + b * 32;
      __m512i is0 = _mm512_setzero_si512(), is1 = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int s = 0; s < 8; s += 2) {
        int32_t f0, f1;
        std::memcpy(&f0, q + 4 * s, 4);
        std::memcpy(&f1, q + 4 * s + 4, 4);
        is0 = _mm512_dpbusd_epi32(is0, wv[s], _mm512_set1_epi32(f0));
        is1 = _mm512_dpbusd_epi32(is1, wv[s + 1], _mm512_set1_epi32(f1));
      }
      __m512i isum = _mm512_add_epi32(is0, is1);
      if constexpr (off != 0) isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(off * qa.s[i * nb + b]));
      if constexpr (kRow) acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(qa.d[i * nb + b]), acc[a]);
      else acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(qa.d[i * nb + b])), acc[a]);
      if constexpr (T == DType::kQ4_1) acc[a] = _mm512_fmadd_ps(mw, _mm512_set1_ps(qa.ds[i * nb + b]), acc[a]);
    }
  }
  const int64_t r0 = g * kGroup;
  const int64_t valid = std::min<int64_t>(kGroup, w.rows - r0);
  const __mmask16 mask = valid == kGroup ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1);
  if constexpr (kRow) {
    const __m512 sw = _mm512_loadu_ps(RowScales(w, g));
    for (int a = 0; a < MR; ++a) acc[a] = _mm512_mul_ps(acc[a], sw);
  }
  for (int a = 0; a < MR; ++a) _mm512_mask_storeu_ps(y + (i0 + a) * w.rows + r0, mask, acc[a]);
}

template <DType T>
PAGODA_TARGET_VNNI void VnniRange(const QuantActs& qa, int64_t m, const Matrix& w, float* y, int64_t g0, int64_t g1) {
  const size_t group_bytes = static_cast<size_t>(w.cols / 32 * FastChunkBytes(T));
  if (m <= 4) {
    // Decode streams each 16-row group from memory once: prefetch the group
    // kAhead groups ahead (groups are contiguous, so one linear stream), a
    // chunk per block of the first row's tile. Asked for all at once, the
    // group's lines fill the core's line-fill buffers and stall it (45 % of a
    // batch-1 step sat on the prefetches on a Xeon with AVX-512); spread, they
    // overlap the dot products: 161 -> 240 tok/s there (medians of 8).
    constexpr int64_t kAhead = 2;
    for (int64_t g = g0; g < g1; ++g) {
      PrefetchStream ahead(g + kAhead < g1 ? Chunk(w, g + kAhead, 0) : nullptr, g + kAhead < g1 ? group_bytes : 0, w.cols / 32,
                           PrefetchTo::kL2);
      for (int64_t i = 0; i < m; ++i) VnniTile<T, 1>(w, g, qa, i, y, i == 0 ? &ahead : nullptr);
    }
    return;
  }
  // Batches: a run of groups (about 32 KiB of weights, kept in L1/L2) is swept by
  // every 8-row tile of activations, so each tile writes its outputs as
  // contiguous runs instead of 8 rows far apart per group. Same tiles, same values.
  // Output rows a multiple of 4 KiB apart (the 49152-row LM head) make the 8
  // stores of an 8-row tile alias in L1; those take 4-row tiles (measured:
  // 8-row tiles ran 15% slower there, 50% faster on the layer matrices).
  const bool alias4k = (w.rows * static_cast<int64_t>(sizeof(float))) % 4096 == 0;
  const int64_t run = std::max<int64_t>(1, (int64_t{32} << 10) / static_cast<int64_t>(group_bytes));
  // While a run is swept, the next run comes in a few lines per block (the
  // first sweep of a run otherwise waits on memory for every chunk: at 64
  // sequences 719 -> 815 tok/s, medians of 8, on the Xeon).
  const int64_t tiles = alias4k ? m / 4 + m % 4 : m / 8 + m % 8 / 4 + m % 4;
  for (int64_t gb = g0; gb < g1; gb += run) {
    const int64_t ge = std::min(g1, gb + run), gn = std::min(g1, ge + run);
    PrefetchStream next(ge < gn ? Chunk(w, ge, 0) : nullptr, static_cast<size_t>(gn - ge) * group_bytes, tiles * (ge - gb) * (w.cols / 32));
    int64_t i = 0;
    if (!alias4k)
      for (; i + 8 <= m; i += 8)
        for (int64_t g = gb; g < ge; ++g) VnniTile<T, 8>(w, g, qa, i, y, &next);
    for (; i + 4 <= m; i += 4)
      for (int64_t g = gb; g < ge; ++g) VnniTile<T, 4>(w, g, qa, i, y, &next);
    for (; i < m; ++i)
      for (int64_t g = gb; g < ge; ++g) VnniTile<T, 1>(w, g, qa, i, y, &next);
  }
}

// The int8 kernel on AVX2 (no VNNI): the same integer block sums as VnniTile,
// then the same float operations in the same order, so the values are
// identical. A 256-bit register holds 8 rows' 4-code lanes: half h of a chunk
// register is rows 8h..8h+7. vpmaddubsw adds the u8 x s8 products of each byte
// pair into 16 bits and vpmaddwd (by ones) each 16-bit pair into the lane:
//   Q4_0 / Q4_1 (codes 0..15): a pair is at most 2 * 15 * 127 = 3810, so the
//     8 products of a block add in 16 bits (at most 30480) and widen once;
//   Q8_0 / I8_ROW (u8 = s8 + 128): with |w| as the unsigned operand and
//     x * sign(w) as the signed one a pair is at most 2 * 128 * 127 = 32512,
//     and the sum is of the signed codes, which is what VnniTile gets after
//     subtracting 128 * qsum; each product widens to 32 bits at once.
template <DType T, int MR>
PAGODA_TARGET_AVX2 void Avx2Tile(const Matrix& w, int64_t g, const QuantActs& qa, int64_t i0, float* y) {
  const int64_t nb = w.cols / 32, k = w.cols;
  constexpr bool kRow = T == DType::kI8Row;
  constexpr bool kQ8 = T == DType::kQ8_0 || kRow;
  constexpr bool kQ6 = T == DType::kQ6_K;
  constexpr int64_t hdr = T == DType::kQ4_1 ? 64 : kRow ? 0 : kQ6 ? 128 : 32;
  constexpr int64_t cb = hdr + (kQ8 || kQ6 ? 512 : 256);
  const uint8_t* base = Chunk(w, g, 0);
  const __m256i nib = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const int64_t r0 = g * kGroup;
  for (int h = 0; h < 2; ++h) {
    const int64_t first = r0 + 8 * h, valid = std::min<int64_t>(8, w.rows - first);
    if (valid <= 0) break;  // the group's padding rows
    __m256 acc[MR];
    for (int a = 0; a < MR; ++a) acc[a] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* c = base + b * cb;
      if constexpr (kQ6) {
        // Codes 0..63: a pair is at most 2 * 63 * 127 = 16002, widened at once;
        // each half into its own sum, scaled on its own (as VnniTile).
        __m256i ia[MR], ib[MR];
        for (int a = 0; a < MR; ++a) ia[a] = ib[a] = _mm256_setzero_si256();
        for (int s = 0; s < 8; ++s) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + hdr + 64 * s + 32 * h));
          for (int a = 0; a < MR; ++a) {
            int32_t f;
            std::memcpy(&f, qa.q.data() + (i0 + a) * k + b * 32 + 4 * s, 4);
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, _mm256_set1_epi32(f)), ones);
            if (s < 4) ia[a] = _mm256_add_epi32(ia[a], p);
            else ib[a] = _mm256_add_epi32(ib[a], p);
          }
        }
        const __m256 sa = _mm256_loadu_ps(reinterpret_cast<const float*>(c) + 8 * h);
        const __m256 sb = _mm256_loadu_ps(reinterpret_cast<const float*>(c + 64) + 8 * h);
        for (int a = 0; a < MR; ++a) {
          const int64_t ix = (i0 + a) * nb + b;
          ia[a] = _mm256_sub_epi32(ia[a], _mm256_set1_epi32(32 * qa.s16[ix]));
          ib[a] = _mm256_sub_epi32(ib[a], _mm256_set1_epi32(32 * (qa.s[ix] - qa.s16[ix])));
          const __m256 dx = _mm256_set1_ps(qa.d[ix]);
          acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[a]), _mm256_mul_ps(sa, dx), acc[a]);
          acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ib[a]), _mm256_mul_ps(sb, dx), acc[a]);
        }
        continue;
      }
      __m256i isum[MR];
      if constexpr (kQ8) {
        for (int a = 0; a < MR; ++a) isum[a] = _mm256_setzero_si256();
        for (int s = 0; s < 8; ++s) {
          const __m256i ws = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + hdr + 64 * s + 32 * h)), flip);
          const __m256i wa = _mm256_abs_epi8(ws);
          for (int a = 0; a < MR; ++a) {
            int32_t f;
            std::memcpy(&f, qa.q.data() + (i0 + a) * k + b * 32 + 4 * s, 4);
            const __m256i xs = _mm256_sign_epi8(_mm256_set1_epi32(f), ws);
            isum[a] = _mm256_add_epi32(isum[a], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, xs), ones));
          }
        }
      } else {
        __m256i s16[MR];
        for (int a = 0; a < MR; ++a) s16[a] = _mm256_setzero_si256();
        for (int s = 0; s < 8; ++s) {
          const __m256i p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + hdr + 64 * (s % 4) + 32 * h));
          const __m256i wv = s < 4 ? _mm256_and_si256(p, nib) : _mm256_and_si256(_mm256_srli_epi16(p, 4), nib);
          for (int a = 0; a < MR; ++a) {
            int32_t f;
            std::memcpy(&f, qa.q.data() + (i0 + a) * k + b * 32 + 4 * s, 4);
            s16[a] = _mm256_add_epi16(s16[a], _mm256_maddubs_epi16(wv, _mm256_set1_epi32(f)));
          }
        }
        for (int a = 0; a < MR; ++a) {
          isum[a] = _mm256_madd_epi16(s16[a], ones);
          if constexpr (T == DType::kQ4_0) isum[a] = _mm256_sub_epi32(isum[a], _mm256_set1_epi32(8 * qa.s[(i0 + a) * nb + b]));
        }
      }
      __m256 dw = _mm256_setzero_ps(), mw = _mm256_setzero_ps();
      if constexpr (!kRow) dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * h)));
      if constexpr (T == DType::kQ4_1) mw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 32 + 16 * h)));
      for (int a = 0; a < MR; ++a) {
        const int64_t ib = (i0 + a) * nb + b;
        if constexpr (kRow) acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[a]), _mm256_set1_ps(qa.d[ib]), acc[a]);
        else acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[a]), _mm256_mul_ps(dw, _mm256_set1_ps(qa.d[ib])), acc[a]);
        if constexpr (T == DType::kQ4_1) acc[a] = _mm256_fmadd_ps(mw, _mm256_set1_ps(qa.ds[ib]), acc[a]);
      }
    }
    if constexpr (kRow) {
      const __m256 sw = _mm256_loadu_ps(RowScales(w, g) + 8 * h);
      for (int a = 0; a < MR; ++a) acc[a] = _mm256_mul_ps(acc[a], sw);
    }
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int a = 0; a < MR; ++a) _mm256_maskstore_ps(y + (i0 + a) * w.rows + first, mask, acc[a]);
  }
}

// VnniRange's loop on AVX2: decode takes 1-row tiles per group (the group
// stays in L1 for the next row), batches 4-row tiles over L1-sized runs of groups.
template <DType T>
PAGODA_TARGET_AVX2 void Avx2Range(const QuantActs& qa, int64_t m, const Matrix& w, float* y, int64_t g0, int64_t g1) {
  const size_t group_bytes = static_cast<size_t>(w.cols / 32 * FastChunkBytes(T));
  if (m <= 4) {
    constexpr int64_t kAhead = 2;
    for (int64_t g = g0; g < g1; ++g) {
      if (g + kAhead < g1) PrefetchRange(Chunk(w, g + kAhead, 0), group_bytes);
      for (int64_t i = 0; i < m; ++i) Avx2Tile<T, 1>(w, g, qa, i, y);
    }
    return;
  }
  const int64_t run = std::max<int64_t>(1, (int64_t{32} << 10) / static_cast<int64_t>(group_bytes));
  for (int64_t gb = g0; gb < g1; gb += run) {
    const int64_t ge = std::min(g1, gb + run);
    int64_t i = 0;
    for (; i + 4 <= m; i += 4)
      for (int64_t g = gb; g < ge; ++g) Avx2Tile<T, 4>(w, g, qa, i, y);
    for (; i < m; ++i)
      for (int64_t g = gb; g < ge; ++g) Avx2Tile<T, 1>(w, g, qa, i, y);
  }
}
#endif

}  // namespace

bool FastFormat(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ8_0 || t == DType::kI8Row || t == DType::kQ6_K; }

int64_t FastChunkBytes(DType t) { return HeaderBytes(t) + CodeBytes(t); }

void RepackFast(const Matrix& src, Matrix* dst) {
  const DType t = src.dtype;
  PAGODA_CHECK(FastFormat(t) && src.precision == MatmulPrecision::kExact && src.cols % 32 == 0);
  dst->dtype = t;
  dst->rows = src.rows;
  dst->cols = src.cols;
  dst->precision = MatmulPrecision::kFast;
  const int64_t nb = src.cols / 32, cb = FastChunkBytes(t), hdr = HeaderBytes(t);
  const int64_t scale_bytes = t == DType::kI8Row ? FastGroups(src) * kGroup * 4 : 0;
  AlignedBuffer buf(static_cast<size_t>(FastGroups(src) * nb * cb + scale_bytes));
  buf.Zero();
  uint8_t* out = buf.as<uint8_t>();
  if (t == DType::kQ6_K) {
    uint8_t codes[256];
    float scales[16];
    for (int64_t r = 0; r < src.rows; ++r) {
      const int64_t g = r / kGroup, l = r % kGroup;
      for (int64_t sb = 0; sb < src.cols / 256; ++sb) {
        loader::UnpackQ6_K(src.Row(r) + sb * loader::BlockBytes(t), codes, scales);
        for (int64_t j = 0; j < 8; ++j) {
          uint8_t* c = out + (g * nb + sb * 8 + j) * cb;
          std::memcpy(c + 4 * l, &scales[2 * j], 4);           // half 0
          std::memcpy(c + 64 + 4 * l, &scales[2 * j + 1], 4);  // half 1
          for (int s = 0; s < 8; ++s)
            for (int e = 0; e < 4; ++e) c[hdr + 64 * s + 4 * l + e] = codes[32 * j + 4 * s + e];
        }
      }
    }
    dst->owned = std::move(buf);
    dst->data = dst->owned.data();
    return;
  }
  if (t == DType::kI8Row) {
    for (int64_t r = 0; r < src.rows; ++r) {
      const int64_t g = r / kGroup, l = r % kGroup;
      const uint8_t* qs = src.Row(r) + 4;
      std::memcpy(out + FastGroups(src) * nb * cb + 4 * r, src.Row(r), 4);  // scale of row r = group g, lane l
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* c = out + (g * nb + b) * cb;
        for (int s = 0; s < 8; ++s)
          for (int j = 0; j < 4; ++j) c[64 * s + 4 * l + j] = static_cast<uint8_t>(qs[32 * b + 4 * s + j] ^ 0x80);
      }
    }
    dst->owned = std::move(buf);
    dst->data = dst->owned.data();
    return;
  }
  const int64_t bb = loader::BlockBytes(t), cs = GgufCodeStart(t);
  for (int64_t r = 0; r < src.rows; ++r) {
    const int64_t g = r / kGroup, l = r % kGroup;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* blk = src.Row(r) + b * bb;
      uint8_t* c = out + (g * nb + b) * cb;
      std::memcpy(c + 2 * l, blk, 2);                                   // d
      if (t == DType::kQ4_1) std::memcpy(c + 32 + 2 * l, blk + 2, 2);  // m
      const uint8_t* qs = blk + cs;
      if (t == DType::kQ8_0) {
        for (int s = 0; s < 8; ++s)
          for (int j = 0; j < 4; ++j) c[hdr + 64 * s + 4 * l + j] = static_cast<uint8_t>(qs[4 * s + j] ^ 0x80);
      } else {
        for (int s = 0; s < 4; ++s)
          for (int j = 0; j < 4; ++j) c[hdr + 64 * s + 4 * l + j] = qs[4 * s + j];
      }
    }
  }
  dst->owned = std::move(buf);
  dst->data = dst->owned.data();
}

void FastDequantRow(const Matrix& w, int64_t r, float* dst) {
  const DType t = w.dtype;
  const int64_t g = r / kGroup, l = r % kGroup, nb = w.cols / 32, cs = GgufCodeStart(t);
  if (t == DType::kI8Row) {  // back to the kI8Row row, then the loader's arithmetic
    std::vector<uint8_t> row(static_cast<size_t>(4 + w.cols));
    std::memcpy(row.data(), RowScales(w, g) + l, 4);
    for (int64_t b = 0; b < nb; ++b)
      for (int e = 0; e < 32; ++e) row[4 + 32 * b + e] = static_cast<uint8_t>(CodeAt(t, Chunk(w, g, b), static_cast<int>(l), e) ^ 0x80);
    loader::DequantizeRow(t, row.data(), dst, w.cols);
    return;
  }
  if (t == DType::kQ6_K) {  // scale * (q - 32), the loader's product
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* c = Chunk(w, g, b);
      for (int e = 0; e < 32; ++e)
        dst[b * 32 + e] = Q6Scale(c, e / 16, static_cast<int>(l)) * static_cast<float>(CodeAt(t, c, static_cast<int>(l), e) - 32);
    }
    return;
  }
  uint8_t blk[64];
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* c = Chunk(w, g, b);
    std::memcpy(blk, c + 2 * l, 2);
    if (t == DType::kQ4_1) std::memcpy(blk + 2, c + 32 + 2 * l, 2);
    if (t == DType::kQ8_0) {
      for (int e = 0; e < 32; ++e) blk[cs + e] = static_cast<uint8_t>(CodeAt(t, c, static_cast<int>(l), e) ^ 0x80);
    } else {
      for (int j = 0; j < 16; ++j)
        blk[cs + j] = static_cast<uint8_t>(CodeAt(t, c, static_cast<int>(l), j) | (CodeAt(t, c, static_cast<int>(l), j + 16) << 4));
    }
    loader::DequantizeRow(t, blk, dst + b * 32, 32);
  }
}

namespace {

// scalar: the plain quantizer (the scalar model), else the CPU's vector one (the same values).
void AddBias(const float* bias, int64_t m, int64_t n, float* y) {
  if (!bias) return;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) y[i * n + j] += bias[j];
}

}  // namespace

void FastMatMulScalar(const float* x, int64_t m, const Matrix& w, const float* bias, float* y) {
  const QuantActs& qa = QuantizeActivations(x, m, w.cols, nullptr, /*scalar=*/true);
  ScalarRange(qa, m, w, y, 0, FastGroups(w));
  AddBias(bias, m, w.rows, y);
}

const QuantActs& QuantizeActivations(const float* x, int64_t m, int64_t k, ThreadPool* pool, bool scalar) {
  // Grows to the largest batch, then reused: no allocation per step. Named
  // through a reference so that pool workers see the caller's buffers (a
  // lambda would name their own thread_local instead).
  thread_local QuantActs buffers;
  QuantActs& qa = buffers;
  const size_t nb = static_cast<size_t>(m * (k / 32));
  if (qa.q.size() < static_cast<size_t>(m * k)) qa.q.resize(static_cast<size_t>(m * k));
  if (qa.d.size() < nb) {
    qa.d.resize(nb);
    qa.s.resize(nb);
    qa.s16.resize(nb);
    qa.ds.resize(nb);
  }
  if (scalar) {
    QuantizeRowsScalar(x, 0, m, k, qa);
  } else if (pool != nullptr && m >= 8) {
    pool->Run(m, [&](int64_t r0, int64_t r1, int) { QuantizeRows(x, r0, r1, k, qa); });
  } else {
    QuantizeRows(x, 0, m, k, qa);
  }
  return qa;
}

void FastRange(const QuantActs& qa, int64_t m, const Matrix& w, const float* bias, float* y, int64_t g0, int64_t g1, FastKernel kernel) {
#if defined(__x86_64__)
  if (kernel == FastKernel::kVnni) {
    switch (w.dtype) {
      case DType::kQ4_0: VnniRange<DType::kQ4_0>(qa, m, w, y, g0, g1); break;
      case DType::kQ4_1: VnniRange<DType::kQ4_1>(qa, m, w, y, g0, g1); break;
      case DType::kI8Row: VnniRange<DType::kI8Row>(qa, m, w, y, g0, g1); break;
      case DType::kQ6_K: VnniRange<DType::kQ6_K>(qa, m, w, y, g0, g1); break;
      default: VnniRange<DType::kQ8_0>(qa, m, w, y, g0, g1); break;
    }
  } else if (kernel == FastKernel::kAvx2) {
    switch (w.dtype) {
      case DType::kQ4_0: Avx2Range<DType::kQ4_0>(qa, m, w, y, g0, g1); break;
      case DType::kQ4_1: Avx2Range<DType::kQ4_1>(qa, m, w, y, g0, g1); break;
      case DType::kI8Row: Avx2Range<DType::kI8Row>(qa, m, w, y, g0, g1); break;
      case DType::kQ6_K: Avx2Range<DType::kQ6_K>(qa, m, w, y, g0, g1); break;
      default: Avx2Range<DType::kQ8_0>(qa, m, w, y, g0, g1); break;
    }
  } else {
    ScalarRange(qa, m, w, y, g0, g1);
  }
#else
  (void)kernel;
  ScalarRange(qa, m, w, y, g0, g1);
#endif
  if (bias) {
    const int64_t r0 = g0 * kGroup, r1 = std::min(w.rows, g1 * kGroup);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t r = r0; r < r1; ++r) y[i * w.rows + r] += bias[r];
  }
}

void FastMatMul(ThreadPool& pool, const float* x, int64_t m, const Matrix& w, const float* bias, float* y, FastKernel kernel) {
  const QuantActs& qa = QuantizeActivations(x, m, w.cols, &pool);
  pool.Run(FastGroups(w), [&](int64_t g0, int64_t g1, int) { FastRange(qa, m, w, bias, y, g0, g1, kernel); });
}

}  // namespace pagoda::backend::internal
