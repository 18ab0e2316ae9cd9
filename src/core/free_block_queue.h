#pragma once
// The free blocks in eviction order: a doubly linked list threaded through the
// blocks themselves (vLLM V1's FreeKVCacheBlockQueue). The head is evicted first;
// freed blocks are appended at the tail; a cached free block that gets a prefix
// hit is removed from the middle in O(1). Engine thread only.

#include <vector>

#include "core/kv_cache_block.h"

namespace pagoda::core {

class FreeBlockQueue {
 public:
  // Starts with `blocks` in the given order (all must have ref_cnt 0).
  explicit FreeBlockQueue(std::vector<KvCacheBlock*> blocks);
  FreeBlockQueue(const FreeBlockQueue&) = delete;
  FreeBlockQueue& operator=(const FreeBlockQueue&) = delete;

  int num_free_blocks() const { return num_free_blocks_; }

  // Removes and returns the head. CHECKs that the queue is not empty.
  KvCacheBlock* PopFront();
  // Removes `block` from wherever it is. CHECKs that it is in the queue.
  void Remove(KvCacheBlock* block);
  void Append(KvCacheBlock* block);

  bool Contains(const KvCacheBlock* block) const { return block->next_free != nullptr; }
  // Head to tail (for tests and invariant checks).
  std::vector<BlockId> GetAllFreeBlockIds() const;

 private:
  // Sentinels: the list is never empty of links, so no special cases.
  KvCacheBlock head_;
  KvCacheBlock tail_;
  int num_free_blocks_ = 0;
};

}  // namespace pagoda::core
