// ModelRunner's steady decode step allocates nothing: the same running
// requests, greedy or seeded sampling, the step's output written into a
// ModelRunnerOutput reused across steps (counting_allocator.cpp counts every
// operator new, on every thread). Also: the runner's greedy tokens are those of
// a plain Forward + argmax loop.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../model/counting_allocator.h"
#include "common/thread_pool.h"
#include "loader/weights.h"
#include "model/model.h"
#include "runner/model_runner.h"

namespace pagoda::runner {
namespace {

constexpr int kBlockSize = 16;
constexpr int kBlocksPerSeq = 4;
constexpr int kWarmupDecodes = 2;
constexpr int kCountedDecodes = 10;

struct Tiny {
  std::unique_ptr<loader::ModelFiles> files;  // the model views its weights
  std::unique_ptr<model::Model> model;
};

Tiny LoadTiny(const std::string& name) {
  Tiny t;
  auto files = loader::ModelFiles::Open(std::string(PAGODA_SOURCE_DIR) + "/tests/models/" + name);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  if (!files.ok()) return t;
  t.files = std::move(*files);
  auto m = model::Model::Load(*t.files);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (m.ok()) t.model = std::move(*m);
  return t;
}

std::vector<int32_t> Prompt(int index, int len, int64_t vocab) {
  std::vector<int32_t> p;
  for (int i = 0; i < len; ++i) p.push_back(static_cast<int32_t>((97 * index + 31 * i + 5) % vocab));
  return p;
}

int BlocksFor(int tokens) { return (tokens + kBlockSize - 1) / kBlockSize; }

// Drives a runner as the scheduler would: a prefill step with every request
// new, then one-token decode steps whose diffs carry the token sampled in the
// previous step and, when a request crosses a block boundary, its new block.
// Every step's SchedulerOutput is built in advance (building one allocates);
// a decode step only writes the sampled token into its pre-sized diff.
class Schedule {
 public:
  Schedule(const std::vector<int>& prompt_lens, int64_t vocab, std::shared_ptr<const sample::SamplingParams> params)
      : prompt_lens_(prompt_lens) {
    const int num_steps = 1 + kWarmupDecodes + kCountedDecodes;
    steps_.resize(num_steps);
    core::SchedulerOutput& prefill = steps_[0];
    for (size_t r = 0; r < prompt_lens.size(); ++r) {
      core::NewRequestData n;
      n.request_id = core::RequestId(r + 1);
      n.prompt_token_ids = Prompt(static_cast<int>(r), prompt_lens[r], vocab);
      n.all_token_ids = n.prompt_token_ids;
      for (int b = 0; b < BlocksFor(prompt_lens[r]); ++b) n.block_ids.push_back(Block(r, b));
      n.sampling_params = params;
      prefill.scheduled_new_reqs.push_back(std::move(n));
      prefill.num_scheduled_tokens.push_back({core::RequestId(r + 1), prompt_lens[r]});
      prefill.total_num_scheduled_tokens += prompt_lens[r];
    }
    for (int k = 1; k < num_steps; ++k) {
      core::SchedulerOutput& so = steps_[k];
      for (size_t r = 0; r < prompt_lens.size(); ++r) {
        const int computed = prompt_lens[r] + k - 1;  // the previous step's token is computed now
        core::CachedRequestData d;
        d.request_id = core::RequestId(r + 1);
        d.new_token_ids = {0};  // the previous step's sample, filled in by Step()
        for (int b = BlocksFor(computed); b < BlocksFor(computed + 1); ++b) d.new_block_ids.push_back(Block(r, b));
        d.num_computed_tokens = computed;
        so.scheduled_cached_reqs.push_back(std::move(d));
        so.num_scheduled_tokens.push_back({core::RequestId(r + 1), 1});
        so.total_num_scheduled_tokens += 1;
      }
    }
  }

  int num_steps() const { return static_cast<int>(steps_.size()); }
  int num_new_blocks(int step) const {
    int n = 0;
    for (const auto& d : steps_[step].scheduled_cached_reqs) n += static_cast<int>(d.new_block_ids.size());
    return n;
  }

  // Runs step k; out holds the previous step's samples on entry.
  Status Step(ModelRunner& runner, int k, core::ModelRunnerOutput* out) {
    core::SchedulerOutput& so = steps_[k];
    for (size_t r = 0; k > 0 && r < so.scheduled_cached_reqs.size(); ++r)
      so.scheduled_cached_reqs[r].new_token_ids[0] = out->samples.at(r).sampled_token_ids.at(0);
    return runner.Execute(so, out);
  }

