#include "backend/cpu/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/vec_math_avx512.h"
#include "common/check.h"
#include "common/cpu_features.h"
#include "loader/dtype.h"

namespace pagoda::backend {

namespace {

// Keys are visited in chunks of kKeyChunk logical positions counted from the
// first visible key, so the online-softmax rescaling points depend only on the
// query position and the window: never on the KV block size, the block table
// or the batch.
constexpr int64_t kKeyChunk = 64;
constexpr int64_t kMaxGroup = 32;  // query heads per KV head handled on the stack

float DotScalar(const float* a, const float* b, int64_t n) {
  float acc[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float x : acc) s += x;
  return s;
}

void AxpyScalar(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void ScaleScalar(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

#if defined(__x86_64__)
#define PAGODA_ATTN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
PAGODA_ATTN_AVX512 float DotAvx512(const float* a, const float* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  return _mm512_reduce_add_ps(acc);
}
PAGODA_ATTN_AVX512 void AxpyAvx512(float a, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
}
PAGODA_ATTN_AVX512 void ScaleAvx512(float a, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(av, _mm512_loadu_ps(y + i)));
}

// The AVX2+FMA tier (and head dims the AVX-512 kernels do not take): 8 lanes, n % 8 == 0.
#define PAGODA_ATTN_AVX2 __attribute__((target("avx2,fma")))
PAGODA_ATTN_AVX2 float DotAvx2(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}
PAGODA_ATTN_AVX2 void AxpyAvx2(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
}
PAGODA_ATTN_AVX2 void ScaleAvx2(float a, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  for (int64_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(av, _mm256_loadu_ps(y + i)));
}
#endif

struct Kernels {
  float (*dot)(const float*, const float*, int64_t);
  void (*axpy)(float, const float*, float*, int64_t);
  void (*scale)(float, float*, int64_t);
};

// The matmul tier decides (PAGODA_MATMUL_TIER / ForceMatMulTierForTesting force a lower one).
bool UseAvx512() { return UsesAvx512MatMul(); }
bool UseAvx2() { return UsesAvx2MatMul(); }

Kernels PickKernels(int64_t head_dim) {
#if defined(__x86_64__)
  if (UseAvx512() && head_dim % 16 == 0) return {DotAvx512, AxpyAvx512, ScaleAvx512};
  if ((UseAvx512() || UseAvx2()) && head_dim % 8 == 0) return {DotAvx2, AxpyAvx2, ScaleAvx2};
#endif
  return {DotScalar, AxpyScalar, ScaleScalar};
}

}  // namespace

const char* AttentionKernelName() { return UseAvx512() ? "flash-avx512" : UseAvx2() ? "flash-avx2" : "flash-scalar"; }

namespace {

// float32 -> the cache's 16-bit type, rounded to nearest even: loader's
// F32ToF16 / F32ToBf16, or the AVX-512 conversions that give the same bits
// (vcvtps2ph with round-to-nearest; bf16 by the same integer rounding as F32ToBf16).
void ToHalf16Scalar(KvDType t, const float* x, int64_t n, uint16_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = t == KvDType::kF16 ? loader::F32ToF16(x[i]) : loader::F32ToBf16(x[i]);
}

#if defined(__x86_64__)
PAGODA_ATTN_AVX512 inline __m256i Bf16Of(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  // NaN stays NaN (quiet bit set), as F32ToBf16.
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40)));
  return _mm512_cvtepi32_epi16(r);
}

PAGODA_ATTN_AVX512 void ToHalf16Avx512(KvDType t, const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m256i h = t == KvDType::kF16 ? _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) : Bf16Of(v);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), h);
  }
  ToHalf16Scalar(t, x + i, n - i, out + i);
}
#endif

void ToHalf16(KvDType t, const float* x, int64_t n, uint16_t* out) {
#if defined(__x86_64__)
  if (UseAvx512()) return ToHalf16Avx512(t, x, n, out);
#endif
  ToHalf16Scalar(t, x, n, out);
}

}  // namespace

