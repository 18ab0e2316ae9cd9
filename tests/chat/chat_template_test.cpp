// Unit tests of the chat/ API: errors (syntax, unsupported constructs, raise_exception,
// missing templates), template selection, input normalisation, thread safety. Rendered
// text itself is checked against the reference in the Golden* tests.

#include "chat/chat_template.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>

#include "chat/template_source.h"
#include "golden_util.h"

namespace pagoda::chat {
namespace {

using Json = nlohmann::ordered_json;

Json OneUserMessage() { return Json::parse(R"([{"role": "user", "content": "hi"}])"); }

Result<std::string> RenderSource(const std::string& src, const Json& messages = OneUserMessage(),
                                 ChatTemplate::Options opts = {}) {
  auto t = ChatTemplate::Parse(src);
  if (!t.ok()) return t.status();
  return t->Render(messages, opts);
}

TEST(ChatTemplateErrors, SyntaxErrorNamesTheLine) {
  auto t = ChatTemplate::Parse("{% for m in messages %}\n{{ m.role }}\n{{ 1 + }}\n{% endfor %}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("line 3"), std::string::npos) << t.status().ToString();
}

TEST(ChatTemplateErrors, UnclosedBlockIsASyntaxError) {
  auto t = ChatTemplate::Parse("{% if true %}\nnever closed");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("endif"), std::string::npos) << t.status().ToString();
}

TEST(ChatTemplateErrors, UnsupportedTagNamesConstructAndLine) {
  auto t = ChatTemplate::Parse("hello\n{% include 'other.jinja' %}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(t.status().message().find("'include'"), std::string::npos) << t.status().ToString();
  EXPECT_NE(t.status().message().find("line 2"), std::string::npos) << t.status().ToString();
}

TEST(ChatTemplateErrors, UnsupportedFilterAndTestFailAtParse) {
  auto f = ChatTemplate::Parse("{{ 'x' }}\n\n{{ messages | wordwrap(10) }}");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(f.status().message().find("filter 'wordwrap'"), std::string::npos) << f.status().ToString();
  EXPECT_NE(f.status().message().find("line 3"), std::string::npos) << f.status().ToString();
  auto t = ChatTemplate::Parse("{% if x is frobnicated %}{% endif %}");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("test 'frobnicated'"), std::string::npos) << t.status().ToString();
}

TEST(ChatTemplateErrors, UnsupportedRuntimeConstructsAreRefused) {
  auto fmt = RenderSource("{{ '%s!' % messages[0].content }}");
  ASSERT_FALSE(fmt.ok());
  EXPECT_EQ(fmt.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(fmt.status().message().find("'%'"), std::string::npos) << fmt.status().ToString();
  auto method = RenderSource("line1\n{{ '{}'.format(1) }}");
  ASSERT_FALSE(method.ok());
  EXPECT_EQ(method.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(method.status().message().find("'format'"), std::string::npos) << method.status().ToString();
  EXPECT_NE(method.status().message().find("line 2"), std::string::npos) << method.status().ToString();
}

TEST(ChatTemplateErrors, RaiseExceptionCarriesTheTemplateMessage) {
  auto r = RenderSource("{% if messages[0].role != 'system' %}{{ raise_exception('Need a system prompt') }}{% endif %}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("Need a system prompt"), std::string::npos) << r.status().ToString();
}

TEST(ChatTemplateErrors, UndefinedAttributeOfUndefinedFails) {
  auto r = RenderSource("{{ messages[0].nothing.deeper }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("UndefinedError"), std::string::npos) << r.status().ToString();
}

TEST(ChatTemplateRender, RejectsBadInput) {
  auto t = ChatTemplate::Parse("{{ messages | length }}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Render(Json::array(), {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Render(Json::object(), {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t->Render(Json::parse("[1]"), {}).status().code(), StatusCode::kInvalidArgument);
  ChatTemplate::Options both;
  both.add_generation_prompt = true;
  both.continue_final_message = true;
  EXPECT_EQ(t->Render(OneUserMessage(), both).status().code(), StatusCode::kInvalidArgument);
  ChatTemplate::Options bad_kwargs;
  bad_kwargs.extra = Json::parse(R"({"messages": []})");
  EXPECT_EQ(t->Render(OneUserMessage(), bad_kwargs).status().code(), StatusCode::kInvalidArgument);
}

TEST(ChatTemplateRender, NullKeysAreDroppedLikeApplyChatTemplate) {
  Json messages = Json::parse(R"([{"role": "assistant", "content": null, "tool_calls": null}])");
  auto r = RenderSource("{{ messages[0].content is defined }}/{{ messages[0].tool_calls is defined }}", messages);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto undefined = RenderSource("{{ nothing is defined }}/{{ nothing is defined }}", messages);
  auto defined = RenderSource("{{ messages[0].role is defined }}/{{ messages[0].role is defined }}", messages);
  ASSERT_TRUE(undefined.ok() && defined.ok());
  EXPECT_NE(*undefined, *defined);
  EXPECT_EQ(*r, *undefined);
}

TEST(ChatTemplateRender, EmptySpecialTokenStaysUndefined) {
  ChatTemplate::Options opts;
  opts.eos_token = "</s>";
  auto r = RenderSource("{{ bos_token is defined }}|{{ eos_token }}", OneUserMessage(), opts);
  ASSERT_TRUE(r.ok());
  opts.bos_token = "<s>";
  auto r2 = RenderSource("{{ bos_token is defined }}|{{ eos_token }}", OneUserMessage(), opts);
  ASSERT_TRUE(r2.ok());
  EXPECT_NE(*r, *r2);
  EXPECT_NE(r->find("</s>"), std::string::npos);
}

TEST(ChatTemplateRender, ToolsKeepTheirKeyOrder) {
  ChatTemplate::Options opts;
  opts.tools = Json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {}}}])");
  auto r = RenderSource("{{ tools | tojson }}", OneUserMessage(), opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(r->find("\"type\""), r->find("\"function\""));
  EXPECT_LT(r->find("\"name\""), r->find("\"parameters\""));
}

TEST(ChatTemplateRender, ClockIsInjectable) {
  ChatTemplate::Options opts;
  opts.clock = testing::FixedNow;
  auto a = RenderSource("{{ strftime_now('%Y-%m-%d') }}", OneUserMessage(), opts);
  ASSERT_TRUE(a.ok());
  char buf[32];
  std::tm tm = testing::FixedNow();
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  EXPECT_EQ(*a, buf);
}

TEST(ChatTemplateRender, ContinueFinalMessageNeedsContentInTemplate) {
  Json messages = Json::parse(R"([{"role": "user", "content": "q"}, {"role": "assistant", "content": "The answer"}])");
  ChatTemplate::Options opts;
  opts.continue_final_message = true;
  auto no_content = RenderSource("{% for m in messages %}{{ m.role }}{% endfor %}", messages, opts);
  EXPECT_FALSE(no_content.ok());
  auto ok = RenderSource("{% for m in messages %}<{{ m['content'] }}>{% endfor %}", messages, opts);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->size() >= 10 && ok->compare(ok->size() - 10, 10, "The answer") == 0) << *ok;
}

TEST(ChatTemplateRender, ConcurrentRendersAgree) {
  std::string src = testing::ReadText(testing::SharedDir() / "tokenizers/llama-3.1-instruct/chat_template.jinja");
  if (src.empty()) GTEST_SKIP() << "no shared/";
  auto t = ChatTemplate::Parse(src);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ChatTemplate::Options opts;
  opts.bos_token = "<|begin_of_text|>";
  opts.add_generation_prompt = true;
  opts.clock = testing::FixedNow;
  auto want = t->Render(OneUserMessage(), opts);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) {
        auto got = t->Render(OneUserMessage(), opts);
        mismatches[i] += !got.ok() || *got != *want;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(TemplateSource, SelectsLikeTransformers) {
  EXPECT_EQ(*SelectChatTemplate(Json("plain"), false), "plain");
  Json list = Json::parse(R"([{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"},
                              {"name": "rag", "template": "R"}])");
  EXPECT_EQ(*SelectChatTemplate(list, false), "D");
  EXPECT_EQ(*SelectChatTemplate(list, true), "T");
  EXPECT_EQ(*SelectChatTemplate(list, false, "rag"), "R");
  EXPECT_EQ(SelectChatTemplate(list, false, "nope").status().code(), StatusCode::kNotFound);
  Json no_default = Json::parse(R"([{"name": "tool_use", "template": "T"}])");
  EXPECT_EQ(SelectChatTemplate(no_default, false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*SelectChatTemplate(no_default, true), "T");
  EXPECT_EQ(SelectChatTemplate(Json(), false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SelectChatTemplate(Json(3), false).status().code(), StatusCode::kInvalidArgument);
}

TEST(TemplateSource, ModelsWithoutTemplateAreNotFound) {
  auto root = testing::SharedDir() / "tokenizers";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "no shared/";
  for (const char* family : {"llama-2", "gpt2", "falcon", "yi"}) {
    auto r = LoadChatTemplate(root / family);
    ASSERT_FALSE(r.ok()) << family;
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << family;
    EXPECT_NE(r.status().message().find("no chat template"), std::string::npos) << r.status().ToString();
  }
  for (const char* family : {"tinyllama-chat", "qwen3", "llama-3.1-instruct", "smollm3", "gemma-3-it"}) {
    auto r = LoadChatTemplate(root / family);
    ASSERT_TRUE(r.ok()) << family << ": " << r.status().ToString();
    EXPECT_TRUE(ChatTemplate::Parse(*r).ok()) << family;
  }
}

TEST(TemplateSource, JinjaFileTakesPrecedence) {
  auto dir = std::filesystem::temp_directory_path() / ("pagoda_chat_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": "from config"})";
  EXPECT_EQ(*LoadChatTemplate(dir), "from config");
  std::ofstream(dir / "chat_template.jinja") << "from jinja";
  EXPECT_EQ(*LoadChatTemplate(dir), "from jinja");
  std::ofstream(dir / "tokenizer_config.json") << "{not json";
  std::filesystem::remove(dir / "chat_template.jinja");
  EXPECT_EQ(LoadChatTemplate(dir).status().code(), StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST(TemplateSource, SpecialTokensFromAddedTokenObjects) {
  auto cfg_path = testing::SharedDir() / "tokenizers/deepseek-v3/tokenizer_config.json";
  if (!std::filesystem::exists(cfg_path)) GTEST_SKIP() << "no shared/";
  Json cfg = testing::ReadJson(cfg_path);
  Json tokens = SpecialTokensFromConfig(cfg);
  ASSERT_TRUE(tokens.contains("bos_token"));
  EXPECT_EQ(tokens["bos_token"], cfg["bos_token"]["content"]);
  EXPECT_FALSE(tokens.contains("unk_token"));  // null in the config
}

}  // namespace
}  // namespace pagoda::chat
