// Unit tests on small hand-built tokenizers: behaviors the shared tokenizers do
// not exercise (split behaviors, lstrip/rstrip, Unigram, errors), plus UTF-8
// helpers. Expected values follow HF tokenizers' documented semantics.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/bench.h"
#include "tokenizer/incremental_detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;

// A word-level-like BPE: every listed word is a vocab entry, no merges needed.
json WordVocab(const std::vector<std::string>& words) {
  json vocab = json::object();
  for (size_t i = 0; i < words.size(); ++i) vocab[words[i]] = static_cast<int>(i);
  return {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}, {"ignore_merges", true}};
}

std::unique_ptr<Tokenizer> Make(const json& tj, const json& cfg = json()) {
  auto r = Tokenizer::FromJson(tj, cfg);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  EXPECT_EQ(Utf8Lossy("a\xE2\x82" "b"), "a\xEF\xBF\xBD" "b");  // truncated 3-byte sequence: one U+FFFD
  EXPECT_EQ(Utf8Lossy("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // two stray continuations
  EXPECT_EQ(Utf8Lossy("\xE2\x82\xAC"), "\xE2\x82\xAC");
  EXPECT_EQ(IncompleteUtf8Suffix("x\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteUtf8Suffix("x\xF0\x9F\x98\x80"), 0u);
}

TEST(SplitTest, BehaviorsOnSpaces) {
  const std::vector<std::string> words = {"a", " ", "b", "a ", " b", "a b"};
  auto ids_for = [&](const char* behavior, bool invert) {
    json tj = {{"model", WordVocab(words)},
               {"pre_tokenizer",
                {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", behavior}, {"invert", invert}}}};
    return Make(tj)->Encode("a b", false);
  };
  EXPECT_EQ(ids_for("Isolated", false), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(ids_for("Removed", false), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(ids_for("MergedWithPrevious", false), (std::vector<int32_t>{3, 2}));
  EXPECT_EQ(ids_for("MergedWithNext", false), (std::vector<int32_t>{0, 4}));
  EXPECT_EQ(ids_for("Contiguous", false), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(ids_for("Removed", true), (std::vector<int32_t>{1}));  // invert: keep only the matches
}

TEST(AddedTokensTest, LstripRstripAndLongestMatch) {
  json tj = {{"model", WordVocab({"x", " ", "<a>", "<ab>"})},
             {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
             {"added_tokens",
              json::array({{{"id", 10}, {"content", "<a>"}, {"special", true}, {"lstrip", true}, {"rstrip", true},
                            {"single_word", false}, {"normalized", false}},
                           {{"id", 11}, {"content", "<ab>"}, {"special", false}, {"lstrip", false},
                            {"rstrip", false}, {"single_word", false}, {"normalized", false}}})}};
  auto tok = Make(tj);
  EXPECT_EQ(tok->Encode("x  <a>  x", false), (std::vector<int32_t>{0, 10, 0}));
  EXPECT_EQ(tok->Encode("<ab>x", false), (std::vector<int32_t>{11, 0}));  // longest match wins
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{0, 10, 11}, true), "x <ab>");  // no decoder: joined by spaces
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{0, 10, 11}, false), "x <a> <ab>");
  EXPECT_TRUE(tok->IsSpecial(10));
  EXPECT_FALSE(tok->IsSpecial(11));
  EXPECT_EQ(tok->vocab_size(), 12);
}

TEST(BpeTest, MergesByRankAndByteFallback) {
  json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"<unk>", 6}, {"<0xC3>", 7}, {"<0xA9>", 8}};
  json tj = {{"model",
              {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"b c", "a bc", "a b"})},
               {"byte_fallback", true}, {"unk_token", "<unk>"}, {"fuse_unk", true}}},
             {"decoder", {{"type", "Sequence"}, {"decoders", json::array({{{"type", "ByteFallback"}}, {{"type", "Fuse"}}})}}}};
  auto tok = Make(tj);
  EXPECT_EQ(tok->Encode("abc"), (std::vector<int32_t>{5}));       // b c first (rank 0), then a bc
  EXPECT_EQ(tok->Encode("ab"), (std::vector<int32_t>{3}));
  EXPECT_EQ(tok->Encode("\xC3\xA9"), (std::vector<int32_t>{7, 8}));  // é via byte fallback
  EXPECT_EQ(tok->Encode("zz"), (std::vector<int32_t>{6}));         // unknowns fused
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{7, 8, 0}), "\xC3\xA9" "a");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{7, 0}), "\xEF\xBF\xBD" "a");  // invalid run -> U+FFFD per byte
}

