// Response shapes against OpenAI's API reference (field names, nesting, null
// where OpenAI sends null) and the SSE framing byte for byte.
#include "server/openai_response.h"

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace pagoda::server {
namespace {

TEST(OpenAiResponse, CompletionShape) {
  ChoiceResult c{0, "hello", nullptr, core::FinishReason::kLength, {}};
  ChoiceResult d{1, "bye", nullptr, core::FinishReason::kStop, std::string("\n")};
  Json j = CompletionResponseJson("cmpl-1", 1700000000, "m", {c, d}, Usage{5, 7, 2});
  EXPECT_EQ(DumpJson(j),
            R"({"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"m","choices":[)"
            R"({"index":0,"text":"hello","logprobs":null,"finish_reason":"length","stop_reason":null},)"
            R"({"index":1,"text":"bye","logprobs":null,"finish_reason":"stop","stop_reason":"\n"}],)"
            R"("usage":{"prompt_tokens":5,"total_tokens":12,"completion_tokens":7,)"
            R"("prompt_tokens_details":{"cached_tokens":2}}})");
}

TEST(OpenAiResponse, ChatShape) {
  ChoiceResult c{0, "hi", nullptr, core::FinishReason::kStop, int32_t{7}};
  Json j = ChatCompletionResponseJson("chatcmpl-1", 3, "m", {c}, Usage{1, 1, 0});
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["stop_reason"], 7);
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"]["total_tokens"], 2);
}

TEST(OpenAiResponse, FinishReasons) {
  EXPECT_EQ(FinishReasonJson(core::FinishReason::kStop), "stop");
  EXPECT_EQ(FinishReasonJson(core::FinishReason::kLength), "length");
  EXPECT_EQ(FinishReasonJson(core::FinishReason::kAbort), "abort");
  EXPECT_TRUE(FinishReasonJson(std::nullopt).is_null());
}

TEST(OpenAiResponse, ChatChunksAndSseFraming) {
  Json first = ChatChunkJson("chatcmpl-x", 9, "m", 0, std::string("assistant"), std::string(), nullptr, std::nullopt, {});
  EXPECT_EQ(SseEvent(first),
            "data: {\"id\":\"chatcmpl-x\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"m\","
            "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
            "\"finish_reason\":null}]}\n\n");
  Json last = ChatChunkJson("chatcmpl-x", 9, "m", 0, std::nullopt, std::nullopt, nullptr, core::FinishReason::kLength, {});
  EXPECT_EQ(DumpJson(last["choices"][0]),
            R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"length","stop_reason":null})");
  Json usage = UsageChunkJson("chatcmpl-x", "chat.completion.chunk", 9, "m", Usage{3, 4, 0});
  EXPECT_EQ(DumpJson(usage),
            R"({"id":"chatcmpl-x","object":"chat.completion.chunk","created":9,"model":"m","choices":[],)"
            R"("usage":{"prompt_tokens":3,"total_tokens":7,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":0}}})");
  EXPECT_EQ(std::string(kSseDone), "data: [DONE]\n\n");
}

TEST(OpenAiResponse, CompletionChunk) {
  ChoiceResult c{2, " wor", nullptr, std::nullopt, {}};
  EXPECT_EQ(DumpJson(CompletionChunkJson("cmpl-y", 1, "m", c)),
            R"({"id":"cmpl-y","object":"text_completion","created":1,"model":"m","choices":[)"
            R"({"index":2,"text":" wor","logprobs":null,"finish_reason":null,"stop_reason":null}]})");
}

TEST(OpenAiResponse, InvalidUtf8IsReplacedNotThrown) {
  ChoiceResult c{0, std::string("a\xff" "b"), nullptr, std::nullopt, {}};
  const std::string s = SseEvent(CompletionChunkJson("cmpl-z", 1, "m", c));
  EXPECT_NE(s.find("a\xEF\xBF\xBD" "b"), std::string::npos);
}

TEST(OpenAiResponse, Logprobs) {
  std::vector<TokenLogprob> lps = {{"He", -0.5f, {{"He", -0.5f}, {"A", -1.5f}}}, {"llo", -0.25f, {{"y", -0.1f}}}};
  Json c = CompletionLogprobsJson(lps, 3);
  EXPECT_EQ(DumpJson(c),
            R"({"text_offset":[3,5],"token_logprobs":[-0.5,-0.25],"tokens":["He","llo"],)"
            R"("top_logprobs":[{"He":-0.5,"A":-1.5},{"y":-0.10000000149011612,"llo":-0.25}]})");
  Json ch = ChatLogprobsJson(lps);
  ASSERT_EQ(ch["content"].size(), 2u);
  EXPECT_EQ(ch["content"][0]["token"], "He");
  EXPECT_EQ(ch["content"][0]["bytes"], Json::array({72, 101}));
  EXPECT_EQ(ch["content"][0]["top_logprobs"][1]["token"], "A");
  EXPECT_EQ(ch["content"][1]["top_logprobs"].size(), 1u);
}

TEST(OpenAiResponse, Ids) {
  const std::string a = MakeId("cmpl-"), b = MakeId("cmpl-");
  EXPECT_EQ(a.rfind("cmpl-", 0), 0u);
  EXPECT_EQ(a.size(), 5u + 32u);
  EXPECT_NE(a, b);
}

TEST(ApiErrorTest, OpenAiErrorBody) {
  EXPECT_EQ(BadRequest("bad n", "n").ToJson(),
            R"({"error":{"code":400,"message":"bad n","param":"n","type":"BadRequestError"}})");
  EXPECT_EQ(MakeApiError(401, "no").ToJson(),
            R"({"error":{"code":401,"message":"no","param":null,"type":"AuthenticationError"}})");
  EXPECT_EQ(ApiErrorFromStatus(OutOfRange("too long")).status, 400);
  EXPECT_EQ(ApiErrorFromStatus(FailedPrecondition("stopped")).status, 503);
  EXPECT_EQ(ApiErrorFromStatus(Internal("x")).status, 500);
  EXPECT_EQ(MakeApiError(404, "x").type, "NotFoundError");
  EXPECT_EQ(MakeApiError(413, "x").type, "RequestTooLargeError");
}

}  // namespace
}  // namespace pagoda::server
