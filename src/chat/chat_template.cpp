#include "chat/chat_template.h"

#include "chat/ast.h"
#include "chat/interpreter.h"
#include "chat/parser.h"
#include "chat/py_string.h"

namespace pagoda::chat {

struct ChatTemplate::Parsed {
  Body body;
};

namespace {

constexpr std::string_view kContinueTag = "CONTINUE_FINAL_MESSAGE_TAG ";

Status ToStatus(const TemplateError& e) {
  std::string where = e.line() > 0 ? " (template line " + std::to_string(e.line()) + ")" : "";
  switch (e.kind()) {
    case ErrorKind::kSyntax: return InvalidArgument("chat template syntax error: " + e.message() + where);
    case ErrorKind::kUnsupported: return Unimplemented("chat template uses " + e.message() + where);
    case ErrorKind::kRaised: return InvalidArgument("chat template raised an exception: " + e.message() + where);
    case ErrorKind::kUndefined: return InvalidArgument("chat template error: UndefinedError: " + e.message() + where);
    case ErrorKind::kSecurity: return InvalidArgument("chat template error: SecurityError: " + e.message() + where);
    case ErrorKind::kType: break;
  }
  return InvalidArgument("chat template error: " + e.message() + where);
}

std::tm LocalNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

// transformers' _alias_reasoning_fields: {"thinking": r, **message, "reasoning_content": r}.
nlohmann::ordered_json AliasReasoning(const nlohmann::ordered_json& m) {
  static const char* kFields[] = {"reasoning_content", "thinking", "reasoning"};
  const nlohmann::ordered_json* reasoning = nullptr;
  for (const char* f : kFields) {
    auto it = m.find(f);
    if (it != m.end() && !it->is_null()) {
      reasoning = &*it;
      break;
    }
  }
  if (reasoning == nullptr) return m;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["thinking"] = *reasoning;
  for (auto it = m.begin(); it != m.end(); ++it) out[it.key()] = it.value();
  out["reasoning_content"] = *reasoning;
  return out;
}

}  // namespace

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  ChatTemplate t;
  auto parsed = std::make_shared<Parsed>();
  try {
    parsed->body = ParseTemplate(source);
  } catch (const TemplateError& e) {
    return ToStatus(e);
  }
  t.parsed_ = std::move(parsed);
  t.source_ = std::make_shared<const std::string>(source);
  return t;
}

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& messages, const Options& opts) const {
  if (!messages.is_array()) return InvalidArgument("chat messages must be a JSON array");
  if (messages.empty()) return InvalidArgument("Cannot apply chat template to an empty conversation");
  if (opts.continue_final_message && opts.add_generation_prompt)
    return InvalidArgument("continue_final_message and add_generation_prompt are not compatible");

  nlohmann::ordered_json chat = nlohmann::ordered_json::array();
  for (const auto& m : messages) {
    if (!m.is_object()) return InvalidArgument("chat messages must be JSON objects, got " + m.dump());
    nlohmann::ordered_json clean = nlohmann::ordered_json::object();
    for (auto it = m.begin(); it != m.end(); ++it)
      if (!it->is_null()) clean[it.key()] = it.value();
    chat.push_back(AliasReasoning(clean));
  }
  if (!opts.documents.is_null()) {
    if (!opts.documents.is_array()) return InvalidArgument("documents must be a list of objects");
    for (const auto& d : opts.documents)
      if (!d.is_object()) return InvalidArgument("Documents should be a list of dicts with 'title' and 'text' keys!");
  }

  std::string final_text;
  if (opts.continue_final_message) {
    auto& last = chat.back();
    auto it = last.find("content");
    if (it == last.end()) return InvalidArgument("continue_final_message is set but the final message has no \"content\" to continue!");
    if (source_->find("content") == std::string::npos)
      return InvalidArgument("continue_final_message is set to \"content\" but this is not an accepted field in the chat_template");
    if (it->is_array()) {
      bool found = false;
      for (auto part = it->rbegin(); part != it->rend(); ++part) {
        if (part->is_object() && part->contains("text") && (*part)["text"].is_string()) {
          final_text = (*part)["text"].get<std::string>();
          (*part)["text"] = final_text + std::string(kContinueTag);
          found = true;
          break;
        }
      }
      if (!found) return InvalidArgument("continue_final_message is set but we could not find any text to continue in the final message!");
    } else if (it->is_string()) {
      final_text = it->get<std::string>();
      *it = final_text + std::string(kContinueTag);
    } else {
      return InvalidArgument("continue_final_message needs string content in the final message");
    }
  }

  DictData ctx;
  if (!opts.bos_token.empty()) ctx.Set("bos_token", Value::String(opts.bos_token));
  if (!opts.eos_token.empty()) ctx.Set("eos_token", Value::String(opts.eos_token));
  if (opts.special_tokens.is_object()) {
    for (auto it = opts.special_tokens.begin(); it != opts.special_tokens.end(); ++it)
      if (!it->is_null()) ctx.Set(it.key(), Value::FromJson(it.value()));
  }
  if (!opts.extra.is_null()) {
    if (!opts.extra.is_object()) return InvalidArgument("chat_template_kwargs must be a JSON object");
    for (auto it = opts.extra.begin(); it != opts.extra.end(); ++it) {
      const std::string& k = it.key();
      if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt")
        return InvalidArgument("chat_template_kwargs may not set '" + k + "'");
      ctx.Set(k, Value::FromJson(it.value()));
    }
  }
  ctx.Set("messages", Value::FromJson(chat));
  ctx.Set("tools", Value::FromJson(opts.tools));
  ctx.Set("documents", Value::FromJson(opts.documents));
  ctx.Set("add_generation_prompt", Value::Bool(opts.add_generation_prompt));

  std::string rendered;
  try {
    Interpreter in(parsed_->body, Value::Dict(std::move(ctx)), opts.clock ? opts.clock : Clock(LocalNow));
    rendered = in.Render();
  } catch (const TemplateError& e) {
    return ToStatus(e);
  }

  if (opts.continue_final_message) {
    const std::string tag = py::Strip(kContinueTag, true, true);
    if (rendered.find(py::Strip(final_text, true, true)) == std::string::npos || rendered.find(tag) == std::string::npos)
      return InvalidArgument("continue_final_message is set but the final message does not appear in the chat after applying the chat template");
    size_t loc = rendered.rfind(tag);
    if (rendered.compare(loc, kContinueTag.size(), kContinueTag) == 0) {
      rendered.resize(loc);
    } else {
      rendered = py::Strip(std::string_view(rendered).substr(0, loc), false, true);
    }
  }
  return rendered;
}

}  // namespace pagoda::chat
