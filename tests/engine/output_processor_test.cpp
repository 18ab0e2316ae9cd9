// The output processor on hand-made token streams (stories260k's tokenizer):
// stop strings across token boundaries, at the very start, overlapping, and in
// multi-byte UTF-8 built from byte-fallback tokens; held-back text.

#include "engine/output_processor.h"

#include <gtest/gtest.h>

namespace pagoda::engine {
namespace {

class OutputProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = tokenizer::Tokenizer::FromDirectory(std::string(PAGODA_SHARED_DIR) + "/models/stories260k");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tok_ = std::move(*t);
  }
  // Feeds ids one per step; returns the joined text and the last output.
  std::string Run(const std::vector<int32_t>& ids, std::vector<std::string> stop, bool include, RequestOutput* last,
                  std::vector<std::string>* pieces = nullptr) {
    auto p = std::make_shared<sample::SamplingParams>();
    p->stop = std::move(stop);
    p->include_stop_str_in_output = include;
    RequestStream s(tok_.get(), p, 3, true);
    std::string text;
    for (size_t i = 0; i < ids.size() && !s.finished(); ++i) {
      core::CoreRequestOutput o;
      o.request_id = core::RequestId(1);
      o.new_token_ids = {ids[i]};
      if (i + 1 == ids.size()) o.finish_reason = core::FinishReason::kLength;
      bool stop_hit = false;
      s.Process(o, &stop_hit, last);  // *last is reused, as the engine reuses its outputs
      EXPECT_EQ(stop_hit, last->finish_reason == core::FinishReason::kStop && last->stop_string.has_value());
      text += last->text;
      if (pieces) pieces->push_back(last->text);
    }
    return text;
  }
  int32_t Id(const char* piece) { return tok_->TokenToId(piece).value(); }
  std::unique_ptr<tokenizer::Tokenizer> tok_;
};

TEST_F(OutputProcessorTest, StopStringAcrossTokenBoundary) {
  // "▁a▁time" decodes to " a time"; "a ti" spans the two tokens.
  const std::vector<int32_t> ids = {Id("▁a"), Id("▁time"), Id("▁the")};
  RequestOutput last;
  const std::string full = tok_->Decode(ids, true);
  ASSERT_NE(full.find("a ti"), std::string::npos) << full;
  EXPECT_EQ(Run(ids, {"a ti"}, false, &last), full.substr(0, full.find("a ti")));
  EXPECT_EQ(last.finish_reason, core::FinishReason::kStop);
  EXPECT_EQ(last.stop_string, "a ti");
  EXPECT_EQ(Run(ids, {"a ti"}, true, &last), full.substr(0, full.find("a ti") + 4));
}

// The stream keeps only the recent text (the sent part is dropped past 256
// bytes): a long stream still joins to Decode, and a stop string that straddles
// tokens far into it is still found and cut at the right place.
TEST_F(OutputProcessorTest, LongStreamJoinsToDecodeAndFindsALateStopString) {
  std::vector<int32_t> ids;
  for (int rep = 0; rep < 120; ++rep)
    for (const char* p : {"▁a", "▁time", "▁the"}) ids.push_back(Id(p));
  ids.push_back(Id("▁a"));
  ids.push_back(Id("▁time"));
  RequestOutput last;
  const std::string full = tok_->Decode(ids, true);
  ASSERT_GT(full.size(), 1000u);
  EXPECT_EQ(Run(ids, {}, false, &last), full);
  // A stop string that occurs only near the end: "... the day a time".
  std::vector<int32_t> ids2 = ids;
  ids2.insert(ids2.end() - 2, Id("▁day"));
  const std::string full2 = tok_->Decode(ids2, true);
  const std::string stop = "e day a ti";
  ASSERT_EQ(full2.find(stop), full2.rfind(stop));
  ASSERT_GT(full2.find(stop), 1000u);
  std::vector<std::string> pieces;
  EXPECT_EQ(Run(ids2, {stop}, false, &last, &pieces), full2.substr(0, full2.find(stop)));
  EXPECT_EQ(last.finish_reason, core::FinishReason::kStop);
  EXPECT_EQ(Run(ids2, {stop}, true, &last), full2.substr(0, full2.find(stop) + stop.size()));
}

TEST_F(OutputProcessorTest, StopStringAtTheVeryStart) {
  const std::vector<int32_t> ids = {Id("▁a"), Id("▁time")};
  const std::string full = tok_->Decode(ids, true);
  RequestOutput last;
  EXPECT_EQ(Run(ids, {full.substr(0, 2)}, false, &last), "");
  EXPECT_EQ(last.finish_reason, core::FinishReason::kStop);
}

TEST_F(OutputProcessorTest, OverlappingStopStringsEarliestWins) {
  const std::vector<int32_t> ids = {Id("▁a"), Id("▁time"), Id("▁the")};
  const std::string full = tok_->Decode(ids, true);  // " a time the"
  RequestOutput last;
  // "time the" starts later than "a time": the earlier match ends the text.
  EXPECT_EQ(Run(ids, {"time the", "a time"}, false, &last), full.substr(0, full.find("a time")));
  EXPECT_EQ(last.stop_string, "a time");
}

TEST_F(OutputProcessorTest, UnicodeStopStringFromByteTokensAndNoHalfCharacters) {
  // "é" = C3 A9 through byte-fallback tokens, between two words.
  const std::vector<int32_t> ids = {Id("▁a"), Id("<0xC3>"), Id("<0xA9>"), Id("▁the")};
  const std::string full = tok_->Decode(ids, true);
  ASSERT_NE(full.find("\xC3\xA9"), std::string::npos);
  RequestOutput last;
  std::vector<std::string> pieces;
  EXPECT_EQ(Run(ids, {"\xC3\xA9"}, false, &last, &pieces), full.substr(0, full.find("\xC3\xA9")));
  EXPECT_EQ(last.finish_reason, core::FinishReason::kStop);
  // Without a stop string, no piece ends inside a character and the pieces join to decode().
  pieces.clear();
  EXPECT_EQ(Run(ids, {}, false, &last, &pieces), full);
  for (const std::string& p : pieces) {
    if (!p.empty()) {
      EXPECT_NE(static_cast<unsigned char>(p.back()), 0xC3) << "half a character emitted";
    }
  }
}

TEST_F(OutputProcessorTest, TextThatMayBecomeAStopStringIsHeldBack) {
  const std::vector<int32_t> ids = {Id("▁a"), Id("▁time"), Id("▁the")};
  RequestOutput last;
  std::vector<std::string> pieces;
  // "timex" never matches, but its prefix "tim" must not be sent before it is known.
  const std::string text = Run(ids, {"timex"}, false, &last, &pieces);
  EXPECT_EQ(text, tok_->Decode(ids, true));
  ASSERT_GE(pieces.size(), 2u);
  EXPECT_EQ(pieces[1].find("tim"), std::string::npos) << "'" << pieces[1] << "' was sent while it could still start a stop string";
}

}  // namespace
}  // namespace pagoda::engine
