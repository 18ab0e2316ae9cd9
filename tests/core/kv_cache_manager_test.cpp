#include "core/kv_cache_manager.h"

#include <gtest/gtest.h>

#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Concat;
using testing::Ids;
using testing::Iota;
using testing::MakeRequest;

constexpr int kBs = 16;

KvCacheConfig Config(int num_blocks, bool caching = true, BlockHashFn fn = nullptr) {
  return {.num_blocks = num_blocks, .block_size = kBs, .enable_prefix_caching = caching, .hash_fn = std::move(fn)};
}

// What the scheduler does for a new request: look up, allocate, mark computed.
std::optional<SlotAllocation> Admit(KvCacheManager& kv, Request& r, int* num_hit_tokens = nullptr) {
  ComputedBlocks hit = kv.GetComputedBlocks(r);
  if (num_hit_tokens) *num_hit_tokens = hit.num_computed_tokens;
  const int n = r.num_tokens() - hit.num_computed_tokens;
  auto alloc = kv.AllocateSlots(r, n, hit);
  if (alloc) r.set_num_computed_tokens(r.num_tokens());
  return alloc;
}

// One decode step: a sampled token, then slots for it.
std::optional<SlotAllocation> Decode(KvCacheManager& kv, Request& r, TokenId token) {
  r.AppendOutputToken(token);
  auto alloc = kv.AllocateSlots(r, 1);
  if (alloc) r.set_num_computed_tokens(r.num_tokens());
  return alloc;
}

int Ref(const KvCacheManager& kv, int id) { return kv.block_pool().block(BlockId(id)).ref_cnt; }

// As vLLM's test_prefill: a common prefix of 3 blocks, then unique tokens.
TEST(KvCacheManagerTest, PrefixHitSharesBlocksAndFreesTailFirst) {
  KvCacheManager kv(Config(11));  // 10 usable
  const std::vector<TokenId> common = Iota(3 * kBs, 0);
  auto r0 = MakeRequest(0, Concat(common, Iota(7, 1000)));  // 55 tokens
  int hit = -1;
  auto a0 = Admit(kv, *r0, &hit);
  ASSERT_TRUE(a0);
  EXPECT_EQ(hit, 0);
  EXPECT_EQ(Ids(a0->new_block_ids), (std::vector<int>{1, 2, 3, 4}));
  for (int b = 1; b <= 3; ++b) EXPECT_TRUE(kv.block_pool().block(BlockId(b)).block_hash) << b;
  EXPECT_FALSE(kv.block_pool().block(BlockId(4)).block_hash);  // partial: not cacheable

  auto r1 = MakeRequest(1, Concat(common, Iota(5, 2000)));  // 53 tokens
  auto a1 = Admit(kv, *r1, &hit);
  ASSERT_TRUE(a1);
  EXPECT_EQ(hit, 3 * kBs);
  EXPECT_EQ(Ids(a1->new_block_ids), (std::vector<int>{1, 2, 3, 5}));
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(1))), (std::vector<int>{1, 2, 3, 5}));
  for (int b = 1; b <= 3; ++b) EXPECT_EQ(Ref(kv, b), 2) << b;
  EXPECT_EQ(Ref(kv, 4), 1);
  EXPECT_EQ(Ref(kv, 5), 1);
  EXPECT_EQ(kv.num_free_blocks(), 5);

  kv.Free(*r0);
  EXPECT_EQ(Ids(kv.block_pool().GetFreeBlockIds()), (std::vector<int>{6, 7, 8, 9, 10, 4}));
  for (int b = 1; b <= 3; ++b) EXPECT_EQ(Ref(kv, b), 1) << b;
  kv.Free(*r1);
  EXPECT_EQ(Ids(kv.block_pool().GetFreeBlockIds()), (std::vector<int>{6, 7, 8, 9, 10, 4, 5, 3, 2, 1}));

  // A hit on free cached blocks pulls them out of the free queue.
  auto r2 = MakeRequest(2, Concat(common, Iota(3, 3000)));
  auto a2 = Admit(kv, *r2, &hit);
  ASSERT_TRUE(a2);
  EXPECT_EQ(hit, 3 * kBs);
  EXPECT_EQ(Ids(a2->new_block_ids), (std::vector<int>{1, 2, 3, 6}));
  EXPECT_EQ(Ids(kv.block_pool().GetFreeBlockIds()), (std::vector<int>{7, 8, 9, 10, 4, 5}));
  kv.Free(*r2);

  // A request that needs every block takes them in eviction order.
  auto r3 = MakeRequest(3, Iota(10 * kBs - 1, 5000));
  auto a3 = Admit(kv, *r3, &hit);
  ASSERT_TRUE(a3);
  EXPECT_EQ(hit, 0);
  EXPECT_EQ(Ids(a3->new_block_ids), (std::vector<int>{7, 8, 9, 10, 4, 5, 6, 3, 2, 1}));
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_DOUBLE_EQ(kv.usage(), 1.0);
}

