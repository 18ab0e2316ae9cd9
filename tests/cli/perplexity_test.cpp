// bench perplexity's scoring on the tiny HF models of tests/models, loaded
// unquantized and with online int8 (per output row) quantization: the int8
// load really holds int8 weights, scores close to the float model's, and the
// windowing scores the tokens it should.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cli/perplexity.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::cli {
namespace {

std::string TinyModel(const std::string& name) { return std::string(PAGODA_SOURCE_DIR) + "/tests/models/" + name; }

std::unique_ptr<model::Model> Load(const loader::ModelFiles& files, const std::string& quantization, bool fast = false) {
  auto lo = model::LoadOptions::FromFlags(fast, quantization);
  EXPECT_TRUE(lo.ok()) << lo.status().ToString();
  auto m = model::Model::Load(files, *lo);
  EXPECT_TRUE(m.ok()) << quantization << ": " << m.status().ToString();
  return m.ok() ? std::move(*m) : nullptr;
}

std::vector<int32_t> Ids(int64_t n, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  uint64_t s = 12345;
  for (auto& id : ids) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    id = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(vocab));
  }
  return ids;
}

double RmsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::pow(static_cast<double>(a[i]) - b[i], 2);
  return std::sqrt(s / static_cast<double>(a.size()));
}

TEST(PerplexityTest, Int8LoadHoldsInt8WeightsAndScoresCloseToFloat) {
  ThreadPool pool(2);
  for (const char* name : {"mistral-tiny", "llama-untied-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny", "gptneox-tiny"}) {
    auto files = loader::ModelFiles::Open(TinyModel(name));
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto f = Load(**files, "none");
    auto q = Load(**files, "int8");
    auto q8 = Load(**files, "q8_0");
    ASSERT_TRUE(f && q && q8) << name;
    const auto& qw = q->weights();
    EXPECT_EQ(qw.layers[0].down.dtype, loader::DType::kI8Row) << name;
    EXPECT_EQ(qw.lm_head->dtype, loader::DType::kI8Row) << name;
    EXPECT_LT(q->weight_bytes(), f->weight_bytes()) << name;

    const std::vector<int32_t> ids = Ids(200, f->config().vocab_size);
    PerplexityOptions o;
    o.context = 64;
    auto rf = ComputePerplexity(*f, pool, ids, o);
    auto rq = ComputePerplexity(*q, pool, ids, o);
    auto r8 = ComputePerplexity(*q8, pool, ids, o);
    ASSERT_TRUE(rf.ok() && rq.ok() && r8.ok()) << name;
    ASSERT_EQ(rf->tokens_scored, rq->tokens_scored);
    ASSERT_TRUE(std::isfinite(rq->perplexity())) << name;
    const double d_int8 = RmsDiff(rf->token_nll, rq->token_nll), d_q8 = RmsDiff(rf->token_nll, r8->token_nll);
    EXPECT_GT(d_int8, 0.0) << name << ": int8 weights scored exactly as the float ones";
    // One scale per row is coarser than Q8_0's one per 32 values (its max is
    // over more values), by a small factor on these Gaussian random weights.
    EXPECT_LT(d_int8, 2 * d_q8) << name << " int8 " << d_int8 << " q8_0 " << d_q8;
    EXPECT_NEAR(rq->mean_nll(), rf->mean_nll(), 0.01) << name;

    // --fast-matmul: the same int8 weights in the VNNI layout, activations rounded to int8 per 32.
    auto qf = Load(**files, "int8", true);
    ASSERT_TRUE(qf) << name;
    // (Where the CPU has no int8 kernel, the load keeps the exact path.)
    const bool has_fast = backend::HasFastKernel(loader::DType::kI8Row);
    EXPECT_EQ(qf->weights().layers[0].down.precision, has_fast ? backend::MatmulPrecision::kFast : backend::MatmulPrecision::kExact) << name;
    auto rqf = ComputePerplexity(*qf, pool, ids, o);
    ASSERT_TRUE(rqf.ok()) << name;
    if (has_fast) {
      EXPECT_GT(RmsDiff(rq->token_nll, rqf->token_nll), 0.0) << name;
    }
    EXPECT_NEAR(rqf->mean_nll(), rq->mean_nll(), 0.01) << name;
  }
}

TEST(PerplexityTest, WindowsScoreEachTokenOnceAndChunkingDoesNotMatter) {
  auto files = loader::ModelFiles::Open(TinyModel("mistral-tiny"));
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto m = Load(**files, "int8");
  ASSERT_TRUE(m);
  ThreadPool pool(2);
  const std::vector<int32_t> ids = Ids(150, m->config().vocab_size);
  PerplexityOptions o;
  o.context = 64;  // windows [0,64) [64,128) [128,150): the first token of each is not scored
  auto a = ComputePerplexity(*m, pool, ids, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->windows, 3);
  EXPECT_EQ(a->tokens_scored, 150 - 3);
  EXPECT_NEAR(a->perplexity(), std::exp(a->nll_sum / 147.0), 1e-9);

  o.chunk = 7;  // the same windows in forward passes of 7 tokens
  auto b = ComputePerplexity(*m, pool, ids, o);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->token_nll.size(), a->token_nll.size());
  for (size_t i = 0; i < a->token_nll.size(); ++i) EXPECT_NEAR(a->token_nll[i], b->token_nll[i], 1e-4) << i;

  o.chunk = 128;
  o.stride = 32;  // overlapping: every token but the first is scored once, with >= 32 tokens of context after the first window
  auto c = ComputePerplexity(*m, pool, ids, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tokens_scored, 149);
  EXPECT_EQ(c->windows, 4);  // [0,64) [32,96) [64,128) [96,150)
  // The first window's tokens are scored identically either way.
  for (size_t i = 0; i < 63; ++i) EXPECT_NEAR(a->token_nll[i], c->token_nll[i], 1e-4) << i;

  o.stride = 65;
  EXPECT_FALSE(ComputePerplexity(*m, pool, ids, o).ok());
  o.stride = 0;
  EXPECT_FALSE(ComputePerplexity(*m, pool, {1}, o).ok());
  EXPECT_FALSE(ComputePerplexity(*m, pool, {1, static_cast<int32_t>(m->config().vocab_size)}, o).ok());
}

TEST(PerplexityTest, UnknownQuantizationIsRejected) {
  EXPECT_FALSE(model::LoadOptions::FromFlags(false, "int4").ok());
  auto lo = model::LoadOptions::FromFlags(false, "int8");
  ASSERT_TRUE(lo.ok());
  EXPECT_EQ(*lo->online_quant, loader::DType::kI8Row);
}

}  // namespace
}  // namespace pagoda::cli
