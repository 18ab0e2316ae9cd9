// Golden tests of the forward pass against HF transformers (tools/golden/logits/).
// For every committed reference file: last-position logits per prompt, logits at
// every position for one prompt, and 32-step greedy continuations, each run
// alone, all prompts in one batch, and with block sizes 1, 16 and 32 (batch and
// layout invariance: the same numbers whatever the batch or the block tables).

#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/cpu/matmul.h"
#include "common/thread_pool.h"
#include "loader/mapped_file.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::model {
namespace {

using nlohmann::json;

const std::string kGoldenDir = std::string(PAGODA_SOURCE_DIR) + "/tests/golden/logits";

std::string HomeCache(const std::string& sub) {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/pagoda/" + sub;
}

std::string ModelsDir() {
  const char* d = std::getenv("PAGODA_MODELS_DIR");
  return d ? d : HomeCache("models");
}

struct GoldenCase {
  std::vector<int32_t> prompt;
  std::vector<int32_t> logit_ids;  // empty = all vocab
  std::vector<int32_t> greedy;
  std::vector<float> margins;
  double logit_range = 0;
  std::vector<float> logits;  // at logit_ids (or all)
};

struct Golden {
  std::string name;
  std::string model_path;  // resolved; empty when not available here
  std::string missing_why;
  std::string weights_dtype;
  int64_t vocab = 0;
  std::vector<GoldenCase> cases;
  int all_pos_case = -1;
  std::vector<float> all_pos;  // [len, vocab]
};

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

Golden LoadGolden(const std::string& file, bool hf_copy) {
  auto text = loader::ReadTextFile(kGoldenDir + "/" + file);
  EXPECT_TRUE(text.ok());
  json j = json::parse(*text);
  Golden g;
  g.name = j["name"];
  g.weights_dtype = j.value("weights_dtype", "");
  g.vocab = j["vocab_size"];
  const std::string kind = j["model"]["kind"], path = j["model"]["path"];
  if (hf_copy) {
    g.model_path = HomeCache("hf/" + j["hf_copy"].get<std::string>());
  } else if (kind == "shared") {
    g.model_path = std::string(PAGODA_SHARED_DIR) + "/" + path;
  } else if (kind == "repo") {
    g.model_path = std::string(PAGODA_SOURCE_DIR) + "/" + path;
  } else {
    g.model_path = ModelsDir() + "/" + path;
  }
  if (!loader::FileExists(g.model_path)) {
    g.missing_why = g.model_path + " is not present here";
    g.model_path.clear();
  }
  std::vector<float> all = ReadFloats(kGoldenDir + "/" + j["logits_file"].get<std::string>());
  size_t off = 0;
  for (const json& c : j["cases"]) {
    GoldenCase gc;
    gc.prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    if (!c["logit_ids"].is_null()) gc.logit_ids = c["logit_ids"].get<std::vector<int32_t>>();
    gc.greedy = c["greedy_ids"].get<std::vector<int32_t>>();
    gc.margins = c["greedy_margins"].get<std::vector<float>>();
    gc.logit_range = c["logit_range"];
    const size_t n = gc.logit_ids.empty() ? static_cast<size_t>(g.vocab) : gc.logit_ids.size();
    EXPECT_LE(off + n, all.size()) << file << ": logits file too short";
    if (off + n > all.size()) break;
    gc.logits.assign(all.begin() + off, all.begin() + off + n);
    off += n;
    g.cases.push_back(std::move(gc));
  }
  EXPECT_EQ(off, all.size()) << file << ": logits file has extra data";
  if (j.contains("all_positions") && !j["all_positions"].is_null()) {
    g.all_pos_case = j["all_positions"]["case"];
    g.all_pos = ReadFloats(kGoldenDir + "/" + j["all_positions"]["file"].get<std::string>());
  }
  return g;
}

// Runs sequences through the paged forward pass. Blocks are dealt out
// round-robin across sequences so block tables are scattered, not contiguous.
class Runner {
 public:
  Runner(Model& m, int64_t block_size, int64_t max_tokens_per_seq, int64_t num_seqs, ThreadPool& pool)
      : m_(m), bs_(block_size), pool_(pool) {
    const auto& c = m.config();
    const int64_t per_seq = (max_tokens_per_seq + bs_ - 1) / bs_;
    kv_ = std::make_unique<backend::KvCache>(c.num_layers, 1 + per_seq * num_seqs, bs_, c.num_kv_heads, c.head_dim);
    tables_.resize(num_seqs);
    for (int64_t b = 0; b < per_seq; ++b)
      for (int64_t s = 0; s < num_seqs; ++s) tables_[s].push_back(static_cast<int32_t>(1 + b * num_seqs + s));
    tokens_.resize(num_seqs);
    computed_.assign(num_seqs, 0);
  }

  void SetPrompt(int64_t s, const std::vector<int32_t>& p) { tokens_[s] = p; }
  void Append(int64_t s, int32_t t) { tokens_[s].push_back(t); }

