#include "backend/cpu/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

// FlashAttention-style: per (query row, KV head), the group's query heads walk
// the visible keys chunk by chunk with an online softmax (running max, running
// sum, rescaled accumulator), so no score matrix is materialized; each K and V
// row is loaded once for all query heads of its group.
void PagedAttention(ThreadPool& pool, const float* q, const KvCache& cache, int64_t layer, std::span<const AttentionSeq> seqs,
                    int64_t num_heads, float scale, int64_t sliding_window, float softcap, float* out) {
  const int64_t D = cache.head_dim();
  const int64_t kvh = cache.num_kv_heads();
  const int64_t group = num_heads / kvh;
  PAGODA_CHECK(group <= kMaxGroup);
  const int64_t bs = cache.block_size();
  const int64_t stride = cache.slot_stride();
  const float* kc = cache.key(layer);
  const float* vc = cache.value(layer);
  const Kernels kern = PickKernels(D);
  int64_t total_rows = 0;
  for (const AttentionSeq& s : seqs) total_rows += s.query_len;
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
  pool.Run(total_rows * kvh, [&](int64_t w0, int64_t w1, int) {
    float sc[kMaxGroup][kKeyChunk];
    float mx[kMaxGroup], sum[kMaxGroup];
    const float* kp[kKeyChunk];
    const float* vp[kKeyChunk];
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t row_idx = w / kvh, g = w % kvh;
      const AttentionSeq& s = seqs[row_seq_p[row_idx]];
      const int64_t qi = row_in_seq_p[row_idx];
      const int64_t t = s.query_start + qi;
      const int64_t pos = s.context_len - s.query_len + qi;
      const int64_t kstart = sliding_window > 0 ? std::max<int64_t>(0, pos - sliding_window + 1) : 0;
      const float* qv = q + (t * num_heads + g * group) * D;
      float* ov = out + (t * num_heads + g * group) * D;
      for (int64_t hq = 0; hq < group; ++hq) {
        mx[hq] = -INFINITY;
        sum[hq] = 0;
        std::fill(ov + hq * D, ov + (hq + 1) * D, 0.0f);
      }
      for (int64_t c0 = kstart; c0 <= pos; c0 += kKeyChunk) {
        const int64_t nc = std::min(kKeyChunk, pos + 1 - c0);
        for (int64_t j = 0; j < nc; ++j) {
          const int64_t p = c0 + j;
          const int64_t slot = static_cast<int64_t>(s.block_table[p / bs]) * bs + p % bs;
          kp[j] = kc + slot * stride + g * D;
          vp[j] = vc + slot * stride + g * D;
        }
        for (int64_t j = 0; j < nc; ++j) {
          for (int64_t hq = 0; hq < group; ++hq) {
            float v = kern.dot(qv + hq * D, kp[j], D) * scale;
            if (softcap > 0) v = std::tanh(v / softcap) * softcap;
            sc[hq][j] = v;
          }
        }
        for (int64_t hq = 0; hq < group; ++hq) {
          float cmax = mx[hq];
          for (int64_t j = 0; j < nc; ++j) cmax = std::max(cmax, sc[hq][j]);
          const float alpha = std::exp(mx[hq] - cmax);  // 0 on the first chunk
          float csum = 0;
          for (int64_t j = 0; j < nc; ++j) {
            sc[hq][j] = std::exp(sc[hq][j] - cmax);
            csum += sc[hq][j];
          }
          sum[hq] = sum[hq] * alpha + csum;
          mx[hq] = cmax;
          if (c0 != kstart) kern.scale(alpha, ov + hq * D, D);
        }
        for (int64_t j = 0; j < nc; ++j)
          for (int64_t hq = 0; hq < group; ++hq) kern.axpy(sc[hq][j], vp[j], ov + hq * D, D);
      }
      for (int64_t hq = 0; hq < group; ++hq) kern.scale(1.0f / sum[hq], ov + hq * D, D);
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
