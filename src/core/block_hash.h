#pragma once
// Prefix-caching hashes of full KV blocks (as vLLM V1's kv_cache_utils).
//
// A full block's hash chains the parent block's hash, the block's token ids and
// extra keys (a LoRA id for every block, the request's cache_salt for the first
// block only: chaining carries it to every later block). The hash only finds
// candidates; BlockPool verifies a candidate against the stored tokens, extra keys
// and the exact parent block, so a collision can cost a hit but never return
// wrong KV. Tests inject a weak BlockHashFn to force collisions.
// Pure functions: any thread.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/ids.h"

namespace pagoda::core {

using BlockHash = uint64_t;

// The "parent hash" of a request's first block.
inline constexpr BlockHash kNoneBlockHash = 0x9e3779b97f4a7c15ULL;

struct BlockExtraKeys {
  int64_t lora_id = 0;     // 0: no adapter
  std::string cache_salt{};  // empty: none; set on the first block only

  bool operator==(const BlockExtraKeys&) const = default;
};

using BlockHashFn =
    std::function<BlockHash(BlockHash parent, std::span<const TokenId> tokens, const BlockExtraKeys& extra)>;

// The default hash: a 64-bit multiply-xorshift mix over every input word.
BlockHash HashBlockTokens(BlockHash parent, std::span<const TokenId> tokens, const BlockExtraKeys& extra);

// Extra keys of block `block_index` of a request (salt on block 0 only).
BlockExtraKeys ExtraKeysForBlock(int block_index, int64_t lora_id, const std::string& cache_salt);

// Extends `hashes` (the request's full-block hashes so far, in order) so that it
// covers the first `num_blocks` full blocks of `tokens`. CHECKs that those blocks
// are full (num_blocks * block_size <= tokens.size()).
void ExtendBlockHashes(std::vector<BlockHash>& hashes, int num_blocks, std::span<const TokenId> tokens,
                       int block_size, int64_t lora_id, const std::string& cache_salt, const BlockHashFn& fn);

}  // namespace pagoda::core
