#pragma once
// Paged attention over the KV cache: past K/V are read only through each
// sequence's block table. Causal, GQA (num_heads a multiple of num_kv_heads),
// optional sliding window and logit soft-capping.

#include <cstdint>
#include <span>

#include "backend/kv_cache.h"
#include "common/thread_pool.h"

namespace pagoda::backend {

// Which attention kernel PagedAttention uses on this machine.
const char* AttentionKernelName();

struct AttentionSeq {
  int32_t query_start = 0;  // first row of this sequence in the flattened batch
  int32_t query_len = 0;    // new tokens this step (they are the last query_len of the context)
  int32_t context_len = 0;  // tokens in the KV cache after this step's writes
  const int32_t* block_table = nullptr;  // ceil(context_len / block_size) block ids
};

// k, v: [num_tokens, num_kv_heads * head_dim]; row t goes to slot slot_mapping[t]
// (rounded to nearest even for a 16-bit cache).
void WriteKv(const float* k, const float* v, const int64_t* slot_mapping, int64_t num_tokens, KvCache& cache, int64_t layer);

// The slot's row of one layer's K or V storage (cache.key_data / value_data) as
// float32 into out[num_kv_heads * head_dim].
void ReadKvRow(const KvCache& cache, const void* base, int64_t slot, float* out);

// q, out: [num_tokens, num_heads * head_dim]. sliding_window 0 = full; a query at
// position p sees keys at positions in (p - sliding_window, p].
void PagedAttention(ThreadPool& pool, const float* q, const KvCache& cache, int64_t layer, std::span<const AttentionSeq> seqs,
                    int64_t num_heads, float scale, int64_t sliding_window, float softcap, float* out);

// rotary embedding, neox style (rotate_half) on the first rot_dim dims of each head.
// cos/sin: [num_tokens, rot_dim / 2].
void ApplyRope(ThreadPool& pool, float* x, int64_t num_tokens, int64_t num_heads, int64_t head_dim, int64_t rot_dim,
               const float* cos, const float* sin);

}  // namespace pagoda::backend
