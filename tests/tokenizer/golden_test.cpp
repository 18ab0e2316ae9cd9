// Golden tests: token ids and decodes from HF (tools/golden/tokenizer/make_golden.py)
// for every tokenizer in ../shared, plus llama.cpp's HF-generated test vectors.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "golden_util.h"

namespace pagoda::tokenizer {
namespace {

using testing::GoldenNames;
using testing::LoadGolden;
using testing::LoadGoldenTokenizer;

class GoldenTokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTokenizerTest, EncodeAndDecodeMatchHf) {
  const auto golden = LoadGolden(GetParam());
  auto tok = LoadGoldenTokenizer(golden.header);
  ASSERT_NE(tok, nullptr) << "cannot load " << golden.header.dump();
  int failures = 0;
  for (const auto& c : golden.cases) {
    SCOPED_TRACE(GetParam() + " / " + c.name);
    const auto ids = tok->Encode(c.text, true);
    const auto ids_plain = tok->Encode(c.text, false);
    const bool ok_ids = ids == c.ids, ok_plain = ids_plain == c.ids_plain;
    EXPECT_TRUE(ok_ids) << "add_special_tokens=true: " << testing::FirstDiff(c.ids, ids);
    EXPECT_TRUE(ok_plain) << "add_special_tokens=false: " << testing::FirstDiff(c.ids_plain, ids_plain);
    const std::string dec = tok->Decode(c.ids, false), dec_skip = tok->Decode(c.ids, true);
    const bool ok_dec = testing::MatchesDecoded(c.dec, dec), ok_skip = testing::MatchesDecoded(c.dec_skip, dec_skip);
    EXPECT_TRUE(ok_dec) << "decode: want " << c.dec.dump() << "\n got " << nlohmann::json(dec).dump();
    EXPECT_TRUE(ok_skip) << "decode skip_special: want " << c.dec_skip.dump() << "\n got "
                         << nlohmann::json(dec_skip).dump();
    if (!(ok_ids && ok_plain && ok_dec && ok_skip) && ++failures >= 6) {
      FAIL() << "stopping after 6 failing cases";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTokenizerTest, ::testing::ValuesIn(GoldenNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

// llama.cpp's vectors: .inp cases separated by "\n__ggml_vocab_test__\n", .out one
// line of ids per case, encoded by HF without special tokens.
struct VectorSet {
  const char* vectors;
  const char* tokenizer_dir;
};

class GoldenLlamaCppVectors : public ::testing::TestWithParam<VectorSet> {};

TEST_P(GoldenLlamaCppVectors, MatchHfIds) {
  const auto& p = GetParam();
  const std::string base = testing::SharedDir() + "/tokenizers/_test-vectors/llama.cpp/ggml-vocab-" + p.vectors + ".gguf";
  std::ifstream inp(base + ".inp"), out(base + ".out");
  ASSERT_TRUE(inp && out) << base;
  std::stringstream ss;
  ss << inp.rdbuf();
  const std::string all = ss.str();
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t pos = 0;
  while (true) {
    size_t next = all.find(sep, pos);
    if (next == std::string::npos) break;
    cases.push_back(all.substr(pos, next - pos));
    pos = next + sep.size();
  }
  auto r = Tokenizer::FromDirectory(testing::SharedDir() + "/tokenizers/" + p.tokenizer_dir);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& tok = *r.value();
  std::string line;
  size_t i = 0, mismatches = 0;
  for (; i < cases.size() && std::getline(out, line); ++i) {
    std::vector<int32_t> want;
    std::istringstream ls(line);
    int32_t v;
    while (ls >> v) want.push_back(v);
    const auto got = tok.Encode(cases[i], false);
    if (got != want) {
      ++mismatches;
      ADD_FAILURE() << p.vectors << " case " << i << " " << nlohmann::json(cases[i]).dump() << ": "
                    << testing::FirstDiff(want, got);
    }
  }
  EXPECT_EQ(i, cases.size());
  EXPECT_EQ(mismatches, 0u);
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenLlamaCppVectors,
                         ::testing::Values(VectorSet{"llama-spm", "tinyllama-chat"},
                                           VectorSet{"llama-bpe", "llama-3-instruct"},
                                           VectorSet{"phi-3", "phi-3-mini-instruct"},
                                           VectorSet{"qwen2", "qwen2.5-instruct"},
                                           VectorSet{"falcon", "falcon"},
                                           VectorSet{"gpt-2", "gpt2"}),
                         [](const auto& info) {
                           std::string n = info.param.vectors;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace pagoda::tokenizer
