#include "tokenizer/pre_tokenizer.h"

#include <functional>
#include <utility>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

using nlohmann::json;

struct Segment {
  size_t begin, end;
  bool match;
};
using Range = std::pair<size_t, size_t>;

// HF Pattern::find_matches: segments covering the text, alternating non-match / match.
template <typename ForEachMatch>
std::vector<Segment> Segments(std::string_view text, ForEachMatch&& for_each_match) {
  std::vector<Segment> segs;
  size_t prev = 0;
  for_each_match([&](size_t b, size_t e) {
    if (prev != b) segs.push_back({prev, b, false});
    segs.push_back({b, e, true});
    prev = e;
  });
  if (prev != text.size()) segs.push_back({prev, text.size(), false});
  return segs;
}

// HF NormalizedString::split: applies the delimiter behavior.
std::vector<Range> ApplyBehavior(std::vector<Segment> segs, SplitBehavior behavior, bool invert) {
  if (invert) {
    for (auto& s : segs) s.match = !s.match;
  }
  std::vector<Range> out;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& s : segs) out.push_back({s.begin, s.end});
      break;
    case SplitBehavior::kRemoved:
      for (const auto& s : segs) {
        if (!s.match) out.push_back({s.begin, s.end});
      }
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const auto& s : segs) {
        if (s.match && !prev_match && !out.empty()) {
          out.back().second = s.end;
        } else {
          out.push_back({s.begin, s.end});
        }
        prev_match = s.match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      std::vector<Range> rev;
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->match && !prev_match && !rev.empty()) {
          rev.back().first = it->begin;
        } else {
          rev.push_back({it->begin, it->end});
        }
        prev_match = it->match;
      }
      out.assign(rev.rbegin(), rev.rend());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      bool first = true;
      for (const auto& s : segs) {
        if (!first && s.match == prev_match) {
          out.back().second = s.end;
        } else {
          out.push_back({s.begin, s.end});
        }
        prev_match = s.match;
        first = false;
      }
      break;
    }
  }
  return out;
}

