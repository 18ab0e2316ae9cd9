#include "core/block_hash.h"

#include "common/check.h"

namespace pagoda::core {
namespace {

// splitmix64's finalizer: every input bit affects every output bit.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t Absorb(uint64_t h, uint64_t word) { return Mix(h ^ (word + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2))); }

}  // namespace

BlockHash HashBlockTokens(BlockHash parent, std::span<const TokenId> tokens, const BlockExtraKeys& extra) {
  uint64_t h = Mix(parent ^ 0x5bd1e9955bd1e995ULL);
  h = Absorb(h, tokens.size());
  for (TokenId t : tokens) h = Absorb(h, static_cast<uint32_t>(t));
  h = Absorb(h, static_cast<uint64_t>(extra.lora_id));
  h = Absorb(h, extra.cache_salt.size());
  for (unsigned char c : extra.cache_salt) h = Absorb(h, c);
  return h;
}

BlockExtraKeys ExtraKeysForBlock(int block_index, int64_t lora_id, const std::string& cache_salt) {
  BlockExtraKeys keys;
  keys.lora_id = lora_id;
  if (block_index == 0) keys.cache_salt = cache_salt;
  return keys;
}

void ExtendBlockHashes(std::vector<BlockHash>& hashes, int num_blocks, std::span<const TokenId> tokens,
                       int block_size, int64_t lora_id, const std::string& cache_salt, const BlockHashFn& fn) {
  PAGODA_CHECK(static_cast<size_t>(num_blocks) * block_size <= tokens.size());
  for (int i = static_cast<int>(hashes.size()); i < num_blocks; ++i) {
    BlockHash parent = i == 0 ? kNoneBlockHash : hashes[i - 1];
    hashes.push_back(fn(parent, tokens.subspan(static_cast<size_t>(i) * block_size, block_size),
                        ExtraKeysForBlock(i, lora_id, cache_salt)));
  }
}

}  // namespace pagoda::core
