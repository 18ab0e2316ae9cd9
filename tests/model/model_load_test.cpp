// Loading errors that need the model layer: shapes checked against config.json.

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "loader/mapped_file.h"
#include "loader/weights.h"
#include "model/model.h"

namespace pagoda::model {
namespace {

std::string CopyWithConfig(const std::string& src, const std::function<void(nlohmann::json&)>& edit) {
  char tmpl[] = "/tmp/pagoda_model_XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto cfg = loader::ReadTextFile(src + "/config.json");
  nlohmann::json j = nlohmann::json::parse(*cfg);
  edit(j);
  std::ofstream(dir + "/config.json") << j.dump();
  std::ifstream in(src + "/model.safetensors", std::ios::binary);
  std::ofstream(dir + "/model.safetensors", std::ios::binary) << in.rdbuf();
  return dir;
}

TEST(ModelLoadTest, ShapeMismatchNamesTensorExpectedAndFound) {
  const std::string src = std::string(PAGODA_SHARED_DIR) + "/models/stories260k";
  const std::string dir = CopyWithConfig(src, [](nlohmann::json& j) { j["intermediate_size"] = 173; });
  auto files = loader::ModelFiles::Open(dir);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto m = Model::Load(**files);
  ASSERT_FALSE(m.ok());
  const std::string msg = m.status().message();
  EXPECT_NE(msg.find("model.layers.0.mlp.gate_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected shape [173, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("found [172, 64]"), std::string::npos) << msg;
}

TEST(ModelLoadTest, MissingTensorIsNamed) {
  const std::string src = std::string(PAGODA_SHARED_DIR) + "/models/stories260k";
  const std::string dir = CopyWithConfig(src, [](nlohmann::json& j) { j["num_hidden_layers"] = 6; });
  auto files = loader::ModelFiles::Open(dir);
  ASSERT_TRUE(files.ok());
  auto m = Model::Load(**files);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("missing tensor 'model.layers.5.input_layernorm.weight'"), std::string::npos) << m.status().message();
}

TEST(ModelLoadTest, TiedEmbeddingsStoredEitherWay) {
  for (const char* name : {"stories260k", "tinystories-656k"}) {
    auto files = loader::ModelFiles::Open(std::string(PAGODA_SHARED_DIR) + "/models/" + name);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto m = Model::Load(**files);
    ASSERT_TRUE(m.ok()) << name << ": " << m.status().ToString();
    EXPECT_EQ((*m)->weights().lm_head, &(*m)->weights().embed) << name;
  }
}

TEST(ModelLoadTest, OutOfVocabTokenIsAnError) {
  auto files = loader::ModelFiles::Open(std::string(PAGODA_SHARED_DIR) + "/models/stories260k");
  ASSERT_TRUE(files.ok());
  auto m = Model::Load(**files);
  ASSERT_TRUE(m.ok());
  const auto& c = (*m)->config();
  backend::KvCache kv(c.num_layers, 4, 16, c.num_kv_heads, c.head_dim);
  ForwardBatch b;
  b.AddSequence({1, 512}, 0, 2, {1}, 16, false);
  std::vector<float> logits(c.vocab_size);
  ThreadPool pool(1);
  Status st = (*m)->Forward(pool, b, kv, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("token id 512"), std::string::npos);
}

}  // namespace
}  // namespace pagoda::model
