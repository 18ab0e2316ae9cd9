#pragma once
// Helpers shared by the chat golden tests: reading committed golden files and the
// shared/ templates they point at.

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/template_source.h"

namespace pagoda::chat::testing {

inline std::filesystem::path SourceDir() { return PAGODA_SOURCE_DIR; }
inline std::filesystem::path SharedDir() { return PAGODA_SHARED_DIR; }
inline std::filesystem::path GoldenDir() { return SourceDir() / "tests/golden/chat"; }

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline nlohmann::ordered_json ReadJson(const std::filesystem::path& p) {
  return nlohmann::ordered_json::parse(ReadText(p), nullptr, false);
}

// The generator's fixed clock: 2025-03-14 09:26:53.
inline std::tm FixedNow() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 2;
  tm.tm_mday = 14;
  tm.tm_hour = 9;
  tm.tm_min = 26;
  tm.tm_sec = 53;
  tm.tm_wday = 5;  // Friday
  tm.tm_yday = 72;
  return tm;
}

// The template a golden file was rendered from, read from shared/ ("" when missing).
inline std::string LoadGoldenTemplate(const nlohmann::ordered_json& golden) {
  std::filesystem::path file = SharedDir() / golden["file"].get<std::string>();
  if (!std::filesystem::exists(file)) return "";
  std::string kind = golden["kind"].get<std::string>();
  std::string name = golden["name"].get<std::string>();
  if (kind == "jinja") return ReadText(file);
  nlohmann::ordered_json j = ReadJson(file);
  if (kind == "chat_template_json") return j["chat_template"].get<std::string>();
  if (kind == "ollama_index") return j[std::stoi(name)]["template"].get<std::string>();
  auto t = SelectChatTemplate(j["chat_template"], false, name);
  return t.ok() ? *t : "";
}

}  // namespace pagoda::chat::testing
