// Render time of typical templates (printed, not asserted: CI does not time). Each render
// is still checked against its golden output, so a wrong render fails the test.

#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "golden_util.h"

namespace pagoda::chat {
namespace {

using testing::GoldenDir;
using testing::ReadJson;

void TimeTemplate(const std::string& id, const std::string& conversation, bool add_generation_prompt) {
  nlohmann::ordered_json golden = ReadJson(GoldenDir() / "renders" / (id + ".json"));
  ASSERT_TRUE(golden.is_object()) << id;
  std::string source = testing::LoadGoldenTemplate(golden);
  if (source.empty()) GTEST_SKIP() << "no shared/";
  nlohmann::ordered_json all = ReadJson(GoldenDir() / "conversations.json");
  const nlohmann::ordered_json* conv = nullptr;
  for (const auto& c : all["conversations"])
    if (c["name"] == conversation) conv = &c;
  ASSERT_NE(conv, nullptr);
  const nlohmann::ordered_json* want = nullptr;
  for (const auto& c : golden["cases"])
    if (c["conversation"] == conversation && c["add_generation_prompt"] == add_generation_prompt) want = &c;
  ASSERT_NE(want, nullptr);
  ASSERT_TRUE(want->contains("output"));

  ChatTemplate::Options opts;
  opts.add_generation_prompt = add_generation_prompt;
  opts.special_tokens = golden["special_tokens"];
  if (conv->contains("tools")) opts.tools = all["tools"][(*conv)["tools"].get<std::string>()];
  if (conv->contains("kwargs")) opts.extra = (*conv)["kwargs"];
  opts.clock = testing::FixedNow;

  using Clock = std::chrono::steady_clock;
  const int kParses = 200, kRenders = 2000;
  auto t0 = Clock::now();
  for (int i = 0; i < kParses; ++i) ASSERT_TRUE(ChatTemplate::Parse(source).ok());
  auto t1 = Clock::now();
  auto tmpl = ChatTemplate::Parse(source);
  ASSERT_TRUE(tmpl.ok());
  std::string out;
  auto t2 = Clock::now();
  for (int i = 0; i < kRenders; ++i) {
    auto r = tmpl->Render((*conv)["messages"], opts);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    out = std::move(*r);
  }
  auto t3 = Clock::now();
  EXPECT_EQ(out, (*want)["output"].get<std::string>());
  double parse_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / kParses;
  double render_us = std::chrono::duration<double, std::micro>(t3 - t2).count() / kRenders;
  std::printf("[chat bench] %-45s %-22s template %5zu B, output %5zu B: parse %7.1f us, render %7.1f us\n",
              id.c_str(), conversation.c_str(), source.size(), out.size(), parse_us, render_us);
}

TEST(SlowChatBench, RenderTime) {
  TimeTemplate("qwen2.5-instruct.tokenizer_config", "multi_turn_system", true);
  TimeTemplate("llama-3-instruct.tokenizer_config", "multi_turn_system", true);
  TimeTemplate("llama-3.1-instruct.chat_template", "tool_calls", true);
  TimeTemplate("qwen3.tokenizer_config", "tool_calls", true);
  TimeTemplate("llama.cpp.CohereForAI-c4ai-command-r-plus-tool_use", "tools_described", true);
}

}  // namespace
}  // namespace pagoda::chat