void WriteKv(const float* k, const float* v, const int64_t* slot_mapping, int64_t num_tokens, KvCache& cache, int64_t layer) {
  const int64_t stride = cache.slot_stride();
  const KvDType t = cache.dtype();
  uint8_t* kc = static_cast<uint8_t*>(cache.key_data(layer));
  uint8_t* vc = static_cast<uint8_t*>(cache.value_data(layer));
  const size_t row_bytes = static_cast<size_t>(stride) * KvElemBytes(t);
  for (int64_t i = 0; i < num_tokens; ++i) {
    const int64_t slot = slot_mapping[i];
    if (slot < 0) continue;  // padding
    if (t == KvDType::kF32) {
      std::memcpy(kc + slot * row_bytes, k + i * stride, row_bytes);
      std::memcpy(vc + slot * row_bytes, v + i * stride, row_bytes);
    } else {
      ToHalf16(t, k + i * stride, stride, reinterpret_cast<uint16_t*>(kc + slot * row_bytes));
      ToHalf16(t, v + i * stride, stride, reinterpret_cast<uint16_t*>(vc + slot * row_bytes));
    }
  }
}

namespace {

#if defined(__x86_64__)
// float16 -> float32 with F16C (exact, as loader::F16ToF32), 8 at a time.
__attribute__((target("avx2,f16c"))) void WidenF16(const uint16_t* h, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  for (; i < n; ++i) out[i] = loader::F16ToF32(h[i]);
}
#endif

// n 16-bit cache elements of type t (kF16 or kBF16) as float32.
void Widen16(KvDType t, const uint16_t* h, int64_t n, float* out) {
  if (t == KvDType::kBF16) {
    for (int64_t i = 0; i < n; ++i) out[i] = loader::Bf16ToF32(h[i]);
    return;
  }
#if defined(__x86_64__)
  if (UseAvx512() || UseAvx2()) return WidenF16(h, n, out);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = loader::F16ToF32(h[i]);
}

}  // namespace

void ReadKvRow(const KvCache& cache, const void* base, int64_t slot, float* out) {
  const int64_t stride = cache.slot_stride();
  if (cache.dtype() == KvDType::kF32) {
    std::memcpy(out, static_cast<const float*>(base) + slot * stride, stride * sizeof(float));
    return;
  }
  Widen16(cache.dtype(), static_cast<const uint16_t*>(base) + slot * stride, stride, out);
}