  // One step over the given sequences: every not-yet-computed token of each.
  // Returns logits rows (last token of each, or every new token when all_logits).
  std::vector<std::vector<float>> Step(const std::vector<int64_t>& seqs, bool all_logits = false) {
    ForwardBatch b;
    for (int64_t s : seqs) {
      const int32_t n_new = static_cast<int32_t>(tokens_[s].size()) - computed_[s];
      b.AddSequence(tokens_[s], computed_[s], n_new, tables_[s], static_cast<int32_t>(bs_), all_logits);
      computed_[s] += n_new;
    }
    const int64_t V = m_.config().vocab_size;
    std::vector<float> logits(b.logits_indices.size() * V);
    Status st = m_.Forward(pool_, b, *kv_, logits.data());
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::vector<std::vector<float>> rows(b.logits_indices.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i].assign(logits.begin() + i * V, logits.begin() + (i + 1) * V);
    return rows;
  }

 private:
  Model& m_;
  int64_t bs_;
  ThreadPool& pool_;
  std::unique_ptr<backend::KvCache> kv_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<std::vector<int32_t>> tokens_;
  std::vector<int32_t> computed_;
};

int32_t Argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// Max |ours - reference| over the stored ids, relative to the case's logit range.
double RelDiff(const GoldenCase& gc, const std::vector<float>& ours) {
  double worst = 0;
  for (size_t i = 0; i < gc.logits.size(); ++i) {
    const int32_t id = gc.logit_ids.empty() ? static_cast<int32_t>(i) : gc.logit_ids[i];
    worst = std::max(worst, std::abs(static_cast<double>(ours[id]) - gc.logits[i]));
  }
  return worst / std::max(gc.logit_range, 1e-6);
}

// fp32 compute over weights that are exactly representable in fp32 (F32, BF16,
// and GGUF blocks dequantized the same way by both): the only differences are
// summation order, so 1e-4 of the logit range holds.
constexpr double kTol = 1e-4;

struct Param {
  std::string file;
  bool hf_copy;
};
void PrintTo(const Param& p, std::ostream* os) { *os << p.file << (p.hf_copy ? " (HF copy)" : ""); }

std::vector<Param> ListGoldens() {
  std::vector<Param> out;
  if (DIR* d = ::opendir(kGoldenDir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) out.push_back({n, false});
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end(), [](const Param& a, const Param& b) { return a.file < b.file; });
  std::vector<Param> with_copies = out;
  for (const Param& p : out) {
    auto text = loader::ReadTextFile(kGoldenDir + "/" + p.file);
    if (text.ok() && !json::parse(*text)["hf_copy"].is_null()) with_copies.push_back({p.file, true});
  }
  return with_copies;
}

class GoldenLogits : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    g_ = LoadGolden(GetParam().file, GetParam().hf_copy);
    if (g_.model_path.empty()) GTEST_SKIP() << g_.missing_why << " (fetch it with the scripts in scripts/ or tools/golden/)";
    auto files = loader::ModelFiles::Open(g_.model_path);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    files_ = std::move(*files);
    auto m = Model::Load(*files_);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = std::move(*m);
    ASSERT_EQ(model_->config().vocab_size, g_.vocab);
  }

  int64_t MaxLen() const {
    size_t n = 0;
    for (const auto& c : g_.cases) n = std::max(n, c.prompt.size() + c.greedy.size());
    return static_cast<int64_t>(n) + 1;
  }

  Golden g_;
  std::unique_ptr<loader::ModelFiles> files_;
  std::unique_ptr<Model> model_;
  ThreadPool pool_{2};
};

TEST_P(GoldenLogits, PrefillLogitsAloneBatchedAndAcrossBlockSizes) {
  const int64_t n = static_cast<int64_t>(g_.cases.size());
  std::vector<int64_t> all(n);
  for (int64_t i = 0; i < n; ++i) all[i] = i;
  double worst = 0;
  std::vector<std::vector<float>> alone(n);
  for (int64_t bs : {16, 1, 32}) {
    // One at a time.
    for (int64_t i = 0; i < n; ++i) {
      Runner r(*model_, bs, MaxLen(), 1, pool_);
      r.SetPrompt(0, g_.cases[i].prompt);
      auto rows = r.Step({0});
      const double d = RelDiff(g_.cases[i], rows[0]);
      worst = std::max(worst, d);
      EXPECT_LE(d, kTol) << g_.name << " case " << i << " (len " << g_.cases[i].prompt.size() << ") block_size " << bs;
      if (bs == 16) alone[i] = rows[0];
      else EXPECT_EQ(rows[0], alone[i]) << g_.name << " case " << i << ": block size " << bs << " changed the logits";
    }
    // All in one batch.
    Runner r(*model_, bs, MaxLen(), n, pool_);
    for (int64_t i = 0; i < n; ++i) r.SetPrompt(i, g_.cases[i].prompt);
    auto rows = r.Step(all);
    for (int64_t i = 0; i < n; ++i)
      EXPECT_EQ(rows[i], alone[i]) << g_.name << " case " << i << ": batching changed the logits (block size " << bs << ")";
  }
  std::printf("[ %s%s ] max |logit diff| / logit range = %.3g (weights %s)\n", g_.name.c_str(), GetParam().hf_copy ? " (HF copy)" : "",
              worst, g_.weights_dtype.c_str());
}

