#include "chat/template_source.h"

#include <fstream>
#include <sstream>

namespace pagoda::chat {
namespace {

Result<std::string> ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return NotFound("cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<nlohmann::ordered_json> ReadJson(const std::filesystem::path& p) {
  PAGODA_ASSIGN_OR_RETURN(std::string text, ReadFile(p));
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLoss(p.string() + " is not valid JSON");
  return j;
}

}  // namespace

Result<std::string> SelectChatTemplate(const nlohmann::ordered_json& value, bool has_tools, std::string_view name) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    auto find = [&](std::string_view n) -> const nlohmann::ordered_json* {
      for (const auto& e : value) {
        if (e.is_object() && e.contains("name") && e["name"].is_string() && e["name"].get<std::string>() == n &&
            e.contains("template") && e["template"].is_string())
          return &e["template"];
      }
      return nullptr;
    };
    if (!name.empty()) {
      if (const auto* t = find(name)) return t->get<std::string>();
      return NotFound("the model has no chat template named '" + std::string(name) + "'");
    }
    if (has_tools) {
      if (const auto* t = find("tool_use")) return t->get<std::string>();
    }
    if (const auto* t = find("default")) return t->get<std::string>();
    return NotFound("the model has several chat templates and none is named 'default'");
  }
  if (value.is_null()) return NotFound("the model has no chat template");
  return InvalidArgument("chat_template must be a string or a list of {name, template}");
}

Result<std::string> LoadChatTemplate(const std::filesystem::path& model_dir, bool has_tools, std::string_view name) {
  std::error_code ec;
  auto jinja = model_dir / "chat_template.jinja";
  if (name.empty() && std::filesystem::exists(jinja, ec)) return ReadFile(jinja);
  auto config = model_dir / "tokenizer_config.json";
  if (std::filesystem::exists(config, ec)) {
    PAGODA_ASSIGN_OR_RETURN(nlohmann::ordered_json cfg, ReadJson(config));
    if (cfg.is_object() && cfg.contains("chat_template") && !cfg["chat_template"].is_null()) {
      auto r = SelectChatTemplate(cfg["chat_template"], has_tools, name);
      if (!r.ok()) return r.status().WithContext(config.string());
      return r;
    }
  }
  auto processor = model_dir / "chat_template.json";
  if (name.empty() && std::filesystem::exists(processor, ec)) {
    PAGODA_ASSIGN_OR_RETURN(nlohmann::ordered_json j, ReadJson(processor));
    if (j.is_object() && j.contains("chat_template") && j["chat_template"].is_string())
      return j["chat_template"].get<std::string>();
    return DataLoss(processor.string() + " has no \"chat_template\" string");
  }
  return NotFound("the model in " + model_dir.string() +
                  " has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json, no "
                  "chat_template.json); chat requests need one, e.g. from --chat-template FILE");
}

nlohmann::ordered_json SpecialTokensFromConfig(const nlohmann::ordered_json& cfg) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  if (!cfg.is_object()) return out;
  for (const char* k : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    auto it = cfg.find(k);
    if (it == cfg.end() || it->is_null()) continue;
    if (it->is_string()) {
      out[k] = *it;
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      out[k] = (*it)["content"];
    }
  }
  return out;
}

}  // namespace pagoda::chat