TEST(KvCacheManagerTest, HitNeverCoversTheLastPromptToken) {
  KvCacheManager kv(Config(11));
  const std::vector<TokenId> prompt = Iota(3 * kBs, 0);  // exactly 3 full blocks
  auto r0 = MakeRequest(0, prompt);
  ASSERT_TRUE(Admit(kv, *r0));
  auto r1 = MakeRequest(1, prompt);
  int hit = -1;
  auto a1 = Admit(kv, *r1, &hit);
  ASSERT_TRUE(a1);
  EXPECT_EQ(hit, 2 * kBs);  // the third block holds the last token: recomputed
  EXPECT_EQ(Ids(a1->new_block_ids), (std::vector<int>{1, 2, 4}));
}

TEST(KvCacheManagerTest, DecodedTokensThatFillABlockMakeItCacheable) {
  KvCacheManager kv(Config(11));
  auto r0 = MakeRequest(0, Iota(kBs + 10, 0));  // 26 tokens: blocks 1 (full), 2 (10)
  ASSERT_TRUE(Admit(kv, *r0));
  std::vector<TokenId> outputs;
  for (int i = 0; i < 5; ++i) {
    outputs.push_back(900 + i);
    auto a = Decode(kv, *r0, 900 + i);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->new_block_ids.empty());
  }
  EXPECT_FALSE(kv.block_pool().block(BlockId(2)).block_hash);
  outputs.push_back(905);
  ASSERT_TRUE(Decode(kv, *r0, 905));  // token 32 computed: block 2 is full
  EXPECT_TRUE(kv.block_pool().block(BlockId(2)).block_hash);
  auto a = Decode(kv, *r0, 906);  // token 33 needs a new block
  ASSERT_TRUE(a);
  EXPECT_EQ(Ids(a->new_block_ids), (std::vector<int>{3}));

  // Prompt + the first outputs as a new prompt: both blocks hit.
  auto r1 = MakeRequest(1, Concat(Concat(Iota(kBs + 10, 0), outputs), {7}));
  int hit = -1;
  ASSERT_TRUE(Admit(kv, *r1, &hit));
  EXPECT_EQ(hit, 2 * kBs);
}

TEST(KvCacheManagerTest, CacheSaltSeparatesTenants) {
  KvCacheManager kv(Config(20));
  const std::vector<TokenId> prompt = Iota(3 * kBs + 1, 0);
  auto plain = MakeRequest(0, prompt);
  ASSERT_TRUE(Admit(kv, *plain));
  auto salted = MakeRequest(1, prompt, {.cache_salt = "alice"});
  int hit = -1;
  ASSERT_TRUE(Admit(kv, *salted, &hit));
  EXPECT_EQ(hit, 0);
  auto same_salt = MakeRequest(2, prompt, {.cache_salt = "alice"});
  ASSERT_TRUE(Admit(kv, *same_salt, &hit));
  EXPECT_EQ(hit, 3 * kBs);
  EXPECT_EQ(kv.GetBlockIds(RequestId(2))[0], kv.GetBlockIds(RequestId(1))[0]);
  auto other_salt = MakeRequest(3, prompt, {.cache_salt = "bob"});
  ASSERT_TRUE(Admit(kv, *other_salt, &hit));
  EXPECT_EQ(hit, 0);
}