namespace {

// One work item: query row t of a sequence, query heads [h0, h0 + nh) that all
// read KV head g. Every head is computed by the same sequence of operations
// whichever heads share its item, so the split into items (which depends on
// the batch shape) never changes a result.
struct AttnItem {
  const float* q;  // query of head h0 (heads contiguous, D floats apart)
  float* out;
  int64_t nh, g, pos, kstart;
  const int32_t* block_table;
};

struct AttnParams {
  const void* kc;  // elements of kv (float32, or float16/bfloat16 widened on load)
  const void* vc;
  int64_t D, bs, stride;
  float scale, softcap;
  Kernels kern;
  KvDType kv;
};

// Row `off` (in elements) of a cache layer as float32: in place for float32,
// else widened into out[D] (the generic path).
inline const float* KvRow(const AttnParams& p, const void* base, int64_t off, float* out) {
  if (p.kv == KvDType::kF32) return static_cast<const float*>(base) + off;
  Widen16(p.kv, static_cast<const uint16_t*>(base) + off, p.D, out);
  return out;
}

// Scores of chunk keys [0, nc) -> probabilities, updating the running max and sum;
// returns alpha (the rescale factor of what was accumulated before).
inline void SoftmaxChunk(float* sc, int64_t nc, float* mx, float* sum, float* alpha) {
  float cmax = *mx;
  for (int64_t j = 0; j < nc; ++j) cmax = std::max(cmax, sc[j]);
  *alpha = std::exp(*mx - cmax);  // 0 on the first chunk
  float csum = 0;
  for (int64_t j = 0; j < nc; ++j) {
    sc[j] = std::exp(sc[j] - cmax);
    csum += sc[j];
  }
  *sum = *sum * *alpha + csum;
  *mx = cmax;
}

// The walk's state before the first key: no max, no sum, zero outputs.
inline void StartItem(const AttnItem& it, int64_t D, float* mx, float* sum) {
  for (int64_t hq = 0; hq < it.nh; ++hq) {
    mx[hq] = -INFINITY;
    sum[hq] = 0;
    std::fill(it.out + hq * D, it.out + (hq + 1) * D, 0.0f);
  }
}

// The K and V rows of chunk keys c0 .. c0 + nc - 1 as float32: in the cache
// (float32), or widened into wide (16-bit caches; 2 * kKeyChunk * D floats).
inline void ChunkRows(const AttnParams& p, const AttnItem& it, int64_t c0, int64_t nc, float* wide, const float** kp,
                      const float** vp) {
  const int64_t D = p.D;
  int64_t blk = c0 / p.bs, in_blk = c0 % p.bs;  // one division per chunk, not per key
  for (int64_t j = 0; j < nc; ++j) {
    const int64_t slot = static_cast<int64_t>(it.block_table[blk]) * p.bs + in_blk;
    if (++in_blk == p.bs) in_blk = 0, ++blk;
    kp[j] = KvRow(p, p.kc, slot * p.stride + it.g * D, wide + j * D);
    vp[j] = KvRow(p, p.vc, slot * p.stride + it.g * D, wide + (kKeyChunk + j) * D);
  }
}

// The widening buffer of the calling thread (empty for float32 caches).
inline float* WideBuffer(const AttnParams& p) {
  thread_local std::vector<float> wide;
  if (p.kv != KvDType::kF32) wide.resize(static_cast<size_t>(2 * kKeyChunk * p.D));
  return wide.data();
}

void AttendGeneric(const AttnParams& p, const AttnItem& it) {
  const int64_t D = p.D;
  float sc[kMaxGroup][kKeyChunk];
  float mx[kMaxGroup], sum[kMaxGroup], alpha[kMaxGroup];
  const float* kp[kKeyChunk];
  const float* vp[kKeyChunk];
  float* wide = WideBuffer(p);
  StartItem(it, D, mx, sum);
  for (int64_t c0 = it.kstart; c0 <= it.pos; c0 += kKeyChunk) {
    const int64_t nc = std::min(kKeyChunk, it.pos + 1 - c0);
    ChunkRows(p, it, c0, nc, wide, kp, vp);
    for (int64_t j = 0; j < nc; ++j) {
      for (int64_t hq = 0; hq < it.nh; ++hq) {
        float v = p.kern.dot(it.q + hq * D, kp[j], D) * p.scale;
        if (p.softcap > 0) v = std::tanh(v / p.softcap) * p.softcap;
        sc[hq][j] = v;
      }
    }
    for (int64_t hq = 0; hq < it.nh; ++hq) {
      SoftmaxChunk(sc[hq], nc, &mx[hq], &sum[hq], &alpha[hq]);
      if (c0 != it.kstart) p.kern.scale(alpha[hq], it.out + hq * D, D);
    }
    for (int64_t j = 0; j < nc; ++j)
      for (int64_t hq = 0; hq < it.nh; ++hq) p.kern.axpy(sc[hq][j], vp[j], it.out + hq * D, D);
  }
  for (int64_t hq = 0; hq < it.nh; ++hq) p.kern.scale(1.0f / sum[hq], it.out + hq * D, D);
}

#if defined(__x86_64__)
// SoftmaxChunk with vector exponentials (Exp512) and a 16-lane partial sum.
PAGODA_TARGET_AVX512_MATH inline void SoftmaxChunk512(float* sc, int64_t nc, float* mx, float* sum, float* alpha) {
  __m512 vmax = _mm512_set1_ps(*mx);
  for (int64_t j = 0; j < nc; j += 16) {
    const __mmask16 m = nc - j >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (nc - j)) - 1);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, sc + j));
  }
  const float cmax = _mm512_reduce_max_ps(vmax);
  const __m512 cm = _mm512_set1_ps(cmax);
  *alpha = _mm512_cvtss_f32(internal::Exp512(_mm512_set1_ps(*mx - cmax)));  // 0 on the first chunk
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < nc; j += 16) {
    const __mmask16 m = nc - j >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (nc - j)) - 1);
    const __m512 e = _mm512_maskz_mov_ps(m, internal::Exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sc + j), cm)));
    _mm512_mask_storeu_ps(sc + j, m, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  *sum = *sum * *alpha + _mm512_reduce_add_ps(vsum);
  *mx = cmax;
}

// The arithmetic of AttendGeneric with the AVX-512 kernels (16-lane FMA
// dot in order + reduce_add; axpy as fmadd(p, v, o); scale as mul), with the
// queries and the output accumulators of up to NH heads of head_dim 16 * DV
// held in registers for the whole walk.
template <KvDType E>
PAGODA_ATTN_AVX512 inline __m512 LoadKv(const void* base, int64_t off) {
  if constexpr (E == KvDType::kF32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + off);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + off));
    if constexpr (E == KvDType::kF16) return _mm512_cvtph_ps(h);
    else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <int DV, int NH, KvDType E>
