#include "core/block_hash.h"

#include <gtest/gtest.h>

#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Iota;

TEST(BlockHashTest, DependsOnEveryInput) {
  const std::vector<TokenId> t = Iota(16, 0);
  const BlockHash base = HashBlockTokens(kNoneBlockHash, t, {});
  EXPECT_EQ(base, HashBlockTokens(kNoneBlockHash, t, {}));
  EXPECT_NE(base, HashBlockTokens(base, t, {}));  // parent
  std::vector<TokenId> t2 = t;
  t2[7] = 99;
  EXPECT_NE(base, HashBlockTokens(kNoneBlockHash, t2, {}));  // one token
  std::vector<TokenId> swapped = t;
  std::swap(swapped[0], swapped[1]);
  EXPECT_NE(base, HashBlockTokens(kNoneBlockHash, swapped, {}));  // order
  EXPECT_NE(base, HashBlockTokens(kNoneBlockHash, t, {.lora_id = 3, .cache_salt = ""}));
  EXPECT_NE(base, HashBlockTokens(kNoneBlockHash, t, {.lora_id = 0, .cache_salt = "alice"}));
  EXPECT_NE(HashBlockTokens(kNoneBlockHash, t, {.lora_id = 0, .cache_salt = "alice"}),
            HashBlockTokens(kNoneBlockHash, t, {.lora_id = 0, .cache_salt = "bob"}));
}

TEST(BlockHashTest, ChainsParentHashes) {
  const std::vector<TokenId> tokens = Iota(40, 100);  // 2 full blocks of 16 + 8
  std::vector<BlockHash> hashes;
  ExtendBlockHashes(hashes, 2, tokens, 16, 0, "", HashBlockTokens);
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hashes[0], HashBlockTokens(kNoneBlockHash, std::span(tokens).first(16), {}));
  EXPECT_EQ(hashes[1], HashBlockTokens(hashes[0], std::span(tokens).subspan(16, 16), {}));
  // Same second block after a different first block: a different hash.
  std::vector<TokenId> other = tokens;
  other[0] = -5;
  std::vector<BlockHash> other_hashes;
  ExtendBlockHashes(other_hashes, 2, other, 16, 0, "", HashBlockTokens);
  EXPECT_NE(other_hashes[0], hashes[0]);
  EXPECT_NE(other_hashes[1], hashes[1]);
  // Extending is incremental: asking for 2 again changes nothing.
  ExtendBlockHashes(hashes, 2, tokens, 16, 0, "", HashBlockTokens);
  EXPECT_EQ(hashes.size(), 2u);
}

TEST(BlockHashTest, CacheSaltGoesIntoFirstBlockAndPropagates) {
  const std::vector<TokenId> tokens = Iota(48, 7);
  std::vector<BlockHash> plain, salted, salted_again;
  ExtendBlockHashes(plain, 3, tokens, 16, 0, "", HashBlockTokens);
  ExtendBlockHashes(salted, 3, tokens, 16, 0, "tenant-a", HashBlockTokens);
  ExtendBlockHashes(salted_again, 3, tokens, 16, 0, "tenant-a", HashBlockTokens);
  for (int i = 0; i < 3; ++i) EXPECT_NE(plain[i], salted[i]) << i;
  EXPECT_EQ(salted, salted_again);
  EXPECT_EQ(ExtraKeysForBlock(0, 0, "tenant-a").cache_salt, "tenant-a");
  EXPECT_EQ(ExtraKeysForBlock(1, 0, "tenant-a").cache_salt, "");
  EXPECT_EQ(salted[1], HashBlockTokens(salted[0], std::span(tokens).subspan(16, 16), {}));
}

TEST(BlockHashTest, LoraIdGoesIntoEveryBlock) {
  const std::vector<TokenId> tokens = Iota(32, 0);
  std::vector<BlockHash> h;
  ExtendBlockHashes(h, 2, tokens, 16, 5, "", HashBlockTokens);
  EXPECT_EQ(h[1], HashBlockTokens(h[0], std::span(tokens).subspan(16, 16), {.lora_id = 5, .cache_salt = ""}));
}

TEST(BlockHashTest, InjectedFunctionIsUsed) {
  const std::vector<TokenId> tokens = Iota(32, 0);
  std::vector<BlockHash> h;
  ExtendBlockHashes(h, 2, tokens, 16, 0, "",
                    [](BlockHash parent, std::span<const TokenId> t, const BlockExtraKeys&) { return parent + t[0]; });
  EXPECT_EQ(h[0], kNoneBlockHash + 0);
  EXPECT_EQ(h[1], kNoneBlockHash + 16);
}

}  // namespace
}  // namespace pagoda::core
