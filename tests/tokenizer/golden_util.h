#pragma once
// Reads the committed golden files (tests/golden/tokenizer/*.jsonl) written by
// tools/golden/tokenizer/make_golden.py from HF tokenizers / transformers.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer::testing {

inline std::string GoldenDir() { return std::string(PAGODA_SOURCE_DIR) + "/tests/golden/tokenizer"; }
inline std::string SharedDir() { return std::string(PAGODA_SHARED_DIR); }

struct GoldenCase {
  std::string name;
  std::string text;
  std::vector<int32_t> ids, ids_plain;
  nlohmann::json dec, dec_skip;  // string, or {"fnv1a64", "bytes"} for long ones
};

struct GoldenFile {
  std::string name;
  nlohmann::json header;
  std::vector<GoldenCase> cases;
};

inline std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

inline std::vector<std::string> GoldenNames() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(GoldenDir())) {
    const std::string f = e.path().filename().string();
    if (e.path().extension() == ".jsonl" && f != "corpus.jsonl" && f.rfind("gguf-", 0) != 0) {
      names.push_back(e.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline GoldenFile LoadGolden(const std::string& name) {
  GoldenFile g;
  g.name = name;
  auto corpus = ReadJsonl(GoldenDir() + "/corpus.jsonl");
  auto lines = ReadJsonl(GoldenDir() + "/" + name + ".jsonl");
  g.header = lines.at(0);
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto& l = lines[i];
    GoldenCase c;
    c.name = l.at("name").get<std::string>();
    for (const auto& cj : corpus) {
      if (cj.at("name") == c.name) c.text = cj.at("text").get<std::string>();
    }
    c.ids = l.at("ids").get<std::vector<int32_t>>();
    c.ids_plain = l.at("ids_plain").get<std::vector<int32_t>>();
    c.dec = l.at("dec");
    c.dec_skip = l.at("dec_skip");
    g.cases.push_back(std::move(c));
  }
  return g;
}

inline std::unique_ptr<Tokenizer> LoadGoldenTokenizer(const nlohmann::json& header) {
  const std::string tj = SharedDir() + "/" + header.at("tokenizer_json").get<std::string>();
  std::string cfg;
  if (header.contains("config_dir") && header.at("config_dir").is_string()) {
    cfg = SharedDir() + "/" + header.at("config_dir").get<std::string>() + "/tokenizer_config.json";
  }
  auto r = Tokenizer::FromFile(tj, cfg);
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

inline std::string Fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char b : s) {
    h ^= b;
    h *= 0x100000001B3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// True when text matches a golden decode field (inline string or hash).
inline bool MatchesDecoded(const nlohmann::json& want, const std::string& got) {
  if (want.is_string()) return want.get<std::string>() == got;
  return want.at("fnv1a64").get<std::string>() == Fnv1a64(got) &&
         want.at("bytes").get<size_t>() == got.size();
}

inline std::string FirstDiff(const std::vector<int32_t>& want, const std::vector<int32_t>& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  auto show = [&](const std::vector<int32_t>& v) {
    std::string s;
    for (size_t k = i; k < std::min(v.size(), i + 8); ++k) s += std::to_string(v[k]) + " ";
    return s;
  };
  return "sizes " + std::to_string(want.size()) + " vs " + std::to_string(got.size()) + ", first diff at " +
         std::to_string(i) + ": want [" + show(want) + "] got [" + show(got) + "]";
}

}  // namespace pagoda::tokenizer::testing
