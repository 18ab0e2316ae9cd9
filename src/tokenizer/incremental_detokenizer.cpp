#include "tokenizer/incremental_detokenizer.h"

#include <algorithm>

namespace pagoda::tokenizer {
namespace {

constexpr size_t kMaxContextSearch = 8;
constexpr size_t kReanchorAt = 8;  // window size that triggers moving the anchor
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                                               std::span<const int32_t> prompt_ids)
    : tok_(tokenizer), skip_(skip_special_tokens) {
  // Context: the prompt from its last anchor-able token on (a few tokens at most).
  const size_t n = prompt_ids.size();
  for (size_t back = 1; back <= std::min(n, kMaxContextSearch); ++back) {
    if (IsAnchor(prompt_ids[n - back])) {
      window_.assign(prompt_ids.end() - static_cast<ptrdiff_t>(back), prompt_ids.end());
      break;
    }
  }
  if (window_.empty() && n > 0) {
    const size_t keep = std::min(n, kMaxContextSearch);
    window_.assign(prompt_ids.end() - static_cast<ptrdiff_t>(keep), prompt_ids.end());
  }
  emitted_ = tok_.Decode(window_, skip_).size();
}

bool IncrementalDetokenizer::IsAnchor(int32_t id) const {
  if (skip_ && tok_.IsSpecial(id)) return false;
  const int32_t one[1] = {id};
  const std::string t = tok_.Decode(one, skip_);
  return !t.empty() && t.find(kReplacementChar) == std::string::npos;
}

size_t IncrementalDetokenizer::Holdback(const std::string& text) const {
  size_t hold = 0;
  // Trailing U+FFFD: an unfinished UTF-8 sequence or byte-fallback run.
  while (EndsWith(std::string_view(text).substr(0, text.size() - hold), kReplacementChar)) hold += 3;
  if (hold == 0 && tok_.clean_up_tokenization_spaces()) {
    // A suffix that could start one of the cleanup patterns (" .", " n't", " 've", ...).
    static const std::string_view kPrefixes[] = {" 'v", " 'r", " n'", " '", " n", " "};
    for (std::string_view p : kPrefixes) {
      if (EndsWith(text, p)) {
        hold = p.size();
        break;
      }
    }
  }
  return hold;
}

std::string IncrementalDetokenizer::Push(int32_t id) {
  window_.push_back(id);
  const std::string text = tok_.Decode(window_, skip_);
  const size_t stable = text.size() - std::min(text.size(), Holdback(text));
  std::string out;
  if (stable > emitted_) {
    out = text.substr(emitted_, stable - emitted_);
    emitted_ = stable;
  }
  // Everything emitted and the window is long: re-anchor on the last token.
  if (emitted_ == text.size() && window_.size() >= kReanchorAt && IsAnchor(id)) {
    window_.assign(1, id);
    emitted_ = tok_.Decode(window_, skip_).size();
  }
  return out;
}

std::string IncrementalDetokenizer::Flush() {
  const std::string text = tok_.Decode(window_, skip_);
  std::string out;
  if (text.size() > emitted_) out = text.substr(emitted_);
  emitted_ = text.size();
  return out;
}

}  // namespace pagoda::tokenizer
