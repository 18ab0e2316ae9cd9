// Model::Forward reuses its activation buffers: once a step of a given shape
// has run, steps of the same or a smaller shape do not touch the heap (counted
// with a replacement of the global operator new, counting_allocator.cpp).

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "counting_allocator.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::model {
namespace {

constexpr int32_t kBlockSize = 16;
constexpr int32_t kBlocksPerSeq = 4;  // 64 tokens of KV per sequence

// The model views the mapped files' weights: keep both.
struct Tiny {
  std::unique_ptr<loader::ModelFiles> files;
  std::unique_ptr<Model> model;
};

Tiny LoadTiny(const std::string& name) {
  Tiny t;
  auto files = loader::ModelFiles::Open(std::string(PAGODA_SOURCE_DIR) + "/tests/models/" + name);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  if (!files.ok()) return t;
  t.files = std::move(*files);
  auto m = Model::Load(*t.files);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (m.ok()) t.model = std::move(*m);
  return t;
}

int32_t Argmax(const float* row, int64_t n) { return static_cast<int32_t>(std::max_element(row, row + n) - row); }

// Four sequences, prefilled together, then decoded one token each per step
// with greedy tokens, reusing one ForwardBatch.
class DecodeLoop {
 public:
  DecodeLoop(Model& m, ThreadPool& pool, const std::vector<int>& prompt_lens) : m_(m), pool_(pool) {
    const auto& c = m.config();
    kv_ = std::make_unique<backend::KvCache>(c.num_layers, 1 + kBlocksPerSeq * static_cast<int>(prompt_lens.size()), kBlockSize,
                                             c.num_kv_heads, c.head_dim);
    for (size_t s = 0; s < prompt_lens.size(); ++s) {
      std::vector<int32_t> t;
      t.reserve(kBlocksPerSeq * kBlockSize);
      for (int i = 0; i < prompt_lens[s]; ++i) t.push_back(static_cast<int32_t>((97 * s + 31 * i + 5) % c.vocab_size));
      tokens_.push_back(std::move(t));
      std::vector<int32_t> bt;
      for (int b = 0; b < kBlocksPerSeq; ++b) bt.push_back(1 + static_cast<int32_t>(s) * kBlocksPerSeq + b);
      block_tables_.push_back(std::move(bt));
      computed_.push_back(0);
    }
    logits_.resize(prompt_lens.size() * c.vocab_size);
  }

  // One step: every sequence runs its not yet computed tokens, then appends
  // the greedy next token (a decode step once the prompts are in).
  Status Step() {
    batch_.Clear();
    for (size_t s = 0; s < tokens_.size(); ++s) {
      const int32_t n = static_cast<int32_t>(tokens_[s].size()) - computed_[s];
      batch_.AddSequence(tokens_[s], computed_[s], n, block_tables_[s], kBlockSize, false);
    }
    PAGODA_RETURN_IF_ERROR(m_.Forward(pool_, batch_, *kv_, logits_.data()));
    const int64_t V = m_.config().vocab_size;
    for (size_t s = 0; s < tokens_.size(); ++s) {
      computed_[s] = static_cast<int32_t>(tokens_[s].size());
      tokens_[s].push_back(Argmax(logits_.data() + s * V, V));  // within the reserved capacity
    }
    return Status::Ok();
  }

  int32_t context_len(size_t s) const { return computed_[s]; }
  const std::vector<int32_t>& tokens(size_t s) const { return tokens_[s]; }