// Splits every untokenized piece with fn(text) -> ranges, dropping empty results.
template <typename Fn>
void SplitPieces(Pieces& pieces, Fn&& fn) {
  Pieces out;
  out.reserve(pieces.size() * 2);
  for (auto& p : pieces) {
    if (p.token_id >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    for (const auto& [b, e] : fn(std::string_view(p.text))) {
      if (e <= b) continue;
      Piece np;
      np.text = p.text.substr(b, e - b);
      np.at_start = p.at_start && b == 0;
      out.push_back(std::move(np));
    }
  }
  pieces = std::move(out);
}

// Each char satisfying pred is one match (HF's Fn(char) -> bool pattern).
template <typename Pred>
std::vector<Segment> CharSegments(std::string_view text, Pred&& pred) {
  return Segments(text, [&](auto&& emit) {
    size_t i = 0;
    while (i < text.size()) {
      size_t start = i;
      char32_t c = NextCodePoint(text, i);
      if (pred(c)) emit(start, i);
    }
  });
}

class RegexSplit : public PreTokenizer {
 public:
  RegexSplit(std::unique_ptr<Regex> re, SplitBehavior behavior, bool invert)
      : re_(std::move(re)), behavior_(behavior), invert_(invert) {}
  void PreTokenize(Pieces& pieces) const override {
    SplitPieces(pieces, [&](std::string_view t) {
      auto segs = Segments(t, [&](auto&& emit) { re_->FindAll(t, emit); });
      return ApplyBehavior(std::move(segs), behavior_, invert_);
    });
  }

 private:
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

class StringSplit : public PreTokenizer {
 public:
  StringSplit(std::string pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void PreTokenize(Pieces& pieces) const override {
    SplitPieces(pieces, [&](std::string_view t) {
      auto segs = Segments(t, [&](auto&& emit) {
        if (pattern_.empty()) return;
        size_t pos = t.find(pattern_);
        while (pos != std::string_view::npos) {
          emit(pos, pos + pattern_.size());
          pos = t.find(pattern_, pos + pattern_.size());
        }
      });
      return ApplyBehavior(std::move(segs), behavior_, invert_);
    });
  }

 private:
  std::string pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class CharSplit : public PreTokenizer {
 public:
  CharSplit(std::function<bool(char32_t)> pred, SplitBehavior behavior) : pred_(std::move(pred)), behavior_(behavior) {}
  void PreTokenize(Pieces& pieces) const override {
    SplitPieces(pieces, [&](std::string_view t) { return ApplyBehavior(CharSegments(t, pred_), behavior_, false); });
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) re_ = std::move(Regex::Compile(kGpt2SplitPattern)).value();
  }
  void PreTokenize(Pieces& pieces) const override {
    if (add_prefix_space_) {
      for (auto& p : pieces) {
        if (p.token_id < 0 && !p.text.empty() && p.text[0] != ' ') p.text = " " + p.text;
      }
    }
    if (re_) {
      SplitPieces(pieces, [&](std::string_view t) {
        auto segs = Segments(t, [&](auto&& emit) { re_->FindAll(t, emit); });
        return ApplyBehavior(std::move(segs), SplitBehavior::kIsolated, false);
      });
    }
    const auto& map = ByteLevelMap::Get();
    for (auto& p : pieces) {
      if (p.token_id >= 0) continue;
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      map.EncodeAppend(p.text, mapped);
      p.text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void PreTokenize(Pieces& pieces) const override {
    for (auto& p : pieces) {
      if (p.token_id >= 0) continue;
      std::string out;
      for (char c : p.text) {
        if (c == ' ') {
          out += replacement_;
        } else {
          out.push_back(c);
        }
      }
      const bool starts = out.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts && (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && p.at_start))) {
        out = replacement_ + out;
      }
      p.text = std::move(out);
    }
    if (split_) {
      SplitPieces(pieces, [&](std::string_view t) {
        auto segs = Segments(t, [&](auto&& emit) {
          size_t pos = t.find(replacement_);
          while (pos != std::string_view::npos) {
            emit(pos, pos + replacement_.size());
            pos = t.find(replacement_, pos + replacement_.size());
          }
        });
        return ApplyBehavior(std::move(segs), SplitBehavior::kMergedWithNext, false);
      });
    }
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void PreTokenize(Pieces& pieces) const override {
    for (const auto& s : steps_) s->PreTokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

Result<SplitBehavior> ParseSplitBehavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return InvalidArgument("unknown split behavior '" + name + "'");
}

std::unique_ptr<PreTokenizer> MakeRegexSplit(std::unique_ptr<Regex> re, SplitBehavior behavior, bool invert) {
  return std::make_unique<RegexSplit>(std::move(re), behavior, invert);
}
std::unique_ptr<PreTokenizer> MakeByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}
std::unique_ptr<PreTokenizer> MakeSequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) {
  return std::make_unique<SequencePreTokenizer>(std::move(steps));
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const json& j) {
  using Ptr = std::unique_ptr<PreTokenizer>;
  if (j.is_null()) return Ptr();
  if (!j.is_object() || !j.contains("type")) return InvalidArgument("pre_tokenizer: expected an object with a type");
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<Ptr> steps;
    for (const auto& sub : j.at("pretokenizers")) {
      PAGODA_ASSIGN_OR_RETURN(auto p, FromJson(sub));
      if (p) steps.push_back(std::move(p));
    }
    return Ptr(new SequencePreTokenizer(std::move(steps)));
  }
  if (type == "ByteLevel") {
    return MakeByteLevelPreTokenizer(j.value("add_prefix_space", true), j.value("use_regex", true));
  }
  if (type == "Split") {
    PAGODA_ASSIGN_OR_RETURN(SplitBehavior behavior, ParseSplitBehavior(j.at("behavior").get<std::string>()));
    const bool invert = j.value("invert", false);
    const auto& pat = j.at("pattern");
    if (pat.contains("String")) return Ptr(new StringSplit(pat.at("String").get<std::string>(), behavior, invert));
    PAGODA_ASSIGN_OR_RETURN(auto re, Regex::Compile(pat.at("Regex").get<std::string>()));
    return MakeRegexSplit(std::move(re), behavior, invert);
  }
  if (type == "Metaspace") {
    std::string replacement = j.value("replacement", std::string("\xE2\x96\x81"));
    PrependScheme scheme = PrependScheme::kAlways;
    if (j.contains("prepend_scheme")) {
      const std::string s = j.at("prepend_scheme").get<std::string>();
      if (s == "first") scheme = PrependScheme::kFirst;
      else if (s == "never") scheme = PrependScheme::kNever;
      else if (s == "always") scheme = PrependScheme::kAlways;
      else return InvalidArgument("Metaspace: unknown prepend_scheme '" + s + "'");
    } else if (j.contains("add_prefix_space")) {
      scheme = j.at("add_prefix_space").get<bool>() ? PrependScheme::kAlways : PrependScheme::kNever;
    }
    return Ptr(new MetaspacePreTokenizer(replacement, scheme, j.value("split", true)));
  }
  if (type == "Digits") {
    const bool individual = j.value("individual_digits", false);
    return Ptr(new CharSplit([](char32_t c) { return IsNumeric(c); },
                             individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous));
  }
  if (type == "Punctuation") {
    SplitBehavior behavior = SplitBehavior::kIsolated;
    if (j.contains("behavior")) {
      PAGODA_ASSIGN_OR_RETURN(behavior, ParseSplitBehavior(j.at("behavior").get<std::string>()));
    }
    return Ptr(new CharSplit([](char32_t c) { return IsPunctuation(c); }, behavior));
  }
  if (type == "WhitespaceSplit") {
    return Ptr(new CharSplit([](char32_t c) { return IsWhitespace(c); }, SplitBehavior::kRemoved));
  }
  if (type == "Whitespace") {
    // HF: split on \w+|[^\w\s]+ keeping the matches (Removed + invert). Our \w
    // matches Rust regex's Unicode \w (alphanumeric, marks, connector punctuation).
    PAGODA_ASSIGN_OR_RETURN(auto re, Regex::Compile(R"(\w+|[^\w\s]+)"));
    return MakeRegexSplit(std::move(re), SplitBehavior::kRemoved, true);
  }
  if (type == "BertPreTokenizer") {
    std::vector<Ptr> steps;
    steps.push_back(Ptr(new CharSplit([](char32_t c) { return IsWhitespace(c); }, SplitBehavior::kRemoved)));
    steps.push_back(Ptr(new CharSplit([](char32_t c) { return IsPunctuation(c); }, SplitBehavior::kIsolated)));
    return Ptr(new SequencePreTokenizer(std::move(steps)));
  }
  return Unimplemented("pre_tokenizer type '" + type + "' is not supported");
}

}  // namespace pagoda::tokenizer
