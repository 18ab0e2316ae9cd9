#include "core/block_pool.h"

#include <gtest/gtest.h>

#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Ids;
using testing::Iota;

constexpr int kBs = 4;

// Caches `blocks` as one request's chain over `tokens`.
void CacheChain(BlockPool& pool, const std::vector<KvCacheBlock*>& blocks, const std::vector<TokenId>& tokens,
                const BlockHashFn& fn = HashBlockTokens) {
  std::vector<BlockHash> hashes;
  const int n = static_cast<int>(tokens.size()) / kBs;
  ExtendBlockHashes(hashes, n, tokens, kBs, 0, "", fn);
  pool.CacheFullBlocks(blocks, hashes, 0, n, tokens, 0, "");
}

KvCacheBlock* Lookup(BlockPool& pool, const std::vector<TokenId>& tokens, int index, const KvCacheBlock* parent,
                     const BlockHashFn& fn = HashBlockTokens) {
  std::vector<BlockHash> hashes;
  ExtendBlockHashes(hashes, index + 1, tokens, kBs, 0, "", fn);
  return pool.GetCachedBlock(hashes[index], std::span(tokens).subspan(index * kBs, kBs), ExtraKeysForBlock(index, 0, ""),
                             parent);
}

TEST(BlockPoolTest, FreshPool) {
  BlockPool pool(10, kBs, true);
  EXPECT_EQ(pool.num_usable_blocks(), 9);
  EXPECT_EQ(pool.num_free_blocks(), 9);
  EXPECT_TRUE(pool.null_block()->is_null);
  EXPECT_EQ(pool.null_block()->block_id, kNullBlockId);
  EXPECT_EQ(Ids(pool.GetFreeBlockIds()), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_DOUBLE_EQ(pool.usage(), 0.0);
}

TEST(BlockPoolTest, AllocateAndFreeTailFirst) {
  BlockPool pool(10, kBs, true);
  std::vector<KvCacheBlock*> a = pool.GetNewBlocks(3);
  EXPECT_EQ(Ids(a), (std::vector<int>{1, 2, 3}));
  for (auto* b : a) EXPECT_EQ(b->ref_cnt, 1);
  EXPECT_EQ(pool.num_free_blocks(), 6);
  EXPECT_DOUBLE_EQ(pool.usage(), 3.0 / 9.0);
  std::vector<KvCacheBlock*> b = pool.GetNewBlocks(2);
  EXPECT_EQ(Ids(b), (std::vector<int>{4, 5}));
  // A request frees its blocks last first: the suffix is evicted before the prefix.
  pool.FreeBlocks(std::vector<KvCacheBlock*>{a[2], a[1], a[0]});
  EXPECT_EQ(Ids(pool.GetFreeBlockIds()), (std::vector<int>{6, 7, 8, 9, 3, 2, 1}));
  EXPECT_EQ(Ids(pool.GetNewBlocks(6)), (std::vector<int>{6, 7, 8, 9, 3, 2}));
  EXPECT_EQ(Ids(pool.GetFreeBlockIds()), (std::vector<int>{1}));
}

TEST(BlockPoolTest, SharedBlockIsFreedByTheLastHolder) {
  BlockPool pool(4, kBs, true);
  std::vector<KvCacheBlock*> a = pool.GetNewBlocks(1);
  pool.Touch(a);
  EXPECT_EQ(a[0]->ref_cnt, 2);
  pool.FreeBlocks(a);
  EXPECT_EQ(a[0]->ref_cnt, 1);
  EXPECT_FALSE(pool.IsInFreeQueue(a[0]->block_id));
  pool.FreeBlocks(a);
  EXPECT_EQ(a[0]->ref_cnt, 0);
  EXPECT_TRUE(pool.IsInFreeQueue(a[0]->block_id));
}

TEST(BlockPoolTest, FreedCachedBlocksStayFindableUntilReused) {
  BlockPool pool(6, kBs, true);  // 5 usable
  const std::vector<TokenId> tokens = Iota(8, 0);  // 2 full blocks
  std::vector<KvCacheBlock*> blocks = pool.GetNewBlocks(2);
  CacheChain(pool, blocks, tokens);
  EXPECT_EQ(pool.num_cached_blocks(), 2);
  pool.FreeBlocks(std::vector<KvCacheBlock*>{blocks[1], blocks[0]});
  EXPECT_EQ(Ids(pool.GetFreeBlockIds()), (std::vector<int>{3, 4, 5, 2, 1}));

  // Still found after the free.
  KvCacheBlock* hit0 = Lookup(pool, tokens, 0, nullptr);
  ASSERT_EQ(hit0, blocks[0]);
  EXPECT_EQ(Lookup(pool, tokens, 1, hit0), blocks[1]);

  // A hit on a free block takes it out of the middle of the free queue.
  pool.Touch(std::vector<KvCacheBlock*>{hit0});
  EXPECT_EQ(Ids(pool.GetFreeBlockIds()), (std::vector<int>{3, 4, 5, 2}));
  EXPECT_EQ(hit0->ref_cnt, 1);

  // Handing out block 2 evicts its hash: lazy eviction.
  EXPECT_EQ(Ids(pool.GetNewBlocks(4)), (std::vector<int>{3, 4, 5, 2}));
  EXPECT_EQ(Lookup(pool, tokens, 1, hit0), nullptr);
  EXPECT_FALSE(blocks[1]->block_hash.has_value());
  EXPECT_EQ(pool.num_cached_blocks(), 1);
  EXPECT_EQ(pool.num_evictions(), 1);
  EXPECT_EQ(Lookup(pool, tokens, 0, nullptr), blocks[0]);  // the prefix survived
}

TEST(BlockPoolTest, ChildOfAnEvictedParentIsNotMatched) {
  BlockPool pool(4, kBs, true);  // 3 usable
  const std::vector<TokenId> tokens = Iota(8, 0);
  std::vector<KvCacheBlock*> blocks = pool.GetNewBlocks(2);
  CacheChain(pool, blocks, tokens);
  // Free the prefix first (wrong order on purpose) so the parent is evicted first.
  pool.FreeBlocks(std::vector<KvCacheBlock*>{blocks[0], blocks[1]});
  EXPECT_EQ(Ids(pool.GetFreeBlockIds()), (std::vector<int>{3, 1, 2}));
  std::vector<KvCacheBlock*> reused = pool.GetNewBlocks(2);  // 3, then 1 (evicts the parent)
  EXPECT_EQ(Ids(reused), (std::vector<int>{3, 1}));
  // Block 1 is cached again as the first block of the same tokens: same id, new epoch.
  CacheChain(pool, std::vector<KvCacheBlock*>{blocks[0]}, std::vector<TokenId>(tokens.begin(), tokens.begin() + 4));
  KvCacheBlock* parent = Lookup(pool, tokens, 0, nullptr);
  ASSERT_EQ(parent, blocks[0]);
  // Block 2 was cached under the parent's previous life: not a verified hit.
  EXPECT_EQ(Lookup(pool, tokens, 1, parent), nullptr);
}

TEST(BlockPoolTest, CollidingHashesAreVerifiedAgainstTokens) {
  const BlockHashFn weak = [](BlockHash, std::span<const TokenId>, const BlockExtraKeys&) { return BlockHash{42}; };
  BlockPool pool(8, kBs, true);
  const std::vector<TokenId> a = {1, 2, 3, 4};
  const std::vector<TokenId> b = {5, 6, 7, 8};
  std::vector<KvCacheBlock*> ba = pool.GetNewBlocks(1);
  std::vector<KvCacheBlock*> bb = pool.GetNewBlocks(1);
  CacheChain(pool, ba, a, weak);
  CacheChain(pool, bb, b, weak);
  EXPECT_EQ(*ba[0]->block_hash, *bb[0]->block_hash);  // a real collision
  EXPECT_EQ(Lookup(pool, a, 0, nullptr, weak), ba[0]);
  EXPECT_EQ(Lookup(pool, b, 0, nullptr, weak), bb[0]);
  EXPECT_EQ(Lookup(pool, {9, 9, 9, 9}, 0, nullptr, weak), nullptr);
  // Evicting one of the two keeps the other findable.
  pool.FreeBlocks(ba);
  EXPECT_EQ(pool.GetNewBlocks(6).back()->block_id, ba[0]->block_id);
  EXPECT_EQ(Lookup(pool, a, 0, nullptr, weak), nullptr);
  EXPECT_EQ(Lookup(pool, b, 0, nullptr, weak), bb[0]);
}

TEST(BlockPoolTest, CachingDisabledCachesNothing) {
  BlockPool pool(4, kBs, false);
  const std::vector<TokenId> tokens = Iota(8, 0);
  std::vector<KvCacheBlock*> blocks = pool.GetNewBlocks(2);
  CacheChain(pool, blocks, tokens);
  EXPECT_EQ(pool.num_cached_blocks(), 0);
  EXPECT_EQ(Lookup(pool, tokens, 0, nullptr), nullptr);
}

TEST(BlockPoolTest, ResetPrefixCacheOnlyWhenIdle) {
  BlockPool pool(4, kBs, true);
  const std::vector<TokenId> tokens = Iota(8, 0);
  std::vector<KvCacheBlock*> blocks = pool.GetNewBlocks(2);
  CacheChain(pool, blocks, tokens);
  EXPECT_FALSE(pool.ResetPrefixCache());
  EXPECT_EQ(pool.num_cached_blocks(), 2);
  pool.FreeBlocks(std::vector<KvCacheBlock*>{blocks[1], blocks[0]});
  EXPECT_TRUE(pool.ResetPrefixCache());
  EXPECT_EQ(pool.num_cached_blocks(), 0);
  EXPECT_EQ(Lookup(pool, tokens, 0, nullptr), nullptr);
  EXPECT_EQ(pool.num_free_blocks(), 3);
}

}  // namespace
}  // namespace pagoda::core
