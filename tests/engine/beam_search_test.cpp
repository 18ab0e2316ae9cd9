// Beam search through the engine against HF transformers' generate(num_beams=k)
// (tools/golden/beam/gen_beam.py): the same sequences in the same order, and the
// same length-normalized scores.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "loader/mapped_file.h"

namespace pagoda::engine {
namespace {

class GoldenBeamSearch : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenBeamSearch, SequencesAndScoresMatchHf) {
  auto text = loader::ReadTextFile(std::string(PAGODA_SOURCE_DIR) + "/tests/golden/beam/" + GetParam() + ".json");
  ASSERT_TRUE(text.ok());
  const nlohmann::json g = nlohmann::json::parse(*text);
  EngineConfig cfg;
  cfg.model = (g["model"]["kind"] == "shared" ? std::string(PAGODA_SHARED_DIR) : std::string(PAGODA_SOURCE_DIR)) + "/" +
              g["model"]["path"].get<std::string>();
  cfg.threads = 2;
  cfg.max_model_len = 256;
  auto eng = Engine::Create(cfg);
  ASSERT_TRUE(eng.ok()) << eng.status().ToString();
  int cases = 0, seq_match = 0;
  double worst_score = 0;
  // All cases at once: beams of different requests share steps.
  std::vector<std::unique_ptr<RequestHandle>> handles;
  for (const auto& c : g["cases"]) {
    sample::SamplingParams p;
    p.use_beam_search = true;
    p.n = c["num_beams"];
    p.temperature = 0;
    p.max_tokens = g["max_new_tokens"];
    p.length_penalty = g["length_penalty"];
    p.early_stopping = g["early_stopping"];
    auto h = (*eng)->AddRequest(c["prompt_ids"].get<std::vector<int32_t>>(), p);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    handles.push_back(std::move(*h));
  }
  size_t i = 0;
  for (const auto& c : g["cases"]) {
    const int k = c["num_beams"];
    std::vector<std::vector<int32_t>> seqs(k);
    std::vector<double> scores(k, 0);
    RequestOutput o;
    while (handles[i]->Next(&o)) {
      ASSERT_TRUE(o.error.ok()) << o.error.ToString();
      ASSERT_LT(o.index, k);
      seqs[o.index] = o.token_ids;
      scores[o.index] = o.cumulative_logprob;
    }
    const auto want = c["sequences"].get<std::vector<std::vector<int32_t>>>();
    const auto want_scores = c["scores"].get<std::vector<double>>();
    EXPECT_EQ(seqs, want) << GetParam() << " case " << i << " (k=" << k << ", prompt " << c["prompt_ids"].size() << " tokens)";
    if (seqs == want) ++seq_match;
    for (int b = 0; b < k; ++b) {
      worst_score = std::max(worst_score, std::abs(scores[b] - want_scores[b]));
      EXPECT_NEAR(scores[b], want_scores[b], 1e-4) << GetParam() << " case " << i << " beam " << b;
    }
    ++cases;
    ++i;
  }
  std::printf("[ %s ] beam search: %d/%d cases identical, max |score diff| %.2g\n", GetParam().c_str(), seq_match, cases, worst_score);
  EXPECT_EQ((*eng)->Stats().kv_blocks_in_use, 0);
  EXPECT_EQ((*eng)->Stats().num_running, 0);
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenBeamSearch, ::testing::Values("stories260k", "tinystories-656k", "qwen2-tiny"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace pagoda::engine

namespace pagoda::engine {
namespace {

TEST(BeamSearchMemoryTest, BeamsShareThePromptBlocks) {
  auto make = [](bool prefix) {
    EngineConfig cfg;
    cfg.model = std::string(PAGODA_SHARED_DIR) + "/models/stories260k";
    cfg.threads = 2;
    cfg.max_model_len = 512;
    cfg.enable_prefix_caching = prefix;
    return std::move(Engine::Create(cfg).value());
  };
  std::vector<int32_t> prompt(300);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(3 + (i * 11) % 500);
  auto eng = make(true);
  sample::SamplingParams p;
  p.use_beam_search = true;
  p.n = 4;
  p.temperature = 0;
  p.max_tokens = 32;
  auto h = eng->AddRequest(prompt, p);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  RequestOutput o;
  int outs = 0;
  while ((*h)->Next(&o)) ++outs;
  EXPECT_EQ(outs, 4);
  const int shared = eng->Stats().kv_blocks_in_use_peak;
  auto plain = make(false);
  std::vector<std::unique_ptr<RequestHandle>> hs;
  sample::SamplingParams g;
  g.temperature = 0;
  g.max_tokens = 32;
  g.ignore_eos = true;
  for (int i = 0; i < 4; ++i) hs.push_back(plain->AddRequest(prompt, g).value());
  for (auto& x : hs)
    while (x->Next(&o)) {
    }
  const int separate = plain->Stats().kv_blocks_in_use_peak;
  std::printf("[ beam 4 ] peak KV blocks: beams %d, 4 separate sequences %d (saving %.1f%%)\n", shared, separate,
              100.0 * (separate - shared) / separate);
  EXPECT_LT(shared * 2, separate);
  EXPECT_EQ(eng->Stats().kv_blocks_in_use, 0);
}

}  // namespace
}  // namespace pagoda::engine