 private:
  static core::BlockId Block(size_t r, int b) { return core::BlockId(1 + static_cast<int32_t>(r) * kBlocksPerSeq + b); }
  std::vector<int> prompt_lens_;
  std::vector<core::SchedulerOutput> steps_;
};

// Returns the tokens each request sampled, step by step, after checking that
// the counted decode steps allocated nothing.
std::vector<std::vector<int32_t>> ExpectSteadyDecodeAllocatesNothing(model::Model& m, std::shared_ptr<const sample::SamplingParams> params) {
  // Each crosses a block boundary in a counted step (13 at decode step 4, 30
  // at 3, 5 and 21 at 12); all stay within their 4 blocks.
  const std::vector<int> prompts = {13, 5, 30, 21};
  ThreadPool pool(2);
  EXPECT_FALSE(testing::PoolRunAllocates(pool)) << "ThreadPool::Run allocates per kernel call (common/thread_pool.h)";
  RunnerConfig rc;
  rc.block_size = kBlockSize;
  rc.num_blocks = 1 + kBlocksPerSeq * static_cast<int>(prompts.size());
  rc.eos_token_ids = {2};
  ModelRunner runner(m, rc, pool);
  Schedule sched(prompts, m.config().vocab_size, params);
  core::ModelRunnerOutput out;
  std::vector<std::vector<int32_t>> sampled(prompts.size());
  auto record = [&] {
    for (size_t r = 0; r < out.samples.size(); ++r) sampled[r].push_back(out.samples[r].sampled_token_ids[0]);
  };
  for (int k = 0; k <= kWarmupDecodes; ++k) {
    Status st = sched.Step(runner, k, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return sampled;
    record();
  }
  int new_blocks = 0;
  for (int k = kWarmupDecodes + 1; k < sched.num_steps(); ++k) {
    new_blocks += sched.num_new_blocks(k);
    testing::ScopedAllocationCounter counter;
    Status st = sched.Step(runner, k, &out);
    const int64_t n = counter.Stop();
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(n, 0) << "decode step " << k << ": " << n << " heap allocations (first of " << testing::FirstCountedAllocationSize()
                    << " bytes)";
    EXPECT_EQ(out.samples.size(), prompts.size());
    if (!st.ok() || out.samples.size() != prompts.size()) return sampled;
    record();
  }
  EXPECT_EQ(new_blocks, 4);  // the counted steps include block crossings (every request crosses one)
  return sampled;
}

TEST(ModelRunnerAllocTest, GreedyDecodeStepAllocatesNothing) {
  Tiny t = LoadTiny("qwen2-tiny");
  ASSERT_NE(t.model, nullptr);
  auto p = std::make_shared<sample::SamplingParams>();
  p->temperature = 0;
  p->max_tokens = 32;
  p->ignore_eos = true;
  const auto sampled = ExpectSteadyDecodeAllocatesNothing(*t.model, p);
  ASSERT_EQ(sampled.size(), 4u);

  // The same tokens as a plain Forward + argmax loop over each prompt alone.
  ThreadPool pool(1);
  const auto& c = t.model->config();
  for (size_t r = 0; r < sampled.size(); ++r) {
    backend::KvCache kv(c.num_layers, 1 + kBlocksPerSeq, kBlockSize, c.num_kv_heads, c.head_dim);
    std::vector<int32_t> tokens = Prompt(static_cast<int>(r), std::vector<int>{13, 5, 30, 21}[r], c.vocab_size);
    const std::vector<int32_t> table = {1, 2, 3, 4};
    std::vector<float> logits(c.vocab_size);
    int computed = 0;
    for (size_t step = 0; step < sampled[r].size(); ++step) {
      model::ForwardBatch b;
      const int n = static_cast<int>(tokens.size()) - computed;
      b.AddSequence(tokens, computed, n, table, kBlockSize, false);
      ASSERT_TRUE(t.model->Forward(pool, b, kv, logits.data()).ok());
      computed += n;
      tokens.push_back(static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    }
    EXPECT_EQ(std::vector<int32_t>(tokens.end() - sampled[r].size(), tokens.end()), sampled[r]) << "request " << r;
  }
}

TEST(ModelRunnerAllocTest, SeededTopKTopPDecodeStepAllocatesNothing) {
  Tiny t = LoadTiny("qwen2-tiny");
  ASSERT_NE(t.model, nullptr);
  auto p = std::make_shared<sample::SamplingParams>();
  p->temperature = 0.9;
  p->top_k = 50;
  p->top_p = 0.95;
  p->seed = 1234;
  p->max_tokens = 32;
  p->ignore_eos = true;
  const auto a = ExpectSteadyDecodeAllocatesNothing(*t.model, p);
  // Seeded: a second run draws the same tokens.
  const auto b = ExpectSteadyDecodeAllocatesNothing(*t.model, p);
  EXPECT_EQ(a, b);
}

TEST(ModelRunnerAllocTest, RepetitionPenaltyAndMinPDecodeStepAllocatesNothing) {
  Tiny t = LoadTiny("qwen2-tiny");
  ASSERT_NE(t.model, nullptr);
  auto p = std::make_shared<sample::SamplingParams>();
  p->temperature = 0.7;
  p->min_p = 0.05;
  p->repetition_penalty = 1.2;
  p->frequency_penalty = 0.3;
  p->max_tokens = 32;
  p->ignore_eos = true;
  ExpectSteadyDecodeAllocatesNothing(*t.model, p);
}

}  // namespace
}  // namespace pagoda::runner