TEST(KvCacheManagerTest, WeakHashCollisionIsNotReused) {
  // Every block hashes to the same value: only verification tells them apart.
  const BlockHashFn weak = [](BlockHash, std::span<const TokenId>, const BlockExtraKeys&) { return BlockHash{7}; };
  KvCacheManager kv(Config(20, true, weak));
  const std::vector<TokenId> x = Iota(kBs, 0), y = Iota(kBs, 100), z = Iota(kBs, 200), w = Iota(kBs, 300);
  auto a = MakeRequest(0, Concat(Concat(x, y), {1}));  // [X, Y, 1]
  ASSERT_TRUE(Admit(kv, *a));
  auto d = MakeRequest(1, Concat(Concat(z, w), {1}));  // [Z, W, 1]
  int hit = -1;
  ASSERT_TRUE(Admit(kv, *d, &hit));
  EXPECT_EQ(hit, 0);  // same hash as X, other tokens
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(1))), (std::vector<int>{4, 5, 6}));
  // [Z, Y, 1]: Z is D's first block; Y's tokens and hash match A's second block,
  // but that one follows X, not Z. Only Z may be reused.
  auto b = MakeRequest(2, Concat(Concat(z, y), {1}));
  ASSERT_TRUE(Admit(kv, *b, &hit));
  EXPECT_EQ(hit, kBs);
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(2))), (std::vector<int>{4, 7, 8}));
  // An exact repeat of A is still a full hit.
  auto a2 = MakeRequest(3, Concat(Concat(x, y), {2}));
  ASSERT_TRUE(Admit(kv, *a2, &hit));
  EXPECT_EQ(hit, 2 * kBs);
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(3))), (std::vector<int>{1, 2, 9}));
}

TEST(KvCacheManagerTest, NotEnoughBlocksChangesNothing) {
  KvCacheManager kv(Config(6));  // 5 usable
  const std::vector<TokenId> prefix = Iota(2 * kBs, 0);
  auto r0 = MakeRequest(0, Concat(prefix, {1}));
  ASSERT_TRUE(Admit(kv, *r0));  // blocks 1, 2, 3
  kv.Free(*r0);                 // all free, 1 and 2 cached
  const auto free_before = kv.block_pool().GetFreeBlockIds();
  // 2 hit blocks + 4 new > 5 free.
  auto big = MakeRequest(1, Concat(prefix, Iota(4 * kBs - 1, 500)));
  EXPECT_FALSE(Admit(kv, *big));
  EXPECT_EQ(kv.block_pool().GetFreeBlockIds(), free_before);
  EXPECT_TRUE(kv.GetBlockIds(RequestId(1)).empty());
  EXPECT_TRUE(kv.GetRequestIds().empty());
  EXPECT_EQ(Ref(kv, 1), 0);
  EXPECT_EQ(kv.block_pool().num_cached_blocks(), 2);
  // 2 hit blocks + 3 new == 5 free: fits exactly, hits counted as claimed.
  auto fits = MakeRequest(2, Concat(prefix, Iota(3 * kBs - 1, 500)));
  int hit = -1;
  auto a = Admit(kv, *fits, &hit);
  ASSERT_TRUE(a);
  EXPECT_EQ(hit, 2 * kBs);
  EXPECT_EQ(Ids(a->new_block_ids), (std::vector<int>{1, 2, 4, 5, 3}));
  EXPECT_EQ(kv.num_free_blocks(), 0);
}

TEST(KvCacheManagerTest, PrefixCachingOff) {
  KvCacheManager kv(Config(11, false));
  const std::vector<TokenId> prompt = Iota(3 * kBs + 1, 0);
  auto r0 = MakeRequest(0, prompt);
  ASSERT_TRUE(Admit(kv, *r0));
  auto r1 = MakeRequest(1, prompt);
  int hit = -1;
  ASSERT_TRUE(Admit(kv, *r1, &hit));
  EXPECT_EQ(hit, 0);
  EXPECT_EQ(kv.block_pool().num_cached_blocks(), 0);
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(1))), (std::vector<int>{5, 6, 7, 8}));
}

