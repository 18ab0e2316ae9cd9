#include "core/block_pool.h"

#include <algorithm>

#include "common/check.h"

namespace pagoda::core {
namespace {

std::vector<KvCacheBlock*> UsableBlocks(std::vector<KvCacheBlock>& blocks) {
  std::vector<KvCacheBlock*> out;
  out.reserve(blocks.size());
  for (size_t i = 1; i < blocks.size(); ++i) out.push_back(&blocks[i]);
  return out;
}

std::vector<KvCacheBlock> MakeBlocks(int num_blocks, int block_size, bool enable_caching) {
  PAGODA_CHECK_MSG(num_blocks >= 2, "a pool needs the null block and at least one more");
  std::vector<KvCacheBlock> blocks(num_blocks);
  for (int i = 0; i < num_blocks; ++i) {
    blocks[i].block_id = BlockId(i);
    // Caching a block copies its tokens here: room made now, not in a step.
    if (enable_caching && i > 0) blocks[i].cached_tokens.reserve(static_cast<size_t>(block_size));
  }
  blocks[0].is_null = true;
  return blocks;
}

}  // namespace

BlockPool::BlockPool(int num_blocks, int block_size, bool enable_caching)
    : block_size_(block_size),
      enable_caching_(enable_caching),
      blocks_(MakeBlocks(num_blocks, block_size, enable_caching)),
      free_queue_(UsableBlocks(blocks_)) {
  PAGODA_CHECK(block_size > 0);
  size_t n = 1;
  while (n < static_cast<size_t>(num_blocks)) n *= 2;
  buckets_.assign(n, nullptr);
  bucket_mask_ = n - 1;
}

double BlockPool::usage() const {
  return static_cast<double>(num_used_blocks()) / static_cast<double>(num_usable_blocks());
}

const KvCacheBlock& BlockPool::block(BlockId id) const {
  PAGODA_CHECK(id.value >= 0 && id.value < num_blocks());
  return blocks_[id.value];
}

KvCacheBlock* BlockPool::mutable_block(BlockId id) {
  PAGODA_CHECK(id.value >= 0 && id.value < num_blocks());
  return &blocks_[id.value];
}

std::vector<KvCacheBlock*> BlockPool::GetNewBlocks(int n) {
  std::vector<KvCacheBlock*> out;
  out.reserve(static_cast<size_t>(std::max(n, 0)));
  GetNewBlocks(n, &out);
  return out;
}

void BlockPool::GetNewBlocks(int n, std::vector<KvCacheBlock*>* out) {
  PAGODA_CHECK(n >= 0 && n <= num_free_blocks());
  for (int i = 0; i < n; ++i) {
    KvCacheBlock* b = free_queue_.PopFront();
    PAGODA_CHECK(b->ref_cnt == 0);
    MaybeEvict(b);
    b->ref_cnt = 1;
    out->push_back(b);
  }
}

void BlockPool::MaybeEvict(KvCacheBlock* block) {
  if (!block->block_hash) return;
  KvCacheBlock** link = &Bucket(*block->block_hash);
  while (*link != nullptr && *link != block) link = &(*link)->next_cached;
  PAGODA_CHECK_MSG(*link == block, "a cached block is missing from its hash chain");
  *link = block->next_cached;
  block->next_cached = nullptr;
  block->block_hash.reset();
  block->cached_tokens.clear();
  block->cached_extra_keys = {};
  block->parent_block_id = kNullBlockId;
  block->parent_epoch = 0;
  ++block->epoch;
  --num_cached_blocks_;
  ++num_evictions_;
}

KvCacheBlock* BlockPool::GetCachedBlock(BlockHash hash, std::span<const TokenId> tokens,
                                        const BlockExtraKeys& extra, const KvCacheBlock* parent) {
  BlockId parent_id = parent ? parent->block_id : kNullBlockId;
  uint64_t parent_epoch = parent ? parent->epoch : 0;
  for (KvCacheBlock* b = Bucket(hash); b != nullptr; b = b->next_cached) {
    if (*b->block_hash != hash) continue;
    if (b->parent_block_id != parent_id || b->parent_epoch != parent_epoch) continue;
    if (b->cached_extra_keys != extra) continue;
    if (!std::equal(tokens.begin(), tokens.end(), b->cached_tokens.begin(), b->cached_tokens.end())) continue;
    return b;
  }
  return nullptr;
}

void BlockPool::CacheFullBlocks(std::span<KvCacheBlock* const> blocks, std::span<const BlockHash> block_hashes,
                                int num_cached_blocks, int num_full_blocks, std::span<const TokenId> tokens,
                                int64_t lora_id, const std::string& cache_salt) {
  if (!enable_caching_ || num_cached_blocks >= num_full_blocks) return;
  PAGODA_CHECK(static_cast<size_t>(num_full_blocks) <= blocks.size());
  PAGODA_CHECK(static_cast<size_t>(num_full_blocks) <= block_hashes.size());
  PAGODA_CHECK(static_cast<size_t>(num_full_blocks) * block_size_ <= tokens.size());
  for (int i = num_cached_blocks; i < num_full_blocks; ++i) {
    KvCacheBlock* b = blocks[i];
    PAGODA_CHECK(!b->is_null);
    if (b->block_hash) {
      PAGODA_CHECK_MSG(*b->block_hash == block_hashes[i], "a shared block was cached under another hash");
      continue;
    }
    const KvCacheBlock* parent = i == 0 ? nullptr : blocks[i - 1];
    PAGODA_CHECK_MSG(parent == nullptr || parent->block_hash, "a block is cached before its parent");
    b->block_hash = block_hashes[i];
    auto first = tokens.begin() + static_cast<ptrdiff_t>(i) * block_size_;
    b->cached_tokens.assign(first, first + block_size_);
    b->cached_extra_keys = ExtraKeysForBlock(i, lora_id, cache_salt);
    b->parent_block_id = parent ? parent->block_id : kNullBlockId;
    b->parent_epoch = parent ? parent->epoch : 0;
    KvCacheBlock** link = &Bucket(block_hashes[i]);
    while (*link != nullptr) link = &(*link)->next_cached;
    *link = b;
    ++num_cached_blocks_;
  }
}

void BlockPool::Touch(std::span<KvCacheBlock* const> blocks) {
  for (KvCacheBlock* b : blocks) {
    PAGODA_CHECK(!b->is_null);
    if (b->ref_cnt == 0) free_queue_.Remove(b);
    ++b->ref_cnt;
  }
}

void BlockPool::FreeBlocks(std::span<KvCacheBlock* const> ordered_blocks) {
  for (KvCacheBlock* b : ordered_blocks) {
    PAGODA_CHECK(!b->is_null);
    PAGODA_CHECK_MSG(b->ref_cnt > 0, "double free of a block");
    if (--b->ref_cnt == 0) free_queue_.Append(b);
  }
}

bool BlockPool::ResetPrefixCache() {
  if (num_free_blocks() != num_usable_blocks()) return false;
  for (size_t i = 1; i < blocks_.size(); ++i) MaybeEvict(&blocks_[i]);
  PAGODA_CHECK(num_cached_blocks_ == 0);
  return true;
}

}  // namespace pagoda::core
