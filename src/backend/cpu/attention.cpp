#include "backend/cpu/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"

namespace pagoda::backend {

namespace {

float DotF32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float x : acc) s += x;
  return s;
}

}  // namespace

const char* AttentionKernelName() { return "scalar-two-pass"; }

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

void PagedAttention(ThreadPool& pool, const float* q, const KvCache& cache, int64_t layer, std::span<const AttentionSeq> seqs,
                    int64_t num_heads, float scale, int64_t sliding_window, float softcap, float* out) {
  const int64_t D = cache.head_dim();
  const int64_t kvh = cache.num_kv_heads();
  const int64_t group = num_heads / kvh;
  const int64_t bs = cache.block_size();
  const int64_t stride = cache.slot_stride();
  const float* kc = cache.key(layer);
  const float* vc = cache.value(layer);
  // Work items: (sequence, query row, kv head) so the GQA heads of a group share K/V reads.
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
    thread_local std::vector<float> scores;
    thread_local std::vector<float> acc;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t row_idx = w / kvh, g = w % kvh;
      const AttentionSeq& s = seqs[row_seq_p[row_idx]];
      const int64_t qi = row_in_seq_p[row_idx];
      const int64_t t = s.query_start + qi;
      const int64_t pos = s.context_len - s.query_len + qi;
      const int64_t kstart = sliding_window > 0 ? std::max<int64_t>(0, pos - sliding_window + 1) : 0;
      const int64_t nk = pos - kstart + 1;
      scores.resize(static_cast<size_t>(nk * group));
      acc.resize(static_cast<size_t>(D));
      for (int64_t hq = 0; hq < group; ++hq) {
        const int64_t h = g * group + hq;
        const float* qv = q + (t * num_heads + h) * D;
        float* sc = scores.data() + hq * nk;
        float mx = -INFINITY;
        for (int64_t j = 0; j < nk; ++j) {
          const int64_t p = kstart + j;
          const int64_t slot = static_cast<int64_t>(s.block_table[p / bs]) * bs + p % bs;
          float v = DotF32(qv, kc + slot * stride + g * D, D) * scale;
          if (softcap > 0) v = std::tanh(v / softcap) * softcap;
          sc[j] = v;
          mx = std::max(mx, v);
        }
        float sum = 0;
        for (int64_t j = 0; j < nk; ++j) {
          sc[j] = std::exp(sc[j] - mx);
          sum += sc[j];
        }
        const float inv = 1.0f / sum;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = 0; j < nk; ++j) {
          const int64_t p = kstart + j;
          const int64_t slot = static_cast<int64_t>(s.block_table[p / bs]) * bs + p % bs;
          const float* vv = vc + slot * stride + g * D;
          const float pj = sc[j] * inv;
          for (int64_t d = 0; d < D; ++d) acc[d] += pj * vv[d];
        }
        std::memcpy(out + (t * num_heads + h) * D, acc.data(), D * sizeof(float));
      }
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
