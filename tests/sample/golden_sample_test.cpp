// Golden tests against HF transformers' logits processors and torch.log_softmax
// on the same logits (tests/golden/sample/, made by tools/golden/sample/gen_sample.py).
//  - every processor case: the same tokens filtered (exactly), the kept logits
//    within float rounding;
//  - every sampling case: draws follow softmax(HF's processed logits) (chi-square,
//    same false-failure rate as statistics_test.cpp);
//  - logprob cases: logprob, rank and top-k list of torch.log_softmax / torch.topk.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sample/logprobs.h"
#include "sample/sampler.h"
#include "sample_test_util.h"

namespace pagoda::sample {
namespace {

using nlohmann::json;

struct Golden {
  json meta;
  std::vector<float> data;
};

const Golden& Load() {
  static const Golden g = [] {
    Golden out;
    const std::filesystem::path dir = std::filesystem::path(PAGODA_SOURCE_DIR) / "tests/golden/sample";
    std::ifstream jf(dir / "sample.json");
    std::stringstream ss;
    ss << jf.rdbuf();
    out.meta = json::parse(ss.str(), nullptr, false);
    std::ifstream bf(dir / "sample.bin", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(bf)), std::istreambuf_iterator<char>());
    out.data.resize(bytes.size() / 4);
    std::memcpy(out.data.data(), bytes.data(), out.data.size() * 4);  // little-endian hosts
    return out;
  }();
  return g;
}

SamplingParams ParamsFromJson(const json& j) {
  SamplingParams p;
  p.temperature = j.value("temperature", 1.0);
  p.top_p = j.value("top_p", 1.0);
  p.top_k = j.value("top_k", 0);
  p.min_p = j.value("min_p", 0.0);
  p.repetition_penalty = j.value("repetition_penalty", 1.0);
  p.frequency_penalty = j.value("frequency_penalty", 0.0);
  p.presence_penalty = j.value("presence_penalty", 0.0);
  p.min_tokens = j.value("min_tokens", 0);
  p.ignore_eos = j.value("ignore_eos", false);
  if (j.contains("logit_bias"))
    for (const auto& [k, v] : j["logit_bias"].items()) p.logit_bias[std::stoi(k)] = v.get<double>();
  if (j.contains("allowed_token_ids")) p.allowed_token_ids = j["allowed_token_ids"].get<std::vector<int32_t>>();
  if (j.contains("bad_words_ids")) p.bad_words_ids = j["bad_words_ids"].get<std::vector<std::vector<int32_t>>>();
  if (j.contains("stop_token_ids")) p.stop_token_ids = j["stop_token_ids"].get<std::vector<int32_t>>();
  return p;
}

struct Case {
  std::string name;
  SamplingParams params;
  std::vector<int32_t> prompt, output, eos;
  std::vector<float> logits, expected;
};

std::vector<Case> Cases() {
  const Golden& g = Load();
  std::vector<Case> cases;
  for (const json& c : g.meta["processor_cases"]) {
    Case k;
    k.name = c["name"];
    k.params = ParamsFromJson(c["params"]);
    k.prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    k.output = c["output_ids"].get<std::vector<int32_t>>();
    k.eos = c["eos_ids"].get<std::vector<int32_t>>();
    const size_t V = c["vocab_size"], lo = c["logits_offset"], eo = c["expected_offset"];
    k.logits.assign(g.data.begin() + lo, g.data.begin() + lo + V);
    k.expected.assign(g.data.begin() + eo, g.data.begin() + eo + V);
    cases.push_back(std::move(k));
  }
  return cases;
}

SamplingRow RowOf(const Case& c) {
  SamplingRow r;
  r.params = &c.params;
  r.prompt_ids = c.prompt;
  r.output_ids = c.output;
  r.eos_ids = c.eos;
  return r;
}

TEST(GoldenSample, FilesLoad) {
  const Golden& g = Load();
  ASSERT_FALSE(g.meta.is_discarded()) << "tests/golden/sample/sample.json";
  EXPECT_EQ(g.data.size(), g.meta["total_floats"].get<size_t>());
  EXPECT_GE(g.meta["processor_cases"].size(), 20u);
  EXPECT_GE(g.meta["logprob_cases"].size(), 3u);
}

TEST(GoldenSample, ProcessorChainMatchesHf) {
  Sampler sampler;
  int n = 0;
  for (const Case& c : Cases()) {
    std::vector<float> row = c.logits;
    sampler.ProcessLogits(row, RowOf(c));
    int mismatched_masks = 0;
    double worst = 0;
    for (size_t i = 0; i < row.size(); ++i) {
      const bool a = row[i] == kNegInf, b = std::isinf(c.expected[i]) && c.expected[i] < 0;
      if (a != b) {
        ++mismatched_masks;
        continue;
      }
      if (!a) worst = std::max(worst, static_cast<double>(std::fabs(row[i] - c.expected[i]) / std::max(1.0f, std::fabs(c.expected[i]))));
    }
    EXPECT_EQ(mismatched_masks, 0) << c.name;
    EXPECT_LT(worst, 2e-6) << c.name;
    ++n;
  }
  EXPECT_GE(n, 20);
}

TEST(GoldenSample, DrawsFollowHfProcessedDistribution) {
  Sampler sampler;
  int n = 0;
  for (const Case& c : Cases()) {
    if (c.params.temperature < kSamplingEps) continue;
    const int64_t V = static_cast<int64_t>(c.logits.size());
    const int kDraws = V <= 512 ? 20000 : 8000;
    std::vector<SamplingParams> params(kDraws, c.params);
    std::vector<SamplingRow> rows(kDraws, RowOf(c));
    for (int i = 0; i < kDraws; ++i) {
      params[i].seed = static_cast<uint64_t>(i) + 1000;
      rows[i].params = &params[i];
    }
    std::vector<int64_t> counts(V, 0);
    const int kChunk = 1000;
    std::vector<float> batch(kChunk * V);
    for (int start = 0; start < kDraws; start += kChunk) {
      for (int i = 0; i < kChunk; ++i) std::copy(c.logits.begin(), c.logits.end(), batch.begin() + i * V);
      for (const SampleResult& r : sampler.Sample(batch.data(), V, std::span(rows).subspan(start, kChunk)))
        ++counts[r.token];
    }
    const auto target = testing::Softmax(c.expected);
    const auto r = testing::ChiSquare(counts, target);
    std::printf("  %-34s chi2 %8.2f  dof %3d  p %.4f\n", c.name.c_str(), r.stat, r.dof, r.p_value);
    EXPECT_EQ(r.impossible, 0) << c.name;
    EXPECT_GE(r.p_value, testing::kChiSquareAlpha) << c.name << ": chi2 " << r.stat << " dof " << r.dof;
    ++n;
  }
  EXPECT_GE(n, 15);
}

TEST(GoldenSample, LogprobsMatchTorchLogSoftmax) {
  const Golden& g = Load();
  std::vector<TokenLogprob> heap;
  int n = 0;
  for (const json& c : g.meta["logprob_cases"]) {
    const size_t V = c["vocab_size"], off = c["logits_offset"];
    const int k = c["num_top"];
    std::span<const float> row(g.data.data() + off, V);
    for (const json& t : c["tokens"]) {
      SampleResult r;
      ComputeLogprobs(row, t["token"].get<int32_t>(), k, &r, heap);
      EXPECT_NEAR(r.logprob, t["logprob"].get<double>(), 2e-5) << "vocab " << V;
      EXPECT_EQ(r.rank, t["rank"].get<int>()) << "vocab " << V;
      const auto ids = t["top_ids"].get<std::vector<int32_t>>();
      const auto lps = t["top_logprobs"].get<std::vector<double>>();
      ASSERT_EQ(r.top.size(), ids.size());
      for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(r.top[i].token, ids[i]);
        EXPECT_NEAR(r.top[i].logprob, lps[i], 2e-5);
      }
      ++n;
    }
    // Through the sampler: a greedy row asking for k logprobs.
    SamplingParams p;
    p.temperature = 0;
    p.logprobs = k;
    SamplingRow sr;
    sr.params = &p;
    std::vector<float> copy(row.begin(), row.end());
    Sampler sampler;
    const SampleResult out = sampler.Sample(copy.data(), static_cast<int64_t>(V), std::span(&sr, 1))[0];
    EXPECT_EQ(out.token, c["tokens"][0]["token"].get<int32_t>());
    EXPECT_NEAR(out.logprob, c["tokens"][0]["logprob"].get<double>(), 2e-5);
    EXPECT_EQ(out.rank, 1);
  }
  EXPECT_GE(n, 9);
}

}  // namespace
}  // namespace pagoda::sample
