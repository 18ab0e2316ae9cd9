#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tokenizer/bpe_model.h"
#include "tokenizer/unigram_model.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;

Result<json> ReadJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLoss(path + ": invalid JSON");
  return j;
}

// A token in tokenizer_config.json: "text", {"content": ...} or null.
std::string TokenString(const json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return "";
  const json& v = config.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) return v.at("content").get<std::string>();
  return "";
}

AddedToken ParseAddedToken(const json& j, int32_t id) {
  AddedToken t;
  t.content = j.at("content").get<std::string>();
  t.id = id;
  t.special = j.value("special", false);
  t.lstrip = j.value("lstrip", false);
  t.rstrip = j.value("rstrip", false);
  t.single_word = j.value("single_word", false);
  t.normalized = j.value("normalized", !t.special);
  return t;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void CleanUpTokenizationSpacesInPlace(std::string* text, std::string* scratch) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    size_t pos = text->find(from);
    if (pos == std::string::npos) continue;
    scratch->clear();
    size_t prev = 0;
    while (pos != std::string::npos) {
      scratch->append(*text, prev, pos - prev);
      scratch->append(to);
      prev = pos + from.size();
      pos = text->find(from, prev);
    }
    scratch->append(*text, prev, std::string::npos);
    text->swap(*scratch);
  }
}

