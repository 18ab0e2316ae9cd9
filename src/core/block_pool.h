#pragma once
// BlockPool: a fixed set of KV-block ids with ref counts, a free queue in eviction
// order and the prefix cache (block hash -> cached blocks). As vLLM V1's
// block_pool.py: a freed block keeps its hash and stays findable until it is
// handed out again (lazy LRU eviction); callers free a request's blocks tail
// first so that prefixes outlive suffixes.
//
// No memory, no locks: the engine thread owns the pool (through KvCacheManager).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/block_hash.h"
#include "core/free_block_queue.h"
#include "core/kv_cache_block.h"

namespace pagoda::core {

class BlockPool {
 public:
  // num_blocks includes the null block 0, so num_blocks - 1 can be handed out.
  BlockPool(int num_blocks, int block_size, bool enable_caching);
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  int num_usable_blocks() const { return num_blocks() - 1; }
  int block_size() const { return block_size_; }
  bool enable_caching() const { return enable_caching_; }
  int num_free_blocks() const { return free_queue_.num_free_blocks(); }
  int num_used_blocks() const { return num_usable_blocks() - num_free_blocks(); }
  // Fraction of usable blocks held by some block table, in [0, 1].
  double usage() const;
  // Blocks that currently carry a hash (used or free).
  int num_cached_blocks() const { return num_cached_blocks_; }
  // Hashes dropped so far (a cached block handed out again, or a reset).
  int64_t num_evictions() const { return num_evictions_; }

  KvCacheBlock* null_block() { return &blocks_[0]; }
  const KvCacheBlock& block(BlockId id) const;
  KvCacheBlock* mutable_block(BlockId id);

  // Pops n blocks from the head of the free queue, evicting any hash they carry;
  // each comes back with ref_cnt 1. CHECKs n <= num_free_blocks().
  std::vector<KvCacheBlock*> GetNewBlocks(int n);
  // The same, appended to *out (no allocation when it has the capacity).
  void GetNewBlocks(int n, std::vector<KvCacheBlock*>* out);

  // The cached block whose hash is `hash` and whose stored tokens, extra keys and
  // parent (`parent`: the caller's previous block, nullptr for a first block) all
  // match; nullptr when there is none. Does not change ref counts.
  KvCacheBlock* GetCachedBlock(BlockHash hash, std::span<const TokenId> tokens, const BlockExtraKeys& extra,
                               const KvCacheBlock* parent);

  // Puts blocks [num_cached_blocks, num_full_blocks) of a request's block table
  // into the prefix cache. `block_hashes` covers at least num_full_blocks blocks,
  // `tokens` at least num_full_blocks * block_size tokens. A block that already
  // has a hash (shared through a fork) is left as is.
  void CacheFullBlocks(std::span<KvCacheBlock* const> blocks, std::span<const BlockHash> block_hashes,
                       int num_cached_blocks, int num_full_blocks, std::span<const TokenId> tokens,
                       int64_t lora_id, const std::string& cache_salt);

  // ref_cnt += 1 for each block; a block at 0 leaves the free queue (prefix hit).
  void Touch(std::span<KvCacheBlock* const> blocks);
  // ref_cnt -= 1 for each block in the order given; those that reach 0 are
  // appended to the free queue in that order.
  void FreeBlocks(std::span<KvCacheBlock* const> ordered_blocks);

  // Drops every hash. Only when no block is in use (returns false otherwise).
  bool ResetPrefixCache();

  // Head (evicted first) to tail.
  std::vector<BlockId> GetFreeBlockIds() const { return free_queue_.GetAllFreeBlockIds(); }
  bool IsInFreeQueue(BlockId id) const { return free_queue_.Contains(&block(id)); }

 private:
  void MaybeEvict(KvCacheBlock* block);

  int block_size_;
  bool enable_caching_;
  std::vector<KvCacheBlock> blocks_;
  FreeBlockQueue free_queue_;
  // The prefix cache: chains through KvCacheBlock::next_cached, one per bucket
  // (hash & bucket_mask_), oldest first; as many buckets as blocks, rounded up
  // to a power of two, so nothing is allocated after construction. Several
  // blocks may share a hash: duplicates computed concurrently, or collisions.
  KvCacheBlock*& Bucket(BlockHash hash) { return buckets_[hash & bucket_mask_]; }
  std::vector<KvCacheBlock*> buckets_;
  BlockHash bucket_mask_ = 0;
  int num_cached_blocks_ = 0;
  int64_t num_evictions_ = 0;
};

}  // namespace pagoda::core
