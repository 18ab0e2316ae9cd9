#pragma once
// ChatTemplate: a Hugging Face chat template (a Jinja string), parsed once and rendered
// for a conversation exactly as transformers' apply_chat_template(tokenize=False) does.
//
// Thread safety: Parse from any thread; a parsed ChatTemplate is immutable and Render may
// be called concurrently from any number of threads.
//
// Inputs are nlohmann::ordered_json so that dicts keep their insertion order, as Python
// dicts do: `tojson` output (tool schemas, tool-call arguments) depends on it. A plain
// nlohmann::json converts implicitly, with its keys in sorted order.

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace pagoda::chat {

struct Stmt;

class ChatTemplate {
 public:
  // Syntax errors and unsupported tags come back as a Status naming the line.
  static Result<ChatTemplate> Parse(std::string_view source);

  struct Options {
    bool add_generation_prompt = false;
    // Render, then cut the output right after the final message's content (HF semantics).
    bool continue_final_message = false;
    // Special tokens; an empty string means "not set" (the variable stays undefined).
    std::string bos_token, eos_token;
    nlohmann::ordered_json special_tokens;  // other named tokens, {"pad_token": "<pad>", ...}
    nlohmann::ordered_json tools;           // null when none
    nlohmann::ordered_json documents;       // null when none
    nlohmann::ordered_json extra;           // chat_template_kwargs, merged into the context
    // The clock strftime_now() reads (local time when empty); injectable for tests.
    std::function<std::tm()> clock;
  };

  // messages: a JSON array of message objects (role, content as string or list of
  // parts, tool_calls, tool_call_id, name, reasoning_content ...). Keys whose value is
  // null are dropped first, as apply_chat_template does.
  // Errors: InvalidArgument for bad input, a template's raise_exception() (the message is
  // the template's) and runtime errors; Unimplemented for a construct this interpreter
  // does not support. The message names the line.
  Result<std::string> Render(const nlohmann::ordered_json& messages, const Options& opts) const;

  const std::string& source() const { return *source_; }

 private:
  struct Parsed;
  std::shared_ptr<const Parsed> parsed_;
  std::shared_ptr<const std::string> source_;
};

}  // namespace pagoda::chat
