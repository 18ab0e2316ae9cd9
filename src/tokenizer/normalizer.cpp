#include "tokenizer/normalizer.h"

#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void Normalize(std::string& s) const override {
    for (const auto& n : steps_) n->Normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void Normalize(std::string& s) const override { s = NormalizeUnicode(s, form_); }

 private:
  NormalForm form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void Normalize(std::string& s) const override { s = ToLowerUnicode(s); }
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void Normalize(std::string& s) const override {
    if (!s.empty()) s = prepend_ + s;
  }

 private:
  std::string prepend_;
};

// Replace: a literal string or a regex, every non-overlapping occurrence.
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string pattern, std::unique_ptr<Regex> re, std::string content)
      : pattern_(std::move(pattern)), re_(std::move(re)), content_(std::move(content)) {}
  void Normalize(std::string& s) const override {
    std::string out;
    size_t prev = 0;
    if (re_) {
      re_->FindAll(s, [&](size_t b, size_t e) {
        out.append(s, prev, b - prev);
        out += content_;
        prev = e;
      });
    } else {
      if (pattern_.empty()) return;
      size_t pos = s.find(pattern_);
      if (pos == std::string::npos) return;
      while (pos != std::string::npos) {
        out.append(s, prev, pos - prev);
        out += content_;
        prev = pos + pattern_.size();
        pos = s.find(pattern_, prev);
      }
    }
    out.append(s, prev, std::string::npos);
    s = std::move(out);
  }

 private:
  std::string pattern_;
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void Normalize(std::string& s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!IsWhitespace(NextCodePoint(s, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!IsWhitespace(NextCodePoint(s, i))) break;
        e = start;
      }
    }
    s = s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class StripAccentsNormalizer : public Normalizer {
 public:
  void Normalize(std::string& s) const override {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = i;
      char32_t c = NextCodePoint(s, i);
      if (!IsMark(c)) out.append(s, start, i - start);
    }
    s = std::move(out);
  }
};

// BertNormalizer: clean text (drop controls, whitespace -> ' '), pad CJK chars
// with spaces, optional accent stripping and lowercasing.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool cjk, bool strip_accents, bool lowercase)
      : clean_(clean), cjk_(cjk), strip_accents_(strip_accents), lowercase_(lowercase) {}
  void Normalize(std::string& s) const override {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = i;
      char32_t c = NextCodePoint(s, i);
      if (clean_) {
        if (c == 0 || c == 0xFFFD) continue;
        if (c == '\t' || c == '\n' || c == '\r' || IsWhitespace(c)) {
          out.push_back(' ');
          continue;
        }
        if (c < 0x20 || (c >= 0x7F && c < 0xA0)) continue;
      }
      const bool is_cjk = (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
                          (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
                          (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
                          (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
      if (cjk_ && is_cjk) {
        out.push_back(' ');
        out.append(s, start, i - start);
        out.push_back(' ');
      } else {
        out.append(s, start, i - start);
      }
    }
    if (strip_accents_) {
      out = NormalizeUnicode(out, NormalForm::kNfd);
      StripAccentsNormalizer().Normalize(out);
    }
    if (lowercase_) out = ToLowerUnicode(out);
    s = std::move(out);
  }

 private:
  bool clean_, cjk_, strip_accents_, lowercase_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> Normalizer::FromJson(const json& j) {
  if (j.is_null()) return std::unique_ptr<Normalizer>();
  if (!j.is_object() || !j.contains("type")) return InvalidArgument("normalizer: expected an object with a type");
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& sub : j.at("normalizers")) {
      PAGODA_ASSIGN_OR_RETURN(auto n, FromJson(sub));
      if (n) steps.push_back(std::move(n));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(steps)));
  }
  if (type == "NFC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfc));
  if (type == "NFD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfd));
  if (type == "NFKC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfkc));
  if (type == "NFKD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(NormalForm::kNfkd));
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
  if (type == "Prepend") return std::unique_ptr<Normalizer>(new PrependNormalizer(j.at("prepend").get<std::string>()));
  if (type == "Strip") {
    return std::unique_ptr<Normalizer>(
        new StripNormalizer(j.value("strip_left", true), j.value("strip_right", true)));
  }
  if (type == "StripAccents") return std::unique_ptr<Normalizer>(new StripAccentsNormalizer());
  if (type == "Replace") {
    const auto& pat = j.at("pattern");
    std::string content = j.at("content").get<std::string>();
    if (pat.contains("String")) {
      return std::unique_ptr<Normalizer>(new ReplaceNormalizer(pat.at("String").get<std::string>(), nullptr, content));
    }
    PAGODA_ASSIGN_OR_RETURN(auto re, Regex::Compile(pat.at("Regex").get<std::string>()));
    return std::unique_ptr<Normalizer>(new ReplaceNormalizer("", std::move(re), content));
  }
  if (type == "BertNormalizer") {
    const bool lowercase = j.value("lowercase", true);
    bool strip = lowercase;
    if (j.contains("strip_accents") && !j.at("strip_accents").is_null()) strip = j.at("strip_accents").get<bool>();
    bool cjk = j.value("handle_chinese_chars", true);
    return std::unique_ptr<Normalizer>(new BertNormalizer(j.value("clean_text", true), cjk, strip, lowercase));
  }
  return Unimplemented("normalizer type '" + type + "' is not supported");
}

}  // namespace pagoda::tokenizer
