#pragma once
// KvCacheManager: the block tables of all requests over one BlockPool (vLLM V1's
// kv_cache_manager.py, one full-attention group). It finds prefix-cache hits,
// allocates slots ("not enough" leaves everything as it was), caches full blocks,
// frees tail first, and forks requests with copy-on-write of a shared partial
// last block.
//
// No locks: only the engine thread (through the Scheduler) may call it.

#include <optional>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "core/block_hash.h"
#include "core/block_pool.h"
#include "core/ids.h"
#include "core/request.h"

namespace pagoda::core {

struct KvCacheConfig {
  int num_blocks = 0;  // including the null block 0
  int block_size = 16;
  bool enable_prefix_caching = true;
  BlockHashFn hash_fn{};  // empty: HashBlockTokens

  Status Validate() const;
};

// Prefix-cache hit for a request that holds no blocks yet.
struct ComputedBlocks {
  std::vector<KvCacheBlock*> blocks;  // full blocks, in order
  int num_computed_tokens = 0;        // blocks.size() * block_size
};

// The request's partially filled last block was shared (a fork): it now writes
// into a private copy. The runner copies src into dst before the step.
struct CopyOnWrite {
  int block_index = 0;  // position in the request's block table
  BlockId src;
  BlockId dst;
};

struct SlotAllocation {
  // Appended to the request's block table: prefix-hit blocks, then new ones.
  std::vector<BlockId> new_block_ids;
  std::optional<CopyOnWrite> copy_on_write;
};

class KvCacheManager {
 public:
  explicit KvCacheManager(KvCacheConfig config);  // CHECKs config.Validate()
  KvCacheManager(const KvCacheManager&) = delete;
  KvCacheManager& operator=(const KvCacheManager&) = delete;

  int block_size() const { return pool_.block_size(); }
  bool enable_prefix_caching() const { return pool_.enable_caching(); }

  // The longest verified cached prefix of a request that holds no blocks, in full
  // blocks, never covering its last token (that one must produce logits). No side
  // effects: the blocks are claimed by AllocateSlots.
  ComputedBlocks GetComputedBlocks(const Request& request);

  // Makes the block table cover request.num_computed_tokens() +
  // computed.num_computed_tokens + num_new_tokens tokens, claiming `computed`
  // first, and caches the blocks those tokens fill. nullopt, with nothing changed,
  // when the free blocks do not suffice.
  std::optional<SlotAllocation> AllocateSlots(const Request& request, int num_new_tokens,
                                              const ComputedBlocks& computed = {});
  // The same into *out, whose vector keeps its capacity (nothing is allocated in
  // a decode step once the request's tables have their room: they reserve its
  // token capacity in blocks); false, with nothing changed, when short of blocks.
  bool AllocateSlots(const Request& request, int num_new_tokens, const ComputedBlocks& computed, SlotAllocation* out);

  // Releases the request's blocks, last block first (so prefixes stay cached longest).
  void Free(const Request& request);

  // `child` (a copy of `parent`, holding no blocks) shares every block of parent.
  void Fork(const Request& parent, const Request& child);

  // Empty for a request that holds no blocks.
  std::vector<BlockId> GetBlockIds(RequestId id) const;
  std::vector<RequestId> GetRequestIds() const;

  double usage() const { return pool_.usage(); }
  int num_free_blocks() const { return pool_.num_free_blocks(); }
  const BlockPool& block_pool() const { return pool_; }
  bool ResetPrefixCache() { return pool_.ResetPrefixCache(); }

 private:
  struct RequestBlocks {
    std::vector<KvCacheBlock*> blocks;
    std::vector<BlockHash> block_hashes;  // of the first full blocks, grown lazily
    int num_cached_blocks = 0;            // blocks[0, n) are in the prefix cache
  };

  void EnsureHashes(const Request& request, RequestBlocks& state, int num_blocks);

  BlockHashFn hash_fn_;
  BlockPool pool_;
  std::unordered_map<RequestId, RequestBlocks> requests_;
};

}  // namespace pagoda::core
