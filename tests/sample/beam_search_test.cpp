// BeamSearch: a hand-worked example, and golden runs against HF
// generate(num_beams=k) on a table "model" (tests/golden/sample/beam.json, made
// by tools/golden/sample/gen_beam.py).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sample/beam_search.h"
#include "sample/logprobs.h"

namespace pagoda::sample {
namespace {

std::vector<TokenLogprob> C(std::initializer_list<std::pair<int32_t, float>> l) {
  std::vector<TokenLogprob> v;
  for (auto [t, lp] : l) v.push_back({t, lp});
  return v;
}

TEST(BeamSearch, HandWorkedSteps) {
  BeamSearchConfig cfg;
  cfg.num_beams = 2;
  cfg.length_penalty = 1.0;
  cfg.early_stopping = EarlyStopping::kTrue;
  cfg.max_new_tokens = 5;
  cfg.eos_ids = {2};
  ASSERT_TRUE(cfg.Validate().ok());
  EXPECT_EQ(cfg.candidates_per_beam(), 4);
  BeamSearch bs(cfg);

  // Step 1: only beam 0 is live (beam 1 starts at -1e9). eos comes third: only
  // the first num_beams continuations may finish, so nothing finishes.
  const auto first = C({{0, -0.1f}, {1, -2.5f}, {2, -3.0f}, {3, -4.0f}});
  std::vector<std::vector<TokenLogprob>> cands = {first, first};
  auto choices = bs.Step(cands);
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].parent, 0);
  EXPECT_EQ(choices[0].token, 0);
  EXPECT_EQ(choices[1].parent, 0);
  EXPECT_EQ(choices[1].token, 1);
  EXPECT_FLOAT_EQ(bs.running()[0].score, -0.1f);
  EXPECT_FLOAT_EQ(bs.running()[1].score, -2.5f);
  EXPECT_TRUE(bs.Finished().empty());

  // Step 2: beam 0 ([0], -0.1) ends with eos at -0.3 in all: finished with
  // -0.3 / 2; the running beams are the best two that did not stop.
  cands = {C({{2, -0.2f}, {0, -1.0f}, {1, -2.0f}, {3, -5.0f}}), C({{0, -0.1f}, {2, -0.3f}, {1, -3.0f}, {3, -6.0f}})};
  choices = bs.Step(cands);
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].parent, 0);
  EXPECT_EQ(choices[0].token, 0);
  EXPECT_EQ(choices[1].parent, 0);
  EXPECT_EQ(choices[1].token, 1);
  EXPECT_EQ(bs.running()[1].tokens, (std::vector<int32_t>{0, 1}));
  auto fin = bs.Finished();
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].tokens, (std::vector<int32_t>{0, 2}));
  EXPECT_FLOAT_EQ(fin[0].score, -0.3f / 2);
  EXPECT_FALSE(bs.done());

  // Step 3: both top continuations end: with early_stopping=true and both
  // slots full the search is done.
  cands = {C({{2, -0.05f}, {0, -3.0f}, {1, -4.0f}, {3, -5.0f}}), C({{2, -0.1f}, {0, -3.0f}, {1, -4.0f}, {3, -5.0f}})};
  choices = bs.Step(cands);
  EXPECT_TRUE(choices.empty());
  EXPECT_TRUE(bs.done());
  fin = bs.Finished();
  ASSERT_EQ(fin.size(), 2u);
  EXPECT_EQ(fin[0].tokens, (std::vector<int32_t>{0, 2}));  // -0.15 beats (-1.1 - 0.05) / 3
  EXPECT_EQ(fin[1].tokens, (std::vector<int32_t>{0, 0, 2}));
  EXPECT_FLOAT_EQ(fin[1].score, (-0.1f - 1.0f - 0.05f) / 3);
}

TEST(GoldenBeamSearch, MatchesHfGenerate) {
  const std::filesystem::path p = std::filesystem::path(PAGODA_SOURCE_DIR) / "tests/golden/sample/beam.json";
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  const auto meta = nlohmann::json::parse(ss.str(), nullptr, false);
  ASSERT_FALSE(meta.is_discarded()) << p;
  const int V = meta["vocab_size"];
  int n = 0;
  for (const auto& c : meta["cases"]) {
    BeamSearchConfig cfg;
    cfg.num_beams = c["num_beams"];
    cfg.length_penalty = c["length_penalty"];
    const std::string es = c["early_stopping"];
    cfg.early_stopping = es == "true" ? EarlyStopping::kTrue : es == "never" ? EarlyStopping::kNever : EarlyStopping::kHeuristic;
    cfg.max_new_tokens = c["max_new_tokens"];
    cfg.eos_ids = c["eos_ids"].get<std::vector<int32_t>>();
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto t = c["t"].get<std::vector<float>>();
    const auto u = c["u"].get<std::vector<float>>();
    BeamSearch bs(cfg);
    std::vector<TokenLogprob> heap;
    for (int step = 0; step < cfg.max_new_tokens && !bs.done(); ++step) {
      std::vector<std::vector<TokenLogprob>> cands;
      for (const Beam& b : bs.running()) {
        std::vector<int32_t> seq = prompt;
        seq.insert(seq.end(), b.tokens.begin(), b.tokens.end());
        const int32_t last = seq.back(), prev = seq[seq.size() - 2];
        std::vector<float> logits(V);
        for (int v = 0; v < V; ++v) logits[v] = t[last * V + v] + u[prev * V + v];
        SampleResult r;
        ComputeLogprobs(logits, 0, cfg.candidates_per_beam(), &r, heap);
        cands.push_back(r.top);
      }
      bs.Step(cands);
    }
    EXPECT_TRUE(bs.done());
    const auto fin = bs.Finished();
    const auto& hyps = c["hypotheses"];
    ASSERT_EQ(fin.size(), hyps.size()) << "case " << n;
    for (size_t i = 0; i < fin.size(); ++i) {
      EXPECT_EQ(fin[i].tokens, hyps[i]["tokens"].get<std::vector<int32_t>>()) << "case " << n << " hypothesis " << i;
      EXPECT_NEAR(fin[i].score, hyps[i]["score"].get<double>(), 1e-4) << "case " << n << " hypothesis " << i;
    }
    ++n;
  }
  EXPECT_GE(n, 8);
}

}  // namespace
}  // namespace pagoda::sample
