// Request parsing and validation without a model: every field's type and
// range, the shapes of prompt and messages, and the refusal (400 naming the
// field) of what would change the output but is not supported.
#include "server/openai_request.h"

#include <gtest/gtest.h>

namespace pagoda::server {
namespace {

using nlohmann::ordered_json;

ordered_json J(const char* s) { return ordered_json::parse(s); }

std::optional<ApiError> Completion(const char* body, CompletionRequest* out = nullptr,
                                   SupportedFeatures f = SupportedFeatures{}) {
  CompletionRequest r;
  auto e = ParseCompletionRequest(J(body), f, out ? out : &r);
  return e;
}

std::optional<ApiError> Chat(const char* body, ChatCompletionRequest* out = nullptr,
                             SupportedFeatures f = SupportedFeatures{}) {
  ChatCompletionRequest r;
  return ParseChatCompletionRequest(J(body), f, out ? out : &r);
}

// The param an error names, or "<ok>".
std::string ParamOf(const std::optional<ApiError>& e) {
  if (!e) return "<ok>";
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->type, "BadRequestError");
  return e->param.value_or("<none>");
}

TEST(OpenAiRequest, CompletionAllFields) {
  CompletionRequest r;
  auto e = Completion(R"({"model":"m","prompt":"hi","max_tokens":7,"temperature":0.5,"top_p":0.9,"n":3,
      "stream":true,"stream_options":{"include_usage":true},"stop":["a","b"],"seed":-5,"presence_penalty":1,
      "frequency_penalty":-1,"logit_bias":{"12":-100,"7":2.5},"logprobs":2,"echo":false,"user":"u","top_k":40,
      "min_p":0.1,"repetition_penalty":1.2,"min_tokens":2,"ignore_eos":true,"stop_token_ids":[3,4],
      "include_stop_str_in_output":true,"skip_special_tokens":false,"spaces_between_special_tokens":false,
      "add_special_tokens":false,"allowed_token_ids":[1,2,3],"truncate_prompt_tokens":100,"cache_salt":"s"})",
                      &r);
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "hi");
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.params.n, 1);  // fanned out by the server
  EXPECT_EQ(r.params.max_tokens, 7);
  EXPECT_TRUE(r.max_tokens_set);
  EXPECT_DOUBLE_EQ(r.params.temperature, 0.5);
  EXPECT_DOUBLE_EQ(r.params.top_p, 0.9);
  EXPECT_EQ(r.params.top_k, 40);
  EXPECT_DOUBLE_EQ(r.params.min_p, 0.1);
  EXPECT_DOUBLE_EQ(r.params.repetition_penalty, 1.2);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.stream_options.include_usage);
  EXPECT_EQ(r.params.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.params.seed, static_cast<uint64_t>(-5));
  EXPECT_EQ(r.params.logit_bias.at(12), -100);
  EXPECT_EQ(r.params.logit_bias.at(7), 2.5);
  EXPECT_EQ(r.params.logprobs, 2);
  EXPECT_EQ(r.params.min_tokens, 2);
  EXPECT_TRUE(r.params.ignore_eos);
  EXPECT_EQ(r.params.stop_token_ids, (std::vector<int32_t>{3, 4}));
  EXPECT_TRUE(r.params.include_stop_str_in_output);
  EXPECT_FALSE(r.params.skip_special_tokens);
  EXPECT_FALSE(r.params.spaces_between_special_tokens);
  EXPECT_FALSE(r.add_special_tokens);
  EXPECT_EQ(r.params.allowed_token_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r.truncate_prompt_tokens, 100);
  EXPECT_EQ(r.cache_salt, "s");
  EXPECT_EQ(r.user, "u");
}

TEST(OpenAiRequest, CompletionDefaults) {
  CompletionRequest r;
  ASSERT_FALSE(Completion(R"({"prompt":"x"})", &r));
  EXPECT_EQ(r.params.max_tokens, 16);  // OpenAI's default for completions
  EXPECT_FALSE(r.max_tokens_set);
  EXPECT_DOUBLE_EQ(r.params.temperature, 1.0);
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.add_special_tokens);
  EXPECT_FALSE(r.params.logprobs.has_value());
  // null counts as not given
  ASSERT_FALSE(Completion(R"({"prompt":"x","max_tokens":null,"stop":null,"seed":null})", &r));
}

TEST(OpenAiRequest, PromptShapes) {
  CompletionRequest r;
  ASSERT_FALSE(Completion(R"({"prompt":["a","b"]})", &r));
  ASSERT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(r.prompts[1].text, "b");
  r = {};
  ASSERT_FALSE(Completion(R"({"prompt":[1,2,3]})", &r));
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_TRUE(r.prompts[0].is_tokens);
  EXPECT_EQ(r.prompts[0].token_ids, (std::vector<int32_t>{1, 2, 3}));
  r = {};
  ASSERT_FALSE(Completion(R"({"prompt":[[1,2],[3]]})", &r));
  ASSERT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(r.prompts[1].token_ids, (std::vector<int32_t>{3}));

  EXPECT_EQ(ParamOf(Completion(R"({})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":5})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":[]})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":[1,-2]})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":[1,"a"]})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":[[1],[]]})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":[{"a":1}]})")), "prompt");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":[1.5]})")), "prompt");
}

