#include "core/free_block_queue.h"

#include <gtest/gtest.h>

#include "core_test_util.h"

namespace pagoda::core {
namespace {

using testing::Ids;

std::vector<KvCacheBlock> MakeBlocks(int n) {
  std::vector<KvCacheBlock> blocks(n);
  for (int i = 0; i < n; ++i) blocks[i].block_id = BlockId(i);
  return blocks;
}

std::vector<KvCacheBlock*> Ptrs(std::vector<KvCacheBlock>& blocks) {
  std::vector<KvCacheBlock*> p;
  for (auto& b : blocks) p.push_back(&b);
  return p;
}

TEST(FreeBlockQueueTest, KeepsInsertionOrder) {
  auto blocks = MakeBlocks(5);
  FreeBlockQueue q(Ptrs(blocks));
  EXPECT_EQ(q.num_free_blocks(), 5);
  EXPECT_EQ(Ids(q.GetAllFreeBlockIds()), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(q.PopFront()->block_id, BlockId(0));
  EXPECT_EQ(q.PopFront()->block_id, BlockId(1));
  EXPECT_EQ(q.PopFront()->block_id, BlockId(2));
  EXPECT_EQ(Ids(q.GetAllFreeBlockIds()), (std::vector<int>{3, 4}));
  EXPECT_EQ(q.num_free_blocks(), 2);
}

TEST(FreeBlockQueueTest, RemoveFromMiddleHeadAndTail) {
  auto blocks = MakeBlocks(6);
  FreeBlockQueue q(Ptrs(blocks));
  q.Remove(&blocks[3]);
  EXPECT_EQ(Ids(q.GetAllFreeBlockIds()), (std::vector<int>{0, 1, 2, 4, 5}));
  q.Remove(&blocks[0]);
  q.Remove(&blocks[5]);
  EXPECT_EQ(Ids(q.GetAllFreeBlockIds()), (std::vector<int>{1, 2, 4}));
  EXPECT_FALSE(q.Contains(&blocks[3]));
  EXPECT_TRUE(q.Contains(&blocks[2]));
  EXPECT_EQ(q.num_free_blocks(), 3);
  // A removed block goes back at the tail.
  q.Append(&blocks[3]);
  q.Append(&blocks[0]);
  EXPECT_EQ(Ids(q.GetAllFreeBlockIds()), (std::vector<int>{1, 2, 4, 3, 0}));
  EXPECT_EQ(q.PopFront()->block_id, BlockId(1));
}

TEST(FreeBlockQueueTest, EmptiesAndRefills) {
  auto blocks = MakeBlocks(3);
  FreeBlockQueue q(Ptrs(blocks));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.PopFront(), &blocks[i]);
  EXPECT_EQ(q.num_free_blocks(), 0);
  EXPECT_TRUE(q.GetAllFreeBlockIds().empty());
  q.Append(&blocks[2]);
  EXPECT_EQ(q.PopFront(), &blocks[2]);
  EXPECT_EQ(q.num_free_blocks(), 0);
}

TEST(FreeBlockQueueTest, RemovalIsConstantTime) {
  // 200k removals from the middle of a 200k-block queue: quadratic would not finish.
  const int n = 200000;
  auto blocks = MakeBlocks(n);
  FreeBlockQueue q(Ptrs(blocks));
  for (int i = 1; i < n; i += 2) q.Remove(&blocks[i]);
  EXPECT_EQ(q.num_free_blocks(), n / 2);
  EXPECT_EQ(q.PopFront()->block_id, BlockId(0));
  EXPECT_EQ(q.PopFront()->block_id, BlockId(2));
}

TEST(FreeBlockQueueDeathTest, DoubleRemoveIsAProgrammerError) {
  auto blocks = MakeBlocks(2);
  FreeBlockQueue q(Ptrs(blocks));
  q.Remove(&blocks[1]);
  EXPECT_DEATH(q.Remove(&blocks[1]), "not in the free queue");
}

}  // namespace
}  // namespace pagoda::core
