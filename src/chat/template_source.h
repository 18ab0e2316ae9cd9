#pragma once
// Where a model's chat template comes from: tokenizer_config.json's "chat_template"
// (a string, or a list of {name, template}), chat_template.jinja, chat_template.json.

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace pagoda::chat {

// Picks the template transformers would use from a "chat_template" value: a string is
// used as is; from a list of named templates, `name` when given, else "tool_use" when
// tools are given and it exists, else "default". NotFound when there is none.
Result<std::string> SelectChatTemplate(const nlohmann::ordered_json& value, bool has_tools,
                                       std::string_view name = "");

// The model folder's template, in transformers' order of precedence: chat_template.jinja,
// then tokenizer_config.json's chat_template, then chat_template.json (processor style).
// NotFound, with a message saying the model has no chat template, when none exists.
Result<std::string> LoadChatTemplate(const std::filesystem::path& model_dir, bool has_tools = false,
                                     std::string_view name = "");

// The special tokens in a tokenizer_config.json, as apply_chat_template passes them
// (bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token; AddedToken
// objects reduced to their content; nulls left out).
nlohmann::ordered_json SpecialTokensFromConfig(const nlohmann::ordered_json& tokenizer_config);

}  // namespace pagoda::chat