TEST(OpenAiRequest, WrongTypesNameTheField) {
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","max_tokens":"5"})")), "max_tokens");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":"hot"})")), "temperature");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stream":"yes"})")), "stream");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","n":1.5})")), "n");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stop":5})")), "stop");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stop":["a",1]})")), "stop");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","seed":"1"})")), "seed");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","logit_bias":[1]})")), "logit_bias");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","logit_bias":{"abc":1}})")), "logit_bias");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","logit_bias":{"1":"a"}})")), "logit_bias");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stop_token_ids":[1,"a"]})")), "stop_token_ids");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","model":3})")), "model");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","user":[]})")), "user");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","echo":1})")), "echo");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stream":true,"stream_options":{"include_usage":"y"}})")),
            "stream_options.include_usage");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stream":true,"stream_options":3})")), "stream_options");
  // 2.0 is an integer
  CompletionRequest r;
  ASSERT_FALSE(Completion(R"({"prompt":"x","max_tokens":2.0})", &r));
  EXPECT_EQ(r.params.max_tokens, 2);
}

TEST(OpenAiRequest, OutOfRangeValues) {
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","max_tokens":0})")), "max_tokens");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":-0.1})")), "temperature");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","top_p":0})")), "top_p");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","top_p":1.01})")), "top_p");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","top_k":-2})")), "top_k");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","min_p":1.5})")), "min_p");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","presence_penalty":2.5})")), "presence_penalty");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","frequency_penalty":-3})")), "frequency_penalty");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","repetition_penalty":0})")), "repetition_penalty");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","n":0})")), "n");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","n":1000})")), "n");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","logprobs":21})")), "logprobs");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","logprobs":-1})")), "logprobs");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","min_tokens":-1})")), "min_tokens");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","max_tokens":3,"min_tokens":4})")), "min_tokens");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","logit_bias":{"1":101}})")), "logit_bias");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stop":[""]})")), "stop");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","truncate_prompt_tokens":0})")), "truncate_prompt_tokens");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","allowed_token_ids":[]})")), "allowed_token_ids");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","max_tokens":3000000000})")), "max_tokens");
  // The message says the range and the value.
  auto e = Completion(R"({"prompt":"x","top_p":1.5})");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("(0, 1]"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("1.5"), std::string::npos) << e->message;
}

TEST(OpenAiRequest, StreamOptionsNeedStream) {
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","stream_options":{"include_usage":true}})")), "stream_options");
  CompletionRequest r;
  ASSERT_FALSE(Completion(R"({"prompt":"x","stream":true,"stream_options":{"include_usage":true,
      "continuous_usage_stats":true}})", &r));
  EXPECT_TRUE(r.stream_options.continuous_usage_stats);
}

TEST(OpenAiRequest, UnsupportedFieldsAreRefusedNotIgnored) {
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","suffix":"end"})")), "suffix");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","suffix":""})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","echo":true,"logprobs":1})")), "echo");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","best_of":3})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","best_of":2,"n":2})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","best_of":1,"n":2})")), "best_of");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","best_of":3,"stream":true})")), "best_of");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","use_beam_search":true})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","use_beam_search":true,"stream":true})")), "use_beam_search");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","length_penalty":"long"})")), "length_penalty");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","guided_json":{}})")), "guided_json");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","guided_regex":"a+"})")), "guided_regex");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","response_format":{"type":"json_object"}})")), "response_format");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","response_format":{"type":"text"}})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","prompt_logprobs":1})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","prompt_logprobs":-1})")), "prompt_logprobs");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","prompt_logprobs":1,"stream":true})")), "prompt_logprobs");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","bad_words":["a"]})")), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","bad_words":[1]})")), "bad_words");
  // Unknown fields that do not change the output are accepted, as in vLLM.
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","some_future_field":1})")), "<ok>");

  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema",
      "json_schema":{"name":"a","schema":{}}}})")), "response_format");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function",
      "function":{"name":"f"}}]})")), "tools");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function",
      "function":{"name":"f"}}],"tool_choice":"none"})")), "<ok>");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"})")), "tool_choice");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":[]})")), "<ok>");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]})")), "functions");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"echo":true})")), "echo");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"modalities":["audio"]})")), "modalities");
}

