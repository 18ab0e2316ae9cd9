#include "core/free_block_queue.h"

#include "common/check.h"

namespace pagoda::core {

FreeBlockQueue::FreeBlockQueue(std::vector<KvCacheBlock*> blocks) {
  head_.next_free = &tail_;
  tail_.prev_free = &head_;
  for (KvCacheBlock* b : blocks) Append(b);
}

KvCacheBlock* FreeBlockQueue::PopFront() {
  PAGODA_CHECK_MSG(num_free_blocks_ > 0, "no free blocks");
  KvCacheBlock* b = head_.next_free;
  Remove(b);
  return b;
}

void FreeBlockQueue::Remove(KvCacheBlock* block) {
  PAGODA_CHECK_MSG(Contains(block), "block is not in the free queue");
  block->prev_free->next_free = block->next_free;
  block->next_free->prev_free = block->prev_free;
  block->prev_free = nullptr;
  block->next_free = nullptr;
  --num_free_blocks_;
}

void FreeBlockQueue::Append(KvCacheBlock* block) {
  PAGODA_CHECK_MSG(!Contains(block), "block is already in the free queue");
  PAGODA_CHECK(block->ref_cnt == 0 && !block->is_null);
  KvCacheBlock* last = tail_.prev_free;
  last->next_free = block;
  block->prev_free = last;
  block->next_free = &tail_;
  tail_.prev_free = block;
  ++num_free_blocks_;
}

std::vector<BlockId> FreeBlockQueue::GetAllFreeBlockIds() const {
  std::vector<BlockId> ids;
  ids.reserve(num_free_blocks_);
  for (const KvCacheBlock* b = head_.next_free; b != &tail_; b = b->next_free) ids.push_back(b->block_id);
  return ids;
}

}  // namespace pagoda::core