PAGODA_ATTN_AVX512 void AttendRegs(const AttnParams& p, const AttnItem& it, int64_t nh) {
  constexpr int64_t D = 16 * DV;
  __m512 qr[NH][DV], o[NH][DV];
  for (int h = 0; h < nh; ++h)
    for (int d = 0; d < DV; ++d) {
      qr[h][d] = _mm512_loadu_ps(it.q + h * D + 16 * d);
      o[h][d] = _mm512_setzero_ps();
    }
  float sc[NH][kKeyChunk];
  float mx[NH], sum[NH], alpha[NH];
  int64_t vp[kKeyChunk];  // element offsets of the chunk's V rows
  for (int h = 0; h < nh; ++h) {
    mx[h] = -INFINITY;
    sum[h] = 0;
  }
  for (int64_t c0 = it.kstart; c0 <= it.pos; c0 += kKeyChunk) {
    const int64_t nc = std::min(kKeyChunk, it.pos + 1 - c0);
    int64_t blk = c0 / p.bs, in_blk = c0 % p.bs;  // one division per chunk, not per key
    for (int64_t j = 0; j < nc; ++j) {
      const int64_t slot = static_cast<int64_t>(it.block_table[blk]) * p.bs + in_blk;
      if (++in_blk == p.bs) in_blk = 0, ++blk;
      const int64_t off = slot * p.stride + it.g * D;
      vp[j] = off;
      __m512 kr[DV];
      for (int d = 0; d < DV; ++d) kr[d] = LoadKv<E>(p.kc, off + 16 * d);
      for (int h = 0; h < nh; ++h) {
        __m512 acc = _mm512_setzero_ps();
        for (int d = 0; d < DV; ++d) acc = _mm512_fmadd_ps(qr[h][d], kr[d], acc);
        float v = _mm512_reduce_add_ps(acc) * p.scale;
        if (p.softcap > 0) v = std::tanh(v / p.softcap) * p.softcap;
        sc[h][j] = v;
      }
    }
    for (int h = 0; h < nh; ++h) {
      SoftmaxChunk512(sc[h], nc, &mx[h], &sum[h], &alpha[h]);
      if (c0 != it.kstart) {
        const __m512 a = _mm512_set1_ps(alpha[h]);
        for (int d = 0; d < DV; ++d) o[h][d] = _mm512_mul_ps(a, o[h][d]);
      }
    }
    for (int64_t j = 0; j < nc; ++j) {
      __m512 vr[DV];
      for (int d = 0; d < DV; ++d) vr[d] = LoadKv<E>(p.vc, vp[j] + 16 * d);
      for (int h = 0; h < nh; ++h) {
        const __m512 pj = _mm512_set1_ps(sc[h][j]);
        for (int d = 0; d < DV; ++d) o[h][d] = _mm512_fmadd_ps(pj, vr[d], o[h][d]);
      }
    }
  }
  for (int h = 0; h < nh; ++h) {
    const __m512 inv = _mm512_set1_ps(1.0f / sum[h]);
    for (int d = 0; d < DV; ++d) _mm512_storeu_ps(it.out + h * D + 16 * d, _mm512_mul_ps(inv, o[h][d]));
  }
}

// Register budget: NH * DV query + NH * DV accumulator + DV key/value registers.
template <int DV>
constexpr int kRegHeads = DV <= 2 ? 6 : DV <= 4 ? 3 : 1;

template <int DV, KvDType E>
PAGODA_ATTN_AVX512 void AttendAvx512(const AttnParams& p, AttnItem it) {
  constexpr int NH = kRegHeads<DV>;
  for (int64_t h = 0; h < it.nh; h += NH) {
    AttnItem sub = it;
    sub.q = it.q + h * p.D;
    sub.out = it.out + h * p.D;
    AttendRegs<DV, NH, E>(p, sub, std::min<int64_t>(NH, it.nh - h));
  }
}
#endif