TEST(KvCacheManagerTest, ForkSharesBlocksAndCopiesThePartialOneOnWrite) {
  KvCacheManager kv(Config(11));
  auto parent = MakeRequest(0, Iota(kBs + 4, 0));  // block 1 full, block 2 holds 4
  ASSERT_TRUE(Admit(kv, *parent));
  parent->AppendOutputToken(77);  // sampled, not computed yet
  auto child = parent->CloneAs(RequestId(1));
  child->ReplaceLastToken(88);
  kv.Fork(*parent, *child);
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(1))), (std::vector<int>{1, 2}));
  EXPECT_EQ(Ref(kv, 1), 2);
  EXPECT_EQ(Ref(kv, 2), 2);

  // The child writes position 20, inside shared block 2: it gets a copy.
  auto ac = kv.AllocateSlots(*child, 1);
  ASSERT_TRUE(ac);
  child->set_num_computed_tokens(child->num_tokens());
  ASSERT_TRUE(ac->copy_on_write);
  EXPECT_EQ(ac->copy_on_write->block_index, 1);
  EXPECT_EQ(ac->copy_on_write->src, BlockId(2));
  EXPECT_EQ(ac->copy_on_write->dst, BlockId(3));
  EXPECT_TRUE(ac->new_block_ids.empty());
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(1))), (std::vector<int>{1, 3}));
  EXPECT_EQ(Ref(kv, 1), 2);  // full shared block: never copied
  EXPECT_EQ(Ref(kv, 2), 1);
  EXPECT_EQ(Ref(kv, 3), 1);

  // Block 2 is the parent's alone now: it writes in place.
  auto ap = kv.AllocateSlots(*parent, 1);
  ASSERT_TRUE(ap);
  parent->set_num_computed_tokens(parent->num_tokens());
  EXPECT_FALSE(ap->copy_on_write);
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(0))), (std::vector<int>{1, 2}));

  kv.Free(*child);
  EXPECT_EQ(Ids(kv.block_pool().GetFreeBlockIds()), (std::vector<int>{4, 5, 6, 7, 8, 9, 10, 3}));
  EXPECT_EQ(Ref(kv, 1), 1);
  kv.Free(*parent);
  EXPECT_EQ(Ids(kv.block_pool().GetFreeBlockIds()), (std::vector<int>{4, 5, 6, 7, 8, 9, 10, 3, 2, 1}));
}

TEST(KvCacheManagerTest, ForkAtABlockBoundaryCopiesNothing) {
  KvCacheManager kv(Config(11));
  auto parent = MakeRequest(0, Iota(2 * kBs, 0));
  ASSERT_TRUE(Admit(kv, *parent));
  parent->AppendOutputToken(5);
  auto child = parent->CloneAs(RequestId(1));
  kv.Fork(*parent, *child);
  auto ac = kv.AllocateSlots(*child, 1);
  ASSERT_TRUE(ac);
  EXPECT_FALSE(ac->copy_on_write);
  EXPECT_EQ(Ids(ac->new_block_ids), (std::vector<int>{3}));
  EXPECT_EQ(Ref(kv, 1), 2);
  EXPECT_EQ(Ref(kv, 2), 2);
}

TEST(KvCacheManagerTest, CopyOnWriteNeedsAFreeBlock) {
  KvCacheManager kv(Config(3));  // 2 usable
  auto parent = MakeRequest(0, Iota(kBs + 4, 0));
  ASSERT_TRUE(Admit(kv, *parent));  // both blocks
  parent->AppendOutputToken(1);
  auto child = parent->CloneAs(RequestId(1));
  kv.Fork(*parent, *child);
  EXPECT_FALSE(kv.AllocateSlots(*child, 1));
  EXPECT_EQ(Ids(kv.GetBlockIds(RequestId(1))), (std::vector<int>{1, 2}));
  EXPECT_EQ(Ref(kv, 2), 2);
}

}  // namespace
}  // namespace pagoda::core