TEST_P(GoldenLogits, AllPositionLogits) {
  if (g_.all_pos_case < 0) GTEST_SKIP() << "no all-position reference for " << g_.name;
  const GoldenCase& gc = g_.cases[g_.all_pos_case];
  Runner r(*model_, 16, MaxLen(), 1, pool_);
  r.SetPrompt(0, gc.prompt);
  auto rows = r.Step({0}, true);
  ASSERT_EQ(rows.size(), gc.prompt.size());
  ASSERT_EQ(g_.all_pos.size(), gc.prompt.size() * g_.vocab);
  double worst = 0;
  for (size_t p = 0; p < rows.size(); ++p) {
    float lo = 1e30f, hi = -1e30f;
    for (int64_t v = 0; v < g_.vocab; ++v) {
      lo = std::min(lo, g_.all_pos[p * g_.vocab + v]);
      hi = std::max(hi, g_.all_pos[p * g_.vocab + v]);
    }
    for (int64_t v = 0; v < g_.vocab; ++v)
      worst = std::max(worst, std::abs(static_cast<double>(rows[p][v]) - g_.all_pos[p * g_.vocab + v]) / std::max(hi - lo, 1e-6f));
  }
  EXPECT_LE(worst, kTol) << g_.name;
}

TEST_P(GoldenLogits, GreedyContinuationsAloneAndBatched) {
  const int64_t n = static_cast<int64_t>(g_.cases.size());
  if (g_.cases.empty() || g_.cases[0].greedy.empty()) GTEST_SKIP() << g_.name << " has no greedy reference";
  const size_t steps = g_.cases[0].greedy.size();
  auto check = [&](const std::vector<std::vector<int32_t>>& got, const char* how) {
    for (int64_t i = 0; i < n; ++i) {
      const auto& want = g_.cases[i].greedy;
      size_t first_diff = 0;
      while (first_diff < want.size() && first_diff < got[i].size() && got[i][first_diff] == want[first_diff]) ++first_diff;
      EXPECT_EQ(got[i], want) << g_.name << " case " << i << " " << how << ": first difference at step " << first_diff
                              << (first_diff < want.size() ? " (HF top-2 margin there " + std::to_string(g_.cases[i].margins[first_diff]) + ")" : "");
    }
  };
  // One sequence at a time, block size 16.
  std::vector<std::vector<int32_t>> got(n);
  for (int64_t i = 0; i < n; ++i) {
    Runner r(*model_, 16, MaxLen(), 1, pool_);
    r.SetPrompt(0, g_.cases[i].prompt);
    for (size_t s = 0; s < steps; ++s) {
      const int32_t t = Argmax(r.Step({0})[0]);
      got[i].push_back(t);
      r.Append(0, t);
    }
  }
  check(got, "alone");
  // All together, decoding in one batch every step; block size 1 then 32.
  for (int64_t bs : {1, 32}) {
    std::vector<std::vector<int32_t>> batched(n);
    Runner r(*model_, bs, MaxLen(), n, pool_);
    std::vector<int64_t> all(n);
    for (int64_t i = 0; i < n; ++i) {
      all[i] = i;
      r.SetPrompt(i, g_.cases[i].prompt);
    }
    for (size_t s = 0; s < steps; ++s) {
      auto rows = r.Step(all);
      for (int64_t i = 0; i < n; ++i) {
        const int32_t t = Argmax(rows[i]);
        batched[i].push_back(t);
        r.Append(i, t);
      }
    }
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(batched[i], got[i]) << g_.name << " case " << i << ": batched (block size " << bs << ") differs from alone";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenLogits, ::testing::ValuesIn(ListGoldens()), [](const auto& info) {
  std::string n = info.param.file.substr(0, info.param.file.size() - 5);
  if (info.param.hf_copy) n += "_hfcopy";
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

// The ctest entries model.golden.avx2 / .portable set PAGODA_MATMUL_TIER: the
// logits above then come from that tier only if it is really the one running.
TEST(GoldenTier, RequestedMatmulTierIsTheOneRunning) {
  const char* tier = std::getenv("PAGODA_MATMUL_TIER");
  const std::string name = backend::MatMulKernelName();
  if (tier == nullptr) GTEST_SKIP() << "default tier: " << name;
  if (std::string(tier) == "avx2") {
    EXPECT_EQ(name, "avx2+fma");
  } else if (std::string(tier) == "portable") {
    EXPECT_EQ(name.rfind("portable", 0), 0u) << name;
  }
}

}  // namespace
}  // namespace pagoda::model