#if defined(__x86_64__)
PAGODA_ATTN_AVX2 inline float HSum256(__m256 acc) {  // DotAvx2's reduction
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// AttendGeneric with the AVX2 kernels, inlined and per head, with the same
// operations in the same order (so the same bits): a head's query stays in
// registers while it scores the chunk's keys, and its output accumulator while
// it adds the chunk's values; the out row is loaded and stored once per chunk
// instead of once per key. The generic loop's per-key calls were latency-bound
// (a float16 cache did not speed it up).
template <int DV>
PAGODA_ATTN_AVX2 void AttendAvx2(const AttnParams& p, AttnItem it) {
  constexpr int64_t D = 8 * DV;
  float sc[kMaxGroup][kKeyChunk];
  float mx[kMaxGroup], sum[kMaxGroup], alpha[kMaxGroup];
  const float* kp[kKeyChunk];
  const float* vp[kKeyChunk];
  float* wide = WideBuffer(p);
  StartItem(it, D, mx, sum);
  for (int64_t c0 = it.kstart; c0 <= it.pos; c0 += kKeyChunk) {
    const int64_t nc = std::min(kKeyChunk, it.pos + 1 - c0);
    ChunkRows(p, it, c0, nc, wide, kp, vp);
    for (int64_t hq = 0; hq < it.nh; ++hq) {
      __m256 qr[DV];
      for (int d = 0; d < DV; ++d) qr[d] = _mm256_loadu_ps(it.q + hq * D + 8 * d);
      for (int64_t j = 0; j < nc; ++j) {
        __m256 acc = _mm256_setzero_ps();
        for (int d = 0; d < DV; ++d) acc = _mm256_fmadd_ps(qr[d], _mm256_loadu_ps(kp[j] + 8 * d), acc);
        float v = HSum256(acc) * p.scale;
        if (p.softcap > 0) v = std::tanh(v / p.softcap) * p.softcap;
        sc[hq][j] = v;
      }
    }
    for (int64_t hq = 0; hq < it.nh; ++hq) {
      SoftmaxChunk(sc[hq], nc, &mx[hq], &sum[hq], &alpha[hq]);
      float* out = it.out + hq * D;
      __m256 o[DV];
      for (int d = 0; d < DV; ++d) o[d] = _mm256_loadu_ps(out + 8 * d);
      if (c0 != it.kstart) {
        const __m256 a = _mm256_set1_ps(alpha[hq]);
        for (int d = 0; d < DV; ++d) o[d] = _mm256_mul_ps(a, o[d]);
      }
      for (int64_t j = 0; j < nc; ++j) {
        const __m256 pj = _mm256_set1_ps(sc[hq][j]);
        for (int d = 0; d < DV; ++d) o[d] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vp[j] + 8 * d), o[d]);
      }
      for (int d = 0; d < DV; ++d) _mm256_storeu_ps(out + 8 * d, o[d]);
    }
  }
  for (int64_t hq = 0; hq < it.nh; ++hq) {
    const __m256 inv = _mm256_set1_ps(1.0f / sum[hq]);
    for (int d = 0; d < DV; ++d) _mm256_storeu_ps(it.out + hq * D + 8 * d, _mm256_mul_ps(inv, _mm256_loadu_ps(it.out + hq * D + 8 * d)));
  }
}
#endif

using AttendFn = void (*)(const AttnParams&, AttnItem);

#if defined(__x86_64__)
template <KvDType E>
AttendFn PickAttendAvx512(int64_t D) {
  switch (D) {
    case 32: return AttendAvx512<2, E>;
    case 64: return AttendAvx512<4, E>;
    case 128: return AttendAvx512<8, E>;
    default: return nullptr;
  }
}
#endif

AttendFn PickAttend(int64_t D, KvDType kv) {
#if defined(__x86_64__)
  if (UseAvx512()) {
    AttendFn f = kv == KvDType::kF32 ? PickAttendAvx512<KvDType::kF32>(D)
               : kv == KvDType::kF16 ? PickAttendAvx512<KvDType::kF16>(D)
                                     : PickAttendAvx512<KvDType::kBF16>(D);
    if (f != nullptr) return f;
  }
  if (UseAvx2()) {
    switch (D) {
      case 32: return AttendAvx2<4>;
      case 64: return AttendAvx2<8>;
      case 128: return AttendAvx2<16>;
      case 256: return AttendAvx2<32>;  // Gemma 3: the query is read from L1, not held
      default: break;
    }
  }
#endif
  return [](const AttnParams& p, AttnItem it) { AttendGeneric(p, it); };
}

}  // namespace

