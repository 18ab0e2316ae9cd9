#include "tokenizer/decoder.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;
constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// s with every `from` replaced by `to`, into *out; false (out untouched) when
// s has none.
bool ReplaceAllInto(const std::string& s, std::string_view from, std::string_view to, std::string* out) {
  if (from.empty()) return false;
  size_t pos = s.find(from);
  if (pos == std::string::npos) return false;
  out->clear();
  size_t prev = 0;
  while (pos != std::string::npos) {
    out->append(s, prev, pos - prev);
    out->append(to);
    prev = pos + from.size();
    pos = s.find(from, prev);
  }
  out->append(s, prev, std::string::npos);
  return true;
}

// Replaces every `from` in t by `to`, building in scratch and swapping it in.
void ReplaceAllInPlace(std::string& t, std::string_view from, std::string_view to, std::string& scratch) {
  if (ReplaceAllInto(t, from, to, &scratch)) t.swap(scratch);
}

class ByteLevelDecoder : public Decoder {
 public:
  void DecodeChain(DecodeBuffer& tokens) const override {
    const auto& map = ByteLevelMap::Get();
    std::string& bytes = tokens.scratch;
    bytes.clear();
    for (size_t k = 0; k < tokens.size(); ++k) {
      const std::string& t = tokens[k];
      const size_t mark = bytes.size();
      size_t i = 0;
      bool ok = true;
      while (i < t.size()) {
        int b = map.Decode(NextCodePoint(t, i));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!ok) {  // a char outside the byte map: HF keeps the token's own bytes
        bytes.resize(mark);
        bytes += t;
      }
    }
    if (tokens.size() == 0) tokens.Append();
    tokens[0].clear();
    Utf8LossyAppend(bytes, &tokens[0]);
    tokens.Truncate(1);
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::unique_ptr<Regex> re, std::string to)
      : from_(std::move(from)), re_(std::move(re)), to_(std::move(to)) {}
  void DecodeChain(DecodeBuffer& tokens) const override {
    for (size_t k = 0; k < tokens.size(); ++k) {
      std::string& t = tokens[k];
      if (!re_) {
        ReplaceAllInPlace(t, from_, to_, tokens.scratch);
        continue;
      }
      std::string& out = tokens.scratch;
      out.clear();
      size_t prev = 0;
      bool found = false;
      re_->FindAll(t, [&](size_t b, size_t e) {
        out.append(t, prev, b - prev);
        out += to_;
        prev = e;
        found = true;
      });
      if (!found) continue;
      out.append(t, prev, std::string::npos);
      t.swap(out);
    }
  }

 private:
  std::string from_;
  std::unique_ptr<Regex> re_;
  std::string to_;
};

int ParseByteToken(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char c = t[static_cast<size_t>(k)];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  return v;
}