std::string CleanUpTokenizationSpaces(std::string text) {
  std::string scratch;
  CleanUpTokenizationSpacesInPlace(&text, &scratch);
  return text;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromDirectory(const std::string& dir) {
  const std::string cfg = dir + "/tokenizer_config.json";
  std::ifstream probe(cfg);
  PAGODA_ASSIGN_OR_RETURN(auto tok, FromFile(dir + "/tokenizer.json", probe ? cfg : std::string()));
  if (tok->chat_template_.empty()) {
    std::ifstream in(dir + "/chat_template.jinja", std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      tok->chat_template_ = ss.str();
    }
  }
  return tok;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& tokenizer_json,
                                                       const std::string& tokenizer_config_json) {
  PAGODA_ASSIGN_OR_RETURN(json tj, ReadJson(tokenizer_json));
  json cj;
  if (!tokenizer_config_json.empty()) {
    PAGODA_ASSIGN_OR_RETURN(cj, ReadJson(tokenizer_config_json));
  }
  auto tok = FromJson(tj, cj);
  if (!tok.ok()) return tok.status().WithContext(tokenizer_json);
  return tok;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(const json& tj, const json& cj) {
  if (!tj.is_object() || !tj.contains("model")) return InvalidArgument("tokenizer.json has no model");
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  try {
    const json& model = tj.at("model");
    const std::string type = model.value("type", std::string(model.contains("merges") ? "BPE" : ""));
    if (type == "BPE") {
      PAGODA_ASSIGN_OR_RETURN(tok->model_, BpeModel::FromJson(model));
    } else if (type == "Unigram") {
      PAGODA_ASSIGN_OR_RETURN(tok->model_, UnigramModel::FromJson(model));
    } else {
      return Unimplemented("model type '" + type + "' is not supported");
    }
    auto field = [&](const char* key) -> const json& {
      static const json kNull;
      return tj.contains(key) ? tj.at(key) : kNull;
    };
    PAGODA_ASSIGN_OR_RETURN(tok->normalizer_, Normalizer::FromJson(field("normalizer")));
    PAGODA_ASSIGN_OR_RETURN(tok->pre_tokenizer_, PreTokenizer::FromJson(field("pre_tokenizer")));
    PAGODA_ASSIGN_OR_RETURN(tok->post_processor_, PostProcessor::FromJson(field("post_processor")));
    PAGODA_ASSIGN_OR_RETURN(tok->decoder_, Decoder::FromJson(field("decoder")));
    if (tj.contains("added_tokens")) {
      for (const auto& a : tj.at("added_tokens")) tok->added_.Add(ParseAddedToken(a, a.at("id").get<int32_t>()));
    }
    if (cj.is_object()) PAGODA_RETURN_IF_ERROR(tok->ApplyConfig(cj));
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed tokenizer JSON: ") + e.what());
  }
  tok->added_.Build(tok->normalizer_.get());
  tok->ResolveSpecialIds();
  return tok;
}

Status Tokenizer::ApplyConfig(const json& cj) {
  bos_token_ = TokenString(cj, "bos_token");
  eos_token_ = TokenString(cj, "eos_token");
  pad_token_ = TokenString(cj, "pad_token");
  unk_token_ = TokenString(cj, "unk_token");
  clean_up_tokenization_spaces_ = cj.value("clean_up_tokenization_spaces", false);
  if (cj.contains("chat_template")) {
    const json& ct = cj.at("chat_template");
    if (ct.is_string()) {
      chat_template_ = ct.get<std::string>();
    } else if (ct.is_array()) {  // [{"name": ..., "template": ...}]: the default one
      for (const auto& t : ct) {
        if (t.value("name", std::string()) == "default" || chat_template_.empty()) {
          chat_template_ = t.value("template", std::string());
        }
      }
    }
  }
  // transformers adds the config's added_tokens_decoder entries that tokenizer.json
  // lacks, then the named special tokens that are still missing (as special).
  auto add_missing = [&](AddedToken t) {
    if (added_.FindByContent(t.content) != nullptr) return;
    if (t.id < 0) {
      auto id = model_->TokenToId(t.content);
      t.id = id ? *id : std::max(model_->vocab_size(), added_.max_id() + 1);
    }
    added_.Add(std::move(t));
  };
  if (cj.contains("added_tokens_decoder") && cj.at("added_tokens_decoder").is_object()) {
    std::vector<std::pair<int32_t, AddedToken>> extra;
    for (auto it = cj.at("added_tokens_decoder").begin(); it != cj.at("added_tokens_decoder").end(); ++it) {
      const int32_t id = std::stoi(it.key());
      extra.emplace_back(id, ParseAddedToken(it.value(), id));
    }
    std::sort(extra.begin(), extra.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, t] : extra) add_missing(std::move(t));
  }
  std::vector<std::string> specials = {bos_token_, eos_token_, unk_token_, pad_token_};
  if (cj.contains("additional_special_tokens") && cj.at("additional_special_tokens").is_array()) {
    for (const auto& s : cj.at("additional_special_tokens")) {
      if (s.is_string()) specials.push_back(s.get<std::string>());
      else if (s.is_object() && s.contains("content")) specials.push_back(s.at("content").get<std::string>());
    }
  }
  for (const auto& s : specials) {
    if (s.empty()) continue;
    AddedToken t;
    t.content = s;
    t.special = true;
    add_missing(std::move(t));
  }
  // LlamaTokenizerFast / GemmaTokenizerFast rebuild the post-processor from
  // add_bos_token / add_eos_token when they load.
  std::string cls = cj.value("tokenizer_class", std::string());
  if (EndsWith(cls, "Fast")) cls.resize(cls.size() - 4);
  if (cls == "LlamaTokenizer" || cls == "GemmaTokenizer" || cls == "CodeLlamaTokenizer") {
    auto flag = [&](const char* key, bool def) {
      return cj.contains(key) && cj.at(key).is_boolean() ? cj.at(key).get<bool>() : def;
    };
    const bool add_bos = flag("add_bos_token", true), add_eos = flag("add_eos_token", false);
    std::vector<int32_t> prefix, suffix;
    auto lookup = [&](const std::string& s) -> std::optional<int32_t> {
      if (s.empty()) return std::nullopt;
      if (const AddedToken* a = added_.FindByContent(s)) return a->id;
      return model_->TokenToId(s);
    };
    if (add_bos) {
      auto id = lookup(bos_token_);
      if (!id) return InvalidArgument("add_bos_token is set but bos_token is missing");
      prefix.push_back(*id);
    }
    if (add_eos) {
      auto id = lookup(eos_token_);
      if (!id) return InvalidArgument("add_eos_token is set but eos_token is missing");
      suffix.push_back(*id);
    }
    post_processor_ = MakeTemplate(std::move(prefix), std::move(suffix));
  }
  return Status::Ok();
}

void Tokenizer::ResolveSpecialIds() {
  auto lookup = [&](const std::string& s) -> std::optional<int32_t> {
    if (s.empty()) return std::nullopt;
    return TokenToId(s);
  };
  bos_id_ = lookup(bos_token_);
  eos_id_ = lookup(eos_token_);
  pad_id_ = lookup(pad_token_);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  std::string repaired;
  if (!IsValidUtf8(text)) {  // HF only sees valid str; our regexes need valid UTF-8
    repaired = Utf8Lossy(text);
    text = repaired;
  }
  Pieces pieces;
  if (!text.empty()) pieces.push_back(Piece{std::string(text), -1, true});
  added_.Split(pieces, /*want_normalized=*/false);
  if (normalizer_) {
    for (auto& p : pieces) {
      if (p.token_id < 0) normalizer_->Normalize(p.text);
    }
    std::erase_if(pieces, [](const Piece& p) { return p.token_id < 0 && p.text.empty(); });
  }
  added_.Split(pieces, /*want_normalized=*/true);
  if (pre_tokenizer_) pre_tokenizer_->PreTokenize(pieces);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  for (const auto& p : pieces) {
    if (p.token_id >= 0) {
      ids.push_back(p.token_id);
    } else {
      model_->Tokenize(p.text, ids);
    }
  }
  if (add_special_tokens && post_processor_) post_processor_->Process(ids);
  return ids;
}

void Tokenizer::DecodeTo(std::span<const int32_t> ids, bool skip_special_tokens, DecodeBuffer* buf, std::string* out) const {
  buf->Clear();
  for (int32_t id : ids) {
    if (const AddedToken* a = added_.FindById(id)) {
      if (skip_special_tokens && a->special) continue;
      buf->Append().assign(a->content);
    } else if (const std::string* t = model_->IdToToken(id); t != nullptr && !t->empty()) {
      buf->Append().assign(*t);
    }
  }
  out->clear();
  if (decoder_) {
    decoder_->DecodeChain(*buf);
    for (size_t i = 0; i < buf->size(); ++i) out->append((*buf)[i]);
  } else {
    for (size_t i = 0; i < buf->size(); ++i) {
      if (i) out->push_back(' ');
      out->append((*buf)[i]);
    }
  }
  if (clean_up_tokenization_spaces_) CleanUpTokenizationSpacesInPlace(out, &buf->scratch);
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  DecodeBuffer buf;
  std::string text;
  DecodeTo(ids, skip_special_tokens, &buf, &text);
  return text;
}

int32_t Tokenizer::vocab_size() const { return std::max(model_->vocab_size(), added_.max_id() + 1); }

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (const AddedToken* a = added_.FindByContent(token)) return a->id;
  return model_->TokenToId(token);
}

const std::string* Tokenizer::FindToken(int32_t id) const {
  if (const AddedToken* a = added_.FindById(id)) return &a->content;
  return model_->IdToToken(id);
}

std::string Tokenizer::IdToToken(int32_t id) const {
  const std::string* t = FindToken(id);
  return t ? *t : std::string();
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const AddedToken* a = added_.FindById(id);
  return a != nullptr && a->special;
}

std::vector<std::vector<int32_t>> BadWordsIds(const Tokenizer& tok, const std::vector<std::string>& words) {
  std::vector<std::vector<int32_t>> out;
  for (const std::string& w : words) {
    for (const std::string& form : {w, " " + w}) {
      std::vector<int32_t> ids = tok.Encode(form, false);
      if (!ids.empty() && std::find(out.begin(), out.end(), ids) == out.end()) out.push_back(std::move(ids));
    }
  }
  return out;
}

}  // namespace pagoda::tokenizer