TEST(OpenAiRequest, FeaturesSwitchedOffAreRefused) {
  SupportedFeatures greedy_only;
  greedy_only.random_sampling = false;
  greedy_only.seed = false;
  greedy_only.penalties = false;
  greedy_only.logprobs = false;
  CompletionRequest r;
  auto e = Completion(R"({"prompt":"x","temperature":0.7})", &r, greedy_only);
  EXPECT_EQ(ParamOf(e), "temperature");
  EXPECT_NE(e->message.find("not supported"), std::string::npos);
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x"})", nullptr, greedy_only)), "temperature");  // default 1.0 samples
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":0})", nullptr, greedy_only)), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":0,"top_k":5})", nullptr, greedy_only)), "top_k");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":0,"top_p":1})", nullptr, greedy_only)), "<ok>");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":0,"seed":1})", nullptr, greedy_only)), "seed");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":0,"presence_penalty":0.5})", nullptr, greedy_only)),
            "presence_penalty");
  EXPECT_EQ(ParamOf(Completion(R"({"prompt":"x","temperature":0,"logprobs":1})", nullptr, greedy_only)), "logprobs");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"temperature":0,"logprobs":true})", nullptr,
                         greedy_only)),
            "logprobs");
}

TEST(OpenAiRequest, ChatMessages) {
  ChatCompletionRequest r;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":[
      {"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":null,"tool_calls":[]}],
      "max_completion_tokens":5,"max_tokens":9,"logprobs":true,"top_logprobs":3})", &r));
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1]["content"], "a\nb");  // vLLM's "string" content format
  EXPECT_EQ(r.params.max_tokens, 5);            // max_completion_tokens wins
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.params.logprobs, 3);
  EXPECT_TRUE(r.add_generation_prompt);
  EXPECT_FALSE(r.add_special_tokens);

  ChatCompletionRequest d;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}]})", &d));
  EXPECT_FALSE(d.params.max_tokens.has_value());  // up to max_model_len
  EXPECT_FALSE(d.params.logprobs.has_value());

  EXPECT_EQ(ParamOf(Chat(R"({})")), "messages");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[]})")), "messages");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":"hi"})")), "messages");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[3]})")), "messages[0]");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"content":"x"}]})")), "messages[0].role");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"},{"role":"wizard","content":"x"}]})")),
            "messages[1].role");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user"}]})")), "messages[0].content");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":5}]})")), "messages[0].content");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}]})")),
            "messages[0].content[0].type");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})")),
            "messages[0].content[0].text");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x","name":1}]})")), "messages[0].name");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})")), "top_logprobs");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":1})")),
            "chat_template_kwargs");
  EXPECT_EQ(ParamOf(Chat(R"({"messages":[{"role":"user","content":"x"}],"add_generation_prompt":true,
      "continue_final_message":true})")), "continue_final_message");
  ChatCompletionRequest c;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"assistant","content":"x"}],"continue_final_message":true,
      "chat_template_kwargs":{"enable_thinking":false}})", &c));
  EXPECT_FALSE(c.add_generation_prompt);
  EXPECT_TRUE(c.continue_final_message);
  EXPECT_EQ(c.chat_template_kwargs["enable_thinking"], false);
}

TEST(OpenAiRequest, JsonBody) {
  ordered_json j;
  auto e = ParseJsonBody("{\"a\":", &j);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->param, "body");
  EXPECT_NE(e->message.find("Invalid JSON"), std::string::npos);
  e = ParseJsonBody("[1,2]", &j);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("array"), std::string::npos);
  EXPECT_FALSE(ParseJsonBody(R"({"a":1})", &j));
}

TEST(OpenAiRequest, TokenizeAndDetokenize) {
  TokenizeRequest t;
  ASSERT_FALSE(ParseTokenizeRequest(J(R"({"prompt":"hi"})"), &t));
  EXPECT_FALSE(t.is_chat);
  EXPECT_TRUE(t.add_special_tokens);
  TokenizeRequest c;
  ASSERT_FALSE(ParseTokenizeRequest(J(R"({"messages":[{"role":"user","content":"x"}]})"), &c));
  EXPECT_TRUE(c.is_chat);
  EXPECT_FALSE(c.add_special_tokens);
  EXPECT_EQ(ParamOf(ParseTokenizeRequest(J(R"({})"), &t)), "prompt");
  EXPECT_EQ(ParamOf(ParseTokenizeRequest(J(R"({"prompt":1})"), &t)), "prompt");
  DetokenizeRequest d;
  ASSERT_FALSE(ParseDetokenizeRequest(J(R"({"tokens":[1,2]})"), &d));
  EXPECT_EQ(d.tokens, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(ParamOf(ParseDetokenizeRequest(J(R"({"tokens":[-1]})"), &d)), "tokens");
  EXPECT_EQ(ParamOf(ParseDetokenizeRequest(J(R"({})"), &d)), "tokens");
}

TEST(OpenAiRequest, VocabularyChecksNameTheField) {
  sample::SamplingParams p;
  p.logit_bias[600] = 1;
  EXPECT_EQ(ParamOf(ValidateSamplingParams(p, 512)), "logit_bias");
  p.logit_bias.clear();
  p.stop_token_ids = {511};
  EXPECT_EQ(ParamOf(ValidateSamplingParams(p, 512)), "<ok>");
  p.stop_token_ids = {512};
  EXPECT_EQ(ParamOf(ValidateSamplingParams(p, 512)), "stop_token_ids");
}

}  // namespace
}  // namespace pagoda::server
