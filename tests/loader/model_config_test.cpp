#include "loader/model_config.h"

#include <gtest/gtest.h>

#include "loader/mapped_file.h"

namespace pagoda::loader {
namespace {

TEST(ModelConfigTest, ParsesSharedLlamaCheckpoint) {
  auto text = ReadTextFile(std::string(PAGODA_SHARED_DIR) + "/models/stories260k/config.json");
  ASSERT_TRUE(text.ok());
  auto c = ParseModelConfig(*text);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, Architecture::kLlama);
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 172);
  EXPECT_EQ(c->num_layers, 5);
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c->norm_eps, 1e-5);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>{2});
}

TEST(ModelConfigTest, GenerationConfigEosList) {
  auto text = ReadTextFile(std::string(PAGODA_SHARED_DIR) + "/models/stories260k/generation_config.json");
  ASSERT_TRUE(text.ok());
  auto g = ParseGenerationConfig(*text);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(g->max_length, 512);
}

TEST(ModelConfigTest, ErrorsNameTheField) {
  auto c = ParseModelConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'intermediate_size'"), std::string::npos) << c.status().message();

  c = ParseModelConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":"64"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'hidden_size' must be an integer"), std::string::npos);

  c = ParseModelConfig(R"({"architectures":["BertModel"]})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(c.status().message().find("BertModel"), std::string::npos);

  c = ParseModelConfig("{oops");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not valid JSON"), std::string::npos);

  c = ParseModelConfig(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,
                          "num_attention_heads":3,"num_key_value_heads":2,"vocab_size":10})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not a multiple"), std::string::npos);
}

TEST(ModelConfigTest, RopeScalingVariants) {
  const std::string base = R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,
                               "num_attention_heads":4,"vocab_size":10,"max_position_embeddings":64,"rope_scaling":)";
  auto c = ParseModelConfig(base + R"({"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":32}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rope.type, RopeType::kLlama3);
  EXPECT_EQ(c->rope.original_max_position_embeddings, 32);
  c = ParseModelConfig(base + R"({"type":"linear","factor":2}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->rope.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(c->rope.factor, 2.0);
  c = ParseModelConfig(base + R"({"rope_type":"longrope","factor":2}})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("longrope"), std::string::npos);
}

TEST(ModelConfigTest, Gemma3LayerPattern) {
  auto c = ParseModelConfig(R"({"architectures":["Gemma3ForCausalLM"],"hidden_size":64,"intermediate_size":8,"num_hidden_layers":7,
      "num_attention_heads":4,"num_key_value_heads":1,"head_dim":16,"vocab_size":10,"sliding_window":8,"query_pre_attn_scalar":16})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->layer_sliding, (std::vector<bool>{true, true, true, true, true, false, true}));
  EXPECT_TRUE(c->norm_weight_offset);
  EXPECT_DOUBLE_EQ(c->embedding_scale, 8.0);
  ASSERT_TRUE(c->rope_local.has_value());
  EXPECT_DOUBLE_EQ(c->rope_local->theta, 10000.0);
}

}  // namespace
}  // namespace pagoda::loader