TEST(UnigramTest, ViterbiPicksBestScore) {
  json vocab = json::array({json::array({"<unk>", 0.0}), json::array({"a", -1.0}), json::array({"b", -1.0}),
                            json::array({"ab", -1.5}), json::array({"abb", -5.0})});
  json tj = {{"model", {{"type", "Unigram"}, {"vocab", vocab}, {"unk_id", 0}}}};
  auto tok = Make(tj);
  EXPECT_EQ(tok->Encode("ab"), (std::vector<int32_t>{3}));       // -1.5 beats -2
  EXPECT_EQ(tok->Encode("abb"), (std::vector<int32_t>{3, 2}));   // -2.5 beats -5
  EXPECT_EQ(tok->Encode("xxa"), (std::vector<int32_t>{0, 1}));   // unknown chars fused into one <unk>
}

TEST(TokenizerTest, ConfigAddsBosAndTokens) {
  json tj = {{"model", WordVocab({"<s>", "</s>", "hi"})}, {"pre_tokenizer", {{"type", "WhitespaceSplit"}}}};
  json cfg = {{"tokenizer_class", "LlamaTokenizer"}, {"bos_token", "<s>"}, {"eos_token", {{"content", "</s>"}}},
              {"add_eos_token", true}, {"chat_template", "{{ x }}"}};
  auto tok = Make(tj, cfg);
  EXPECT_EQ(tok->Encode("hi"), (std::vector<int32_t>{0, 2, 1}));
  EXPECT_EQ(tok->Encode("hi", false), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->Encode("</s>hi", false), (std::vector<int32_t>{1, 2}));  // special from config, matched in text
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_EQ(tok->chat_template(), "{{ x }}");
}

TEST(TokenizerTest, CleanUpTokenizationSpaces) {
  EXPECT_EQ(CleanUpTokenizationSpaces("a , b . c n't 's ?"), "a, b. cn't's?");
}

TEST(TokenizerTest, ErrorsAreStatuses) {
  EXPECT_FALSE(Tokenizer::FromFile("/nonexistent/tokenizer.json", "").ok());
  EXPECT_FALSE(Tokenizer::FromJson(json{{"model", {{"type", "WordPiece"}, {"vocab", json::object()}}}}, json()).ok());
  json bad_merge = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", json::array({"a b"})}}}};
  EXPECT_FALSE(Tokenizer::FromJson(bad_merge, json()).ok());
  json bad_regex = {{"model", WordVocab({"a"})},
                    {"pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "("}}}, {"behavior", "Isolated"}}}};
  EXPECT_FALSE(Tokenizer::FromJson(bad_regex, json()).ok());
}

TEST(TokenizerTest, InvalidUtf8InputDoesNotCrash) {
  json tj = {{"model", WordVocab({"a", "\xEF\xBF\xBD"})}, {"pre_tokenizer", {{"type", "ByteLevel"}}}};
  auto tok = Make(tj);
  EXPECT_NO_FATAL_FAILURE(tok->Encode("a\xFF\xFE"));
}

TEST(BenchTest, ChunksCoverTextAtLineBreaks) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + "\n";
  const auto chunks = SplitBenchChunks(text, 100);
  std::string joined;
  for (auto c : chunks) {
    EXPECT_LE(c.size(), 100u);
    EXPECT_EQ(c.back(), '\n');
    joined += c;
  }
  EXPECT_EQ(joined, text);
}

}  // namespace
}  // namespace pagoda::tokenizer
