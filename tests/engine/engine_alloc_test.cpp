// The engine's delivery of outputs, with the heap in view: a steady decode step
// allocates nothing on the engine thread or the kernel workers (outputs and their
// buffers go round between the engine and the reader), and a reader that falls
// behind gets its choice's tokens appended into one output instead of a queue
// that grows per token.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "../model/counting_allocator.h"
#include "engine/engine.h"
#include "engine_test_util.h"
#include "loader/mapped_file.h"

namespace pagoda::engine {
namespace {

// $PAGODA_DEFAULT_MODEL (scripts/test.sh sets it), else where fetch_default_model.sh puts it.
std::string DefaultModelPath() {
  if (const char* p = std::getenv("PAGODA_DEFAULT_MODEL"); p != nullptr && *p != '\0') return p;
  const char* dir = std::getenv("PAGODA_MODELS_DIR");
  const char* home = std::getenv("HOME");
  return (dir ? std::string(dir) : std::string(home ? home : "/root") + "/.cache/pagoda/models") +
         "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

using testing_util::Greedy;

// Four sequences decoding together, read by this thread: from the point where
// each has 16 tokens to where each has 48, nothing is allocated by any other
// thread (the engine thread and the kernel workers). The window covers KV block
// crossings (block size 16) and full blocks entering the prefix cache; with
// detokenize, the streaming detokenizer and stop-string matching too.
void ExpectSteadyDecodeAllocatesNothing(bool detokenize) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a Debug TSan build decodes the 135M model too slowly for this window (races: the other engine tests)";
#endif
  EngineConfig cfg;
  cfg.model = DefaultModelPath();
  if (!loader::FileExists(cfg.model)) GTEST_SKIP() << cfg.model << " is not present here (scripts/fetch_default_model.sh)";
  cfg.threads = 1;
  cfg.max_model_len = 512;
  cfg.kv_cache_memory = 64ll << 20;
  auto engine = Engine::Create(cfg);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  // From 16 on, every slot of each ring (8) has been through a step once.
  constexpr int kSeqs = 4, kStart = 16, kEnd = 48;
  std::vector<std::unique_ptr<RequestHandle>> handles;
  for (int i = 0; i < kSeqs; ++i) {
    std::vector<int32_t> prompt(5 + 11 * i);
    for (size_t j = 0; j < prompt.size(); ++j) prompt[j] = static_cast<int32_t>(100 + (j * 13 + i * 7) % 2000);
    AddRequestOptions opts;
    opts.detokenize = detokenize;
    sample::SamplingParams p = Greedy(400);
    if (detokenize) p.stop = {"a stop string that is not there"};
    auto h = (*engine)->AddRequest(prompt, p, opts);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    handles.push_back(std::move(*h));
  }
  testing::ScopedUncountedThread reader;  // only the engine's threads are counted
  std::vector<int> got(kSeqs, 0);
  std::vector<RequestOutput> outs(kSeqs);  // each reader slot hands its buffers back
  size_t largest = 0;                      // most tokens in one output read in the window
  size_t text_bytes = 0;                   // text read in the window
  auto min_got = [&] { return *std::min_element(got.begin(), got.end()); };
  bool armed = false;
  int64_t counted = -1;
  size_t first_size = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (counted < 0 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < kSeqs; ++i) {
      while (handles[i]->NextFor(&outs[i], 0)) {
        ASSERT_TRUE(outs[i].error.ok()) << outs[i].error.ToString();
        ASSERT_FALSE(outs[i].finished) << "request " << i << " finished inside the window";
        got[i] += static_cast<int>(outs[i].token_ids.size());
        if (armed) largest = std::max(largest, outs[i].token_ids.size()), text_bytes += outs[i].text.size();
      }
    }
    if (!armed && min_got() >= kStart) {
      testing::ArmAllocationCounter();
      armed = true;
    } else if (armed && min_got() >= kEnd) {
      counted = testing::DisarmAllocationCounter();
      first_size = testing::FirstCountedAllocationSize();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_GE(counted, 0) << "the sequences did not reach " << kEnd << " tokens in time";
  EXPECT_EQ(counted, 0) << "allocations during steady decode (first of " << first_size
                        << " bytes); the reader lagged by up to " << largest
                        << " tokens (outputs hold 16 without growing)";
  if (detokenize) {
    EXPECT_GT(text_bytes, 64u) << "the window's outputs carried no text";
  }
  for (auto& h : handles) h->Abort();
}

TEST(EngineAllocTest, SteadyDecodeAllocatesNothingOffTheReaderThread) { ExpectSteadyDecodeAllocatesNothing(false); }

TEST(EngineAllocTest, SteadyDecodeWithTextAllocatesNothingOffTheReaderThread) { ExpectSteadyDecodeAllocatesNothing(true); }

// A reader that reads nothing until both choices are done gets each choice's
// first 7 tokens one per output and the rest appended into the 8th (the last
// step's may arrive apart): tokens and text equal to what a reader that keeps up
// gets over one output per token.
TEST(EngineAllocTest, SlowReaderGetsLaterTokensAppendedPastEightUnread) {
  EngineConfig cfg;
  cfg.model = std::string(PAGODA_SHARED_DIR) + "/models/stories260k";
  cfg.threads = 1;
  cfg.max_model_len = 256;
  auto engine = Engine::Create(cfg);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  sample::SamplingParams p;
  p.temperature = 1.0;
  p.seed = 7;
  p.n = 2;
  p.max_tokens = 24;
  p.ignore_eos = true;
  const std::vector<int32_t> prompt = {1, 400, 32, 77, 290};
  struct Choice {
    std::vector<int32_t> ids;
    std::string text;
    int outputs = 0;
  };
  auto read_all = [](RequestHandle& h, std::vector<Choice>* cs) {
    RequestOutput o;
    while (h.Next(&o)) {
      EXPECT_TRUE(o.error.ok()) << o.error.ToString();
      ASSERT_TRUE(o.index >= 0 && o.index < 2);
      Choice& c = (*cs)[o.index];
      c.ids.insert(c.ids.end(), o.token_ids.begin(), o.token_ids.end());
      c.text += o.text;
      ++c.outputs;
    }
  };
  std::vector<Choice> eager(2), slow(2);
  {
    auto h = (*engine)->AddRequest(prompt, p);
    ASSERT_TRUE(h.ok());
    read_all(**h, &eager);
  }
  const int64_t finished_before = (*engine)->Stats().requests_finished_length;
  auto h = (*engine)->AddRequest(prompt, p);
  ASSERT_TRUE(h.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((*engine)->Stats().requests_finished_length < finished_before + 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  read_all(**h, &slow);
  for (int c = 0; c < 2; ++c) {
    EXPECT_EQ(eager[c].ids.size(), 24u);
    EXPECT_EQ(slow[c].ids, eager[c].ids) << "choice " << c;
    EXPECT_EQ(slow[c].text, eager[c].text) << "choice " << c;
    EXPECT_GE(slow[c].outputs, RequestHandle::kMaxUnreadPerChoice) << "choice " << c;
    EXPECT_LE(slow[c].outputs, RequestHandle::kMaxUnreadPerChoice + 1)
        << "choice " << c << ": a slow reader's outputs were queued one per token";
  }
}

}  // namespace
}  // namespace pagoda::engine