 private:
  Model& m_;
  ThreadPool& pool_;
  std::unique_ptr<backend::KvCache> kv_;
  std::vector<std::vector<int32_t>> tokens_, block_tables_;
  std::vector<int32_t> computed_;
  std::vector<float> logits_;
  ForwardBatch batch_;
};

void ExpectSteadyDecodeAllocatesNothing(const std::string& model_name) {
  Tiny tiny = LoadTiny(model_name);
  ASSERT_NE(tiny.model, nullptr);
  Model* m = tiny.model.get();
  ThreadPool pool(2);
  ASSERT_FALSE(testing::PoolRunAllocates(pool)) << "ThreadPool::Run allocates per kernel call (common/thread_pool.h)";
  // Prompt 13 crosses into its second block at the 4th decode step, 30 into
  // its third at the 3rd; all stay within their 4 blocks.
  DecodeLoop loop(*m, pool, {13, 5, 30, 21});
  ASSERT_TRUE(loop.Step().ok());  // prefill (T = 69)
  ASSERT_TRUE(loop.Step().ok());  // two warm-up decode steps (T = 4)
  ASSERT_TRUE(loop.Step().ok());
  const int32_t ctx0 = loop.context_len(0), ctx2 = loop.context_len(2);
  constexpr int kSteps = 10;
  testing::ScopedAllocationCounter counter;
  for (int i = 0; i < kSteps; ++i) {
    Status st = loop.Step();
    if (!st.ok()) {
      counter.Stop();
      FAIL() << st.ToString();
    }
  }
  const int64_t n = counter.Stop();
  EXPECT_EQ(n, 0) << model_name << ": " << n << " heap allocations in " << kSteps << " decode steps (first of "
                  << testing::FirstCountedAllocationSize() << " bytes)";
  // The steps did cross block boundaries.
  EXPECT_LT(ctx0, kBlockSize);
  EXPECT_GT(loop.context_len(0), kBlockSize);
  EXPECT_LE(ctx2, 2 * kBlockSize);
  EXPECT_GT(loop.context_len(2), 2 * kBlockSize);
}

// qkv bias; untied head with head_dim 24; Gemma3 (sliding layers with their
// own rope tables, sandwich norms, softcap); GPT-2 (layernorm, learned
// positions); GPT-NeoX (parallel residual, partial rotary).
TEST(ForwardAllocTest, SteadyDecodeAllocatesNothingQwen2) { ExpectSteadyDecodeAllocatesNothing("qwen2-tiny"); }
TEST(ForwardAllocTest, SteadyDecodeAllocatesNothingLlamaUntied) { ExpectSteadyDecodeAllocatesNothing("llama-untied-tiny"); }
TEST(ForwardAllocTest, SteadyDecodeAllocatesNothingGemma3) { ExpectSteadyDecodeAllocatesNothing("gemma3-tiny"); }
TEST(ForwardAllocTest, SteadyDecodeAllocatesNothingGpt2) { ExpectSteadyDecodeAllocatesNothing("gpt2-tiny"); }
TEST(ForwardAllocTest, SteadyDecodeAllocatesNothingGptNeoX) { ExpectSteadyDecodeAllocatesNothing("gptneox-tiny"); }

// The counter itself: it sees an allocation made on this thread and one made
// by a pool worker (so a test that expects 0 can fail).
TEST(ForwardAllocTest, CounterSeesAllocations) {
  ThreadPool pool(2);
  testing::ScopedAllocationCounter counter;
  auto* p = new std::vector<int>(10);
  delete p;
  EXPECT_EQ(counter.Stop(), 2);

  std::vector<std::unique_ptr<int>> made(2);
  testing::ArmAllocationCounter();
  std::function<void(int64_t, int64_t, int)> fn = [&](int64_t b, int64_t e, int chunk) { made[chunk] = std::make_unique<int>(1); };
  pool.Run(2, fn);
  EXPECT_EQ(testing::DisarmAllocationCounter(), 2);
}

// A step smaller than the warm-up (fewer sequences) reuses the buffers too,
// and a larger one grows them and still computes the same logits as a model
// that never ran a step.
TEST(ForwardAllocTest, SmallerStepAfterLargerAllocatesNothing) {
  Tiny tiny = LoadTiny("qwen2-tiny");
  ASSERT_NE(tiny.model, nullptr);
  Model* m = tiny.model.get();
  ThreadPool pool(2);
  ASSERT_FALSE(testing::PoolRunAllocates(pool)) << "ThreadPool::Run allocates per kernel call (common/thread_pool.h)";
  DecodeLoop big(*m, pool, {40, 40, 40, 40});
  ASSERT_TRUE(big.Step().ok());
  ASSERT_TRUE(big.Step().ok());
  DecodeLoop small(*m, pool, {7});
  // A prefill (T = 7, one sequence) and a decode step, both smaller than the
  // steps above. The first Step of a fresh ForwardBatch grows its vectors, so
  // only Forward is counted here: run it twice, counting the second.
  ASSERT_TRUE(small.Step().ok());
  testing::ScopedAllocationCounter counter;
  Status st = small.Step();
  const int64_t n = counter.Stop();
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(n, 0);

  Tiny fresh = LoadTiny("qwen2-tiny");
  ASSERT_NE(fresh.model, nullptr);
  DecodeLoop ref(*fresh.model, pool, {7});
  ASSERT_TRUE(ref.Step().ok());
  ASSERT_TRUE(ref.Step().ok());
  EXPECT_EQ(small.tokens(0), ref.tokens(0));
}

}  // namespace
}  // namespace pagoda::model
