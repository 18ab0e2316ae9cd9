#pragma once
// One KV-cache block's metadata (no memory: the backend owns the KV storage).
// Owned by BlockPool; engine thread only.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/block_hash.h"
#include "core/ids.h"

namespace pagoda::core {

struct KvCacheBlock {
  BlockId block_id;
  // Number of block tables holding this block; 0 means it is in the free queue.
  int ref_cnt = 0;
  bool is_null = false;

  // Set while the block is in the prefix cache (full and computed). A freed block
  // keeps it, and stays findable, until the block is handed out again.
  std::optional<BlockHash> block_hash;
  // What a cache hit is verified against: the tokens, the extra keys and the exact
  // parent block (id and epoch; kNullBlockId for a first block).
  std::vector<TokenId> cached_tokens;
  BlockExtraKeys cached_extra_keys;
  BlockId parent_block_id = kNullBlockId;
  uint64_t parent_epoch = 0;
  // Bumped each time the block leaves the cache, so a child never matches a
  // parent id that now holds something else.
  uint64_t epoch = 0;

  // The next block of the prefix cache's hash chain (BlockPool, intrusive, so
  // caching a block allocates nothing).
  KvCacheBlock* next_cached = nullptr;
  // Links of FreeBlockQueue (intrusive, so removal from the middle is O(1)).
  KvCacheBlock* prev_free = nullptr;
  KvCacheBlock* next_free = nullptr;
};

}  // namespace pagoda::core