// FlashAttention-style: per (query row, KV head), the group's query heads walk
// the visible keys chunk by chunk with an online softmax (running max, running
// sum, rescaled accumulator), so no score matrix is materialized; each K and V
// row is loaded once for all query heads of its item. When there are too few
// (row, KV head) items to keep every thread busy (decode), an item takes a
// subset of the group's heads instead.
void PagedAttention(ThreadPool& pool, const float* q, const KvCache& cache, int64_t layer, std::span<const AttentionSeq> seqs,
                    int64_t num_heads, float scale, int64_t sliding_window, float softcap, float* out) {
  const int64_t D = cache.head_dim();
  const int64_t kvh = cache.num_kv_heads();
  const int64_t group = num_heads / kvh;
  PAGODA_CHECK(group <= kMaxGroup);
  const AttnParams params{cache.key_data(layer), cache.value_data(layer), D, cache.block_size(), cache.slot_stride(), scale, softcap,
                          PickKernels(D), cache.dtype()};
  const AttendFn attend = PickAttend(D, cache.dtype());
  int64_t total_rows = 0;
  for (const AttentionSeq& s : seqs) total_rows += s.query_len;
  // Heads per item: the whole group, or fewer so that every thread gets several items.
  int64_t split = 1;
  while (split < group && total_rows * kvh * split < 4 * pool.num_threads()) ++split;
  while (group % split != 0) ++split;
  const int64_t nh = group / split, per_row = kvh * split;
  thread_local std::vector<int32_t> row_seq, row_in_seq;
  row_seq.resize(total_rows);
  row_in_seq.resize(total_rows);
  {
    int64_t r = 0;
    for (size_t si = 0; si < seqs.size(); ++si) {
      for (int32_t i = 0; i < seqs[si].query_len; ++i, ++r) {
        row_seq[r] = static_cast<int32_t>(si);
        row_in_seq[r] = i;
      }
    }
  }
  const int32_t* row_seq_p = row_seq.data();
  const int32_t* row_in_seq_p = row_in_seq.data();
  // Rows are taken from both ends in turn (0, n-1, 1, n-2, ...): under a causal
  // mask a prompt's row i sees i + 1 keys, so each pair of rows costs the same
  // and the pool's contiguous chunks get equal work. In order, the second
  // thread of a 512-token prefill had three times the first one's keys. Each
  // item is computed alone, so the order changes no value.
  // With prompt rows (several rows read the same keys), KV heads outermost: a
  // thread sweeps every row of one KV head before the next, so over a long
  // prompt only that head's K and V rows are live in L2 (at 2048 tokens one
  // head's are 1 MiB of a layer's 3 MiB): 2048-token prefill 597-650 -> 835-864
  // tok/s. Decode rows read their keys once, and their KV heads sit side by side
  // in each slot, so they stay row-major: a slot's lines are read together (at
  // 64 sequences the two orders were not told apart within the noise).
  const bool head_major = total_rows > static_cast<int64_t>(seqs.size());
  pool.Run(total_rows * per_row, [&](int64_t w0, int64_t w1, int) {
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t item = w / split;
      const int64_t g = head_major ? item / total_rows : item % kvh, turn = head_major ? item % total_rows : item / kvh;
      const int64_t row_idx = turn % 2 == 0 ? turn / 2 : total_rows - 1 - turn / 2;
      const int64_t h0 = g * group + (w % split) * nh;
      const AttentionSeq& s = seqs[row_seq_p[row_idx]];
      const int64_t qi = row_in_seq_p[row_idx];
      const int64_t t = s.query_start + qi;
      const int64_t pos = s.context_len - s.query_len + qi;
      const int64_t kstart = sliding_window > 0 ? std::max<int64_t>(0, pos - sliding_window + 1) : 0;
      attend(params, {q + (t * num_heads + h0) * D, out + (t * num_heads + h0) * D, nh, g, pos, kstart, s.block_table});
    }
  });
}

void ApplyRope(ThreadPool& pool, float* x, int64_t num_tokens, int64_t num_heads, int64_t head_dim, int64_t rot_dim,
               const float* cos, const float* sin) {
  const int64_t half = rot_dim / 2;
  pool.Run(num_tokens, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* c = cos + t * half;
      const float* s = sin + t * half;
      for (int64_t h = 0; h < num_heads; ++h) {
        float* v = x + (t * num_heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = v[i], x2 = v[i + half];
          v[i] = x1 * c[i] - x2 * s[i];
          v[i + half] = x2 * c[i] + x1 * s[i];
        }
      }
    }
  });
}

}  // namespace pagoda::backend