// Runs of <0xNN> tokens become their bytes (one token) when valid UTF-8, else
// one U+FFFD token per byte. In place: a run of k tokens writes at most k, at
// positions already read.
class ByteFallbackDecoder : public Decoder {
 public:
  void DecodeChain(DecodeBuffer& tokens) const override {
    std::string& pending = tokens.scratch;
    pending.clear();
    size_t w = 0;
    auto flush = [&] {
      if (pending.empty()) return;
      if (IsValidUtf8(pending)) {
        tokens[w++].assign(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) tokens[w++].assign("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (size_t i = 0; i < tokens.size(); ++i) {
      const int b = ParseByteToken(tokens[i]);
      if (b >= 0) {
        pending.push_back(static_cast<char>(b));
        continue;
      }
      flush();
      if (w != i) tokens[w].swap(tokens[i]);
      ++w;
    }
    flush();
    tokens.Truncate(w);
  }
};

class FuseDecoder : public Decoder {
 public:
  void DecodeChain(DecodeBuffer& tokens) const override {
    if (tokens.size() == 0) tokens.Append();
    for (size_t i = 1; i < tokens.size(); ++i) tokens[0] += tokens[i];
    tokens.Truncate(1);
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void DecodeChain(DecodeBuffer& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && t.compare(b, content_.size(), content_) == 0 && b < e; ++k) b += content_.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k) {
        e -= content_.size();
      }
      t.erase(e);
      t.erase(0, b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void DecodeChain(DecodeBuffer& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      ReplaceAllInPlace(t, replacement_, " ", tokens.scratch);
      if (i == 0 && strip_first_ && !t.empty() && t[0] == ' ') t.erase(0, 1);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

// BPEDecoder: the end-of-word suffix becomes a space (none after the last token).
class BpeSuffixDecoder : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void DecodeChain(DecodeBuffer& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      ReplaceAllInPlace(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ", tokens.scratch);
    }
  }

 private:
  std::string suffix_;
};

class WordPieceDecoder : public Decoder {
 public:
  explicit WordPieceDecoder(std::string prefix) : prefix_(std::move(prefix)) {}
  void DecodeChain(DecodeBuffer& tokens) const override {
    for (size_t i = 1; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
      else t.insert(0, 1, ' ');
    }
  }

 private:
  std::string prefix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void DecodeChain(DecodeBuffer& tokens) const override {
    for (const auto& s : steps_) s->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> MakeByteLevelDecoder() { return std::make_unique<ByteLevelDecoder>(); }

std::unique_ptr<Decoder> MakeSpmDecoder(bool strip_leading_space) {
  std::vector<std::unique_ptr<Decoder>> steps;
  steps.push_back(std::make_unique<ReplaceDecoder>(std::string(kMetaspace), nullptr, " "));
  steps.push_back(std::make_unique<ByteFallbackDecoder>());
  steps.push_back(std::make_unique<FuseDecoder>());
  if (strip_leading_space) steps.push_back(std::make_unique<StripDecoder>(" ", 1, 0));
  return std::make_unique<SequenceDecoder>(std::move(steps));
}

Result<std::unique_ptr<Decoder>> Decoder::FromJson(const json& j) {
  using Ptr = std::unique_ptr<Decoder>;
  if (j.is_null()) return Ptr();
  const std::string type = j.at("type").get<std::string>();
  if (type == "ByteLevel") return MakeByteLevelDecoder();
  if (type == "ByteFallback") return Ptr(new ByteFallbackDecoder());
  if (type == "Fuse") return Ptr(new FuseDecoder());
  if (type == "Strip") {
    return Ptr(new StripDecoder(j.at("content").get<std::string>(), j.value("start", size_t{0}), j.value("stop", size_t{0})));
  }
  if (type == "Replace") {
    const auto& pat = j.at("pattern");
    std::string content = j.at("content").get<std::string>();
    if (pat.contains("String")) return Ptr(new ReplaceDecoder(pat.at("String").get<std::string>(), nullptr, content));
    PAGODA_ASSIGN_OR_RETURN(auto re, Regex::Compile(pat.at("Regex").get<std::string>()));
    return Ptr(new ReplaceDecoder("", std::move(re), content));
  }
  if (type == "Metaspace") {
    bool strip_first = true;
    if (j.contains("prepend_scheme")) strip_first = j.at("prepend_scheme").get<std::string>() != "never";
    else if (j.contains("add_prefix_space")) strip_first = j.at("add_prefix_space").get<bool>();
    return Ptr(new MetaspaceDecoder(j.value("replacement", std::string(kMetaspace)), strip_first));
  }
  if (type == "BPEDecoder") return Ptr(new BpeSuffixDecoder(j.value("suffix", std::string("</w>"))));
  if (type == "WordPiece") return Ptr(new WordPieceDecoder(j.value("prefix", std::string("##"))));
  if (type == "Sequence") {
    std::vector<Ptr> steps;
    for (const auto& sub : j.at("decoders")) {
      PAGODA_ASSIGN_OR_RETURN(auto d, FromJson(sub));
      if (d) steps.push_back(std::move(d));
    }
    return Ptr(new SequenceDecoder(std::move(steps)));
  }
  return Unimplemented("decoder type '" + type + "' is not supported");
}

}  // namespace pagoda::tokenizer
