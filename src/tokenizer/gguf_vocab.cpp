// Tokenizer::FromGguf: builds the tokenizer.json equivalent of a GGUF vocabulary
// (tokenizer.ggml.*) and loads it through the same path as HF files. The result
// follows transformers' GGUF conversion (integrations/ggml.py), which is the
// golden reference: control tokens (type 3) become special added tokens, the
// model is BPE with byte_fallback, Llama-architecture files get a BOS template.
// The pre-tokenizer comes from tokenizer.ggml.pre, as llama.cpp maps it.

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "loader/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json ByteLevel(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", use_regex}};
}

json SplitIsolated(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// llama.cpp's pre-tokenizer names -> HF pre-tokenizer JSON.
Result<json> PreTokenizerFor(const std::string& pre) {
  if (pre.empty() || pre == "default" || pre == "gpt2" || pre == "gpt-2" || pre == "olmo" || pre == "stablelm2") {
    return ByteLevel(true);
  }
  if (pre == "smollm" || pre == "starcoder" || pre == "refact") {
    // Single digits first, then GPT-2's regex.
    return json{{"type", "Sequence"},
                {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}}, ByteLevel(true)})}};
  }
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "dbrx" || pre == "smaug-bpe") {
    return json{{"type", "Sequence"}, {"pretokenizers", json::array({SplitIsolated(kLlama3Pattern), ByteLevel(false)})}};
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
    return json{{"type", "Sequence"}, {"pretokenizers", json::array({SplitIsolated(kQwen2Pattern), ByteLevel(false)})}};
  }
  return Unimplemented("GGUF tokenizer.ggml.pre '" + pre + "' is not supported");
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const loader::GgufFile& gguf, GgufPreTokenizer mode) {
  const auto model = gguf.GetString("tokenizer.ggml.model");
  if (!model) return NotFound(gguf.path() + ": no tokenizer.ggml.model");
  const auto* tokens = gguf.GetStringArray("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->empty()) return NotFound(gguf.path() + ": no tokenizer.ggml.tokens");
  const auto* types = gguf.GetIntArray("tokenizer.ggml.token_type");
  if (types != nullptr && types->size() != tokens->size()) {
    return DataLoss(gguf.path() + ": tokenizer.ggml.token_type has " + std::to_string(types->size()) +
                    " entries for " + std::to_string(tokens->size()) + " tokens");
  }
  const std::string arch = gguf.GetString("general.architecture").value_or("");
  auto token_at = [&](const char* key) -> std::optional<std::string> {
    auto id = gguf.GetInt(key);
    if (!id || *id < 0 || static_cast<size_t>(*id) >= tokens->size()) return std::nullopt;
    return (*tokens)[static_cast<size_t>(*id)];
  };

  json vocab = json::object();
  for (size_t i = 0; i < tokens->size(); ++i) vocab[(*tokens)[i]] = static_cast<int32_t>(i);
  json added = json::array();
  if (types != nullptr) {
    for (size_t i = 0; i < tokens->size(); ++i) {
      if ((*types)[i] != 3) continue;  // 3 = control
      added.push_back({{"id", static_cast<int32_t>(i)}, {"content", (*tokens)[i]}, {"single_word", false},
                       {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
    }
  }

  json tj;
  json cfg = json::object();
  if (*model == "gpt2") {
    const auto* merges = gguf.GetStringArray("tokenizer.ggml.merges");
    if (merges == nullptr) return NotFound(gguf.path() + ": gpt2 vocabulary without tokenizer.ggml.merges");
    const std::string pre = gguf.GetString("tokenizer.ggml.pre").value_or("default");
    // transformers converts Llama-architecture gpt2 vocabularies with GPT-2's
    // regex whatever tokenizer.ggml.pre says; llama.cpp follows the name.
    const bool hf_llama = mode == GgufPreTokenizer::kTransformers && arch == "llama";
    PAGODA_ASSIGN_OR_RETURN(json pre_tok, PreTokenizerFor(hf_llama ? "default" : pre == "smoll" ? "smollm" : pre));
    json bpe = {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", *merges}, {"byte_fallback", true},
                {"fuse_unk", true}, {"ignore_merges", false}};
    if (auto unk = token_at("tokenizer.ggml.unknown_token_id")) bpe["unk_token"] = *unk;
    tj = {{"model", std::move(bpe)},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array()}}},
          {"pre_tokenizer", std::move(pre_tok)},
          {"decoder", {{"type", "Sequence"},
                       {"decoders", json::array({{{"type", "ByteFallback"}},
                                                 {{"type", "Fuse"}},
                                                 {{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                                                 ByteLevel(true)})}}},
          {"added_tokens", std::move(added)}};
    cfg["clean_up_tokenization_spaces"] = true;
  } else if (*model == "llama") {
    // sentencepiece BPE: merges from the scores, as transformers' GGUFTokenizerSkeleton.
    const auto* scores = gguf.GetFloatArray("tokenizer.ggml.scores");
    if (scores == nullptr || scores->size() != tokens->size()) {
      return DataLoss(gguf.path() + ": llama vocabulary needs one tokenizer.ggml.scores entry per token");
    }
    std::vector<std::tuple<double, int32_t, int32_t, std::string, std::string>> merges;
    for (size_t i = 0; i < tokens->size(); ++i) {
      const std::string& piece = (*tokens)[i];
      std::vector<std::tuple<int32_t, int32_t, std::string, std::string>> local;
      for (size_t k = 1; k < piece.size(); ++k) {
        if ((static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) continue;  // split on characters
        const std::string l = piece.substr(0, k), r = piece.substr(k);
        if (vocab.contains(l) && vocab.contains(r)) local.emplace_back(vocab[l].get<int32_t>(), vocab[r].get<int32_t>(), l, r);
      }
      std::sort(local.begin(), local.end());
      for (auto& [li, ri, l, r] : local) merges.emplace_back((*scores)[i], li, ri, l, r);
    }
    std::stable_sort(merges.begin(), merges.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
    json jm = json::array();
    for (const auto& m : merges) jm.push_back(json::array({std::get<3>(m), std::get<4>(m)}));
    const bool add_space = gguf.GetBool("tokenizer.ggml.add_space_prefix").value_or(true);
    json normalizers = json::array();
    if (add_space) normalizers.push_back({{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}});
    normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}});
    json decoders = json::array({{{"type", "ByteFallback"}},
                                 {{"type", "Fuse"}},
                                 {{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}}});
    if (add_space) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    json bpe = {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(jm)}, {"byte_fallback", true},
                {"fuse_unk", true}};
    if (auto unk = token_at("tokenizer.ggml.unknown_token_id")) bpe["unk_token"] = *unk;
    tj = {{"model", std::move(bpe)},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", std::move(normalizers)}}},
          {"pre_tokenizer", nullptr},
          {"decoder", {{"type", "Sequence"}, {"decoders", std::move(decoders)}}},
          {"added_tokens", std::move(added)}};
  } else {
    return Unimplemented(gguf.path() + ": tokenizer.ggml.model '" + *model + "' is not supported");
  }

  if (auto bos = token_at("tokenizer.ggml.bos_token_id")) cfg["bos_token"] = *bos;
  if (auto eos = token_at("tokenizer.ggml.eos_token_id")) cfg["eos_token"] = *eos;
  if (auto pad = token_at("tokenizer.ggml.padding_token_id")) cfg["pad_token"] = *pad;
  if (auto unk = token_at("tokenizer.ggml.unknown_token_id")) cfg["unk_token"] = *unk;
  if (auto tmpl = gguf.GetString("tokenizer.chat_template")) cfg["chat_template"] = *tmpl;
  if (arch == "llama") {
    // transformers loads these as LlamaTokenizerFast, whose add_bos_token default
    // (true) wins: it does not read tokenizer.ggml.add_bos_token.
    cfg["tokenizer_class"] = "LlamaTokenizerFast";
    cfg["add_bos_token"] = true;
    cfg["add_eos_token"] = false;
  } else {
    cfg["add_bos_token"] = gguf.GetBool("tokenizer.ggml.add_bos_token").value_or(false);
  }
  auto tok = FromJson(tj, cfg);
  if (!tok.ok()) return tok.status().WithContext(gguf.path());
  return tok;
}

}  // namespace pagoda::tokenizer
