#include "loader/gguf_file.h"

#include <gtest/gtest.h>

#include "loader/weights.h"
#include "test_files.h"

namespace pagoda::loader {
namespace {

using testing::GgufWriter;
using testing::WriteBytes;

// A valid file: 2 metadata keys, one F32 tensor [2, 32] and one Q8_0 tensor [1, 32].
std::string ValidGguf(uint32_t version = 3) {
  GgufWriter w(version);
  w.Counts(2, 3);
  w.KvStr("general.architecture", "llama");
  w.KvU32("llama.block_count", 1);
  w.Str("tokenizer.ggml.tokens");
  w.U32(9);  // array
  w.U32(8);  // of strings
  w.U64(2);
  w.Str("a");
  w.Str("b");
  w.TensorInfo("f", {32, 2}, 0, 0);
  w.TensorInfo("q", {32, 1}, 8, 256);
  w.AlignTo(32);
  std::string data(256 + 34, '\0');
  float one = 1.0f;
  std::memcpy(data.data() + 4, &one, 4);  // f[0][1] = 1
  uint16_t d = 0x3c00;                     // f16 1.0
  std::memcpy(data.data() + 256, &d, 2);
  data[256 + 2] = 5;                       // q[0] = 5
  w.bytes() += data;
  return w.bytes();
}

class GgufTest : public ::testing::Test {
 protected:
  std::string path_ = testing::TempDir() + "/m.gguf";
  std::string Error(const std::string& bytes) {
    WriteBytes(path_, bytes);
    auto r = GgufFile::Open(path_);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }
};

TEST_F(GgufTest, ReadsMetadataAndTensors) {
  for (uint32_t v : {2u, 3u}) {
    WriteBytes(path_, ValidGguf(v));
    auto g = GgufFile::Open(path_);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ((*g)->GetString("general.architecture"), "llama");
    EXPECT_EQ((*g)->GetInt("llama.block_count"), 1);
    ASSERT_NE((*g)->GetStringArray("tokenizer.ggml.tokens"), nullptr);
    EXPECT_EQ((*g)->GetStringArray("tokenizer.ggml.tokens")->at(1), "b");
    const TensorView* f = (*g)->FindTensor("f");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->shape, (std::vector<int64_t>{2, 32}));  // ggml ne reversed
    EXPECT_EQ(reinterpret_cast<const float*>(f->data)[1], 1.0f);
    const TensorView* q = (*g)->FindTensor("q");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->dtype, DType::kQ8_0);
    float row[32];
    DequantizeRow(q->dtype, q->data, row, 32);
    EXPECT_EQ(row[0], 5.0f);
    EXPECT_EQ(row[1], 0.0f);
  }
}

TEST_F(GgufTest, BadMagicAndVersion) {
  std::string b = ValidGguf();
  b[0] = 'X';
  EXPECT_NE(Error(b).find("bad magic"), std::string::npos);
  EXPECT_NE(Error(ValidGguf(1)).find("version 1"), std::string::npos);
}

TEST_F(GgufTest, TruncatedAnywhereIsAnErrorNotACrash) {
  const std::string full = ValidGguf();
  for (size_t n = 0; n < full.size(); n += (n < 200 ? 1 : 17)) {
    std::string msg = Error(full.substr(0, n));
    EXPECT_FALSE(msg.empty()) << "cut at " << n;
  }
}

TEST_F(GgufTest, ImplausibleLengths) {
  GgufWriter w;
  w.Counts(0, 1);
  w.U64(1ull << 50);  // key length
  w.bytes() += std::string(64, '\0');
  EXPECT_NE(Error(w.bytes()).find("implausible"), std::string::npos);

  GgufWriter a;
  a.Counts(0, 1);
  a.Str("k");
  a.U32(9);
  a.U32(4);
  a.U64(1ull << 40);
  EXPECT_NE(Error(a.bytes()).find("array elements"), std::string::npos);

  GgufWriter c;
  c.Counts(1ull << 40, 0);
  EXPECT_NE(Error(c.bytes()).find("tensor count"), std::string::npos);
}

TEST_F(GgufTest, TensorOutsideFile) {
  GgufWriter w;
  w.Counts(1, 0);
  w.TensorInfo("t", {32}, 0, 1024);
  w.AlignTo(32);
  w.bytes() += std::string(64, '\0');
  std::string msg = Error(w.bytes());
  EXPECT_NE(msg.find("tensor 't'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("outside the data section"), std::string::npos) << msg;
}

TEST_F(GgufTest, UnsupportedTypeAndBadShape) {
  GgufWriter w;
  w.Counts(1, 0);
  w.TensorInfo("t", {256}, 11, 0);  // Q3_K
  w.bytes() += std::string(64, '\0');
  std::string msg = Error(w.bytes());
  EXPECT_NE(msg.find("Q3_K"), std::string::npos) << msg;

  GgufWriter s;
  s.Counts(1, 0);
  s.TensorInfo("t", {33}, 8, 0);  // Q8_0 rows must be multiples of 32
  s.bytes() += std::string(64, '\0');
  EXPECT_NE(Error(s.bytes()).find("not a multiple"), std::string::npos);

  GgufWriter z;
  z.Counts(1, 0);
  z.TensorInfo("t", {0}, 0, 0);
  z.bytes() += std::string(64, '\0');
  EXPECT_NE(Error(z.bytes()).find("dimension 0"), std::string::npos);

  GgufWriter m;
  m.Counts(1, 0);
  m.TensorInfo("t", {32}, 0, 3);
  m.AlignTo(32);
  m.bytes() += std::string(256, '\0');
  EXPECT_NE(Error(m.bytes()).find("not aligned"), std::string::npos);
}

TEST(GgufNames, MapsOntoHuggingFaceNames) {
  EXPECT_EQ(GgufToHfName(Architecture::kLlama, "blk.3.attn_q.weight"), "model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(GgufToHfName(Architecture::kLlama, "blk.0.ffn_norm.weight"), "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(GgufToHfName(Architecture::kGemma3, "blk.0.ffn_norm.weight"), "model.layers.0.pre_feedforward_layernorm.weight");
  EXPECT_EQ(GgufToHfName(Architecture::kGemma3, "blk.1.post_ffw_norm.weight"), "model.layers.1.post_feedforward_layernorm.weight");
  EXPECT_EQ(GgufToHfName(Architecture::kLlama, "token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(GgufToHfName(Architecture::kLlama, "rope_freqs.weight"), "");
}

TEST(DefaultModel, GgufOpensWithExpectedConfig) {
  const char* p = std::getenv("PAGODA_DEFAULT_MODEL");
  if (p == nullptr) GTEST_SKIP() << "PAGODA_DEFAULT_MODEL not set (scripts/test.sh sets it)";
  auto mf = ModelFiles::Open(p);
  ASSERT_TRUE(mf.ok()) << mf.status().ToString();
  const ModelConfig& c = (*mf)->config();
  EXPECT_EQ(c.arch, Architecture::kLlama);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_TRUE(c.tie_word_embeddings);
  ASSERT_NE((*mf)->Find("model.layers.0.self_attn.q_proj.weight"), nullptr);
  EXPECT_EQ((*mf)->Find("model.layers.0.self_attn.q_proj.weight")->unpermute_heads, 9);
}

}  // namespace
}  // namespace pagoda::loader
