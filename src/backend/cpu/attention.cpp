#include "backend/cpu/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/vec_math_avx512.h"
#include "common/check.h"
#include "common/cpu_features.h"

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
#endif

struct Kernels {
  float (*dot)(const float*, const float*, int64_t);
  void (*axpy)(float, const float*, float*, int64_t);
  void (*scale)(float, float*, int64_t);
};

bool UseAvx512() {
  const CpuFeatures& f = GetCpuFeatures();
  return f.avx512f && f.avx512bw && f.avx512vl;
}

Kernels PickKernels(int64_t head_dim) {
#if defined(__x86_64__)
  if (UseAvx512() && head_dim % 16 == 0) return {DotAvx512, AxpyAvx512, ScaleAvx512};
#endif
  return {DotScalar, AxpyScalar, ScaleScalar};
}

}  // namespace

const char* AttentionKernelName() { return UseAvx512() ? "flash-avx512" : "flash-scalar"; }

void WriteKv(const float* k, const float* v, const int64_t* slot_mapping, int64_t num_tokens, KvCache& cache, int64_t layer) {
  const int64_t stride = cache.slot_stride();
  float* kc = cache.key(layer);
  float* vc = cache.value(layer);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;  // padding
    std::memcpy(kc + slot * stride, k + t * stride, stride * sizeof(float));
    std::memcpy(vc + slot * stride, v + t * stride, stride * sizeof(float));
  }
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
  const float* kc;
  const float* vc;
  int64_t D, bs, stride;
  float scale, softcap;
  Kernels kern;
};

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

void AttendGeneric(const AttnParams& p, const AttnItem& it) {
  const int64_t D = p.D;
  float sc[kMaxGroup][kKeyChunk];
  float mx[kMaxGroup], sum[kMaxGroup], alpha[kMaxGroup];
  const float* kp[kKeyChunk];
  const float* vp[kKeyChunk];
  for (int64_t hq = 0; hq < it.nh; ++hq) {
    mx[hq] = -INFINITY;
    sum[hq] = 0;
    std::fill(it.out + hq * D, it.out + (hq + 1) * D, 0.0f);
  }
  for (int64_t c0 = it.kstart; c0 <= it.pos; c0 += kKeyChunk) {
    const int64_t nc = std::min(kKeyChunk, it.pos + 1 - c0);
    for (int64_t j = 0; j < nc; ++j) {
      const int64_t pp = c0 + j;
      const int64_t slot = static_cast<int64_t>(it.block_table[pp / p.bs]) * p.bs + pp % p.bs;
      kp[j] = p.kc + slot * p.stride + it.g * D;
      vp[j] = p.vc + slot * p.stride + it.g * D;
    }
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
template <int DV, int NH>
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
  const float* vp[kKeyChunk];
  for (int h = 0; h < nh; ++h) {
    mx[h] = -INFINITY;
    sum[h] = 0;
  }
  for (int64_t c0 = it.kstart; c0 <= it.pos; c0 += kKeyChunk) {
    const int64_t nc = std::min(kKeyChunk, it.pos + 1 - c0);
    for (int64_t j = 0; j < nc; ++j) {
      const int64_t pp = c0 + j;
      const int64_t slot = static_cast<int64_t>(it.block_table[pp / p.bs]) * p.bs + pp % p.bs;
      const float* kp = p.kc + slot * p.stride + it.g * D;
      vp[j] = p.vc + slot * p.stride + it.g * D;
      __m512 kr[DV];
      for (int d = 0; d < DV; ++d) kr[d] = _mm512_loadu_ps(kp + 16 * d);
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
      for (int d = 0; d < DV; ++d) vr[d] = _mm512_loadu_ps(vp[j] + 16 * d);
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

template <int DV>
PAGODA_ATTN_AVX512 void AttendAvx512(const AttnParams& p, AttnItem it) {
  constexpr int NH = kRegHeads<DV>;
  for (int64_t h = 0; h < it.nh; h += NH) {
    AttnItem sub = it;
    sub.q = it.q + h * p.D;
    sub.out = it.out + h * p.D;
    AttendRegs<DV, NH>(p, sub, std::min<int64_t>(NH, it.nh - h));
  }
}
#endif

using AttendFn = void (*)(const AttnParams&, AttnItem);

AttendFn PickAttend(int64_t D) {
#if defined(__x86_64__)
  if (UseAvx512()) {
    switch (D) {
      case 32: return AttendAvx512<2>;
      case 64: return AttendAvx512<4>;
      case 128: return AttendAvx512<8>;
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
  const AttnParams params{cache.key(layer), cache.value(layer), D, cache.block_size(), cache.slot_stride(), scale, softcap, PickKernels(D)};
  const AttendFn attend = PickAttend(D);
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
  pool.Run(total_rows * per_row, [&](int64_t w0, int64_t w1, int) {
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t row_idx = w / per_row, g = (w % per_row) / split, h0 = g * group + (w % split) * nh;
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
