// IncrementalDetokenizer: for every golden case of every tokenizer, the streamed
// pieces join to exactly Decode(ids) (itself checked against HF by golden_test),
// with and without skip_special_tokens, and with a prompt as context.

#include <gtest/gtest.h>

#include "golden_util.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

class GoldenDetokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenDetokenizerTest, StreamJoinsToDecode) {
  const auto golden = testing::LoadGolden(GetParam());
  auto tok = testing::LoadGoldenTokenizer(golden.header);
  ASSERT_NE(tok, nullptr);
  int failures = 0;
  for (const auto& c : golden.cases) {
    for (bool skip : {false, true}) {
      SCOPED_TRACE(GetParam() + " / " + c.name + (skip ? " (skip special)" : ""));
      IncrementalDetokenizer detok(*tok, skip);
      std::string joined;
      for (int32_t id : c.ids) {
        std::string piece = detok.Push(id);
        // A piece never ends inside a UTF-8 character.
        EXPECT_EQ(IncompleteUtf8Suffix(piece), 0u);
        joined += piece;
      }
      joined += detok.Flush();
      const std::string want = tok->Decode(c.ids, skip);
      EXPECT_EQ(joined, want);
      if (joined != want && ++failures > 4) FAIL() << "stopping";

      // With the first half as the prompt: the stream is the rest of the decode.
      const size_t k = c.ids.size() / 2;
      std::span<const int32_t> all(c.ids);
      const std::string prompt_text = tok->Decode(all.subspan(0, k), skip);
      if (want.compare(0, prompt_text.size(), prompt_text) != 0) continue;  // prompt ends mid-character
      IncrementalDetokenizer with_prompt(*tok, skip, all.subspan(0, k));
      std::string rest;
      for (size_t i = k; i < c.ids.size(); ++i) rest += with_prompt.Push(c.ids[i]);
      rest += with_prompt.Flush();
      EXPECT_EQ(rest, want.substr(prompt_text.size()));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenDetokenizerTest, ::testing::ValuesIn(testing::GoldenNames()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace pagoda::tokenizer
