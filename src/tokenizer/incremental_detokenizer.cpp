#include "tokenizer/incremental_detokenizer.h"

#include <algorithm>
#include <cctype>

namespace pagoda::tokenizer {
namespace {

constexpr size_t kReanchorAt = 8;  // window size that triggers moving the anchor
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                                               std::span<const int32_t> prompt_ids)
    : tok_(tokenizer), skip_(skip_special_tokens) {
  // Room for a window's text and tokens, so that a stream's steps do not allocate.
  constexpr size_t kTextRoom = 256;
  window_.reserve(8 * kReanchorAt);
  buf_.strs.resize(8 * kReanchorAt);
  buf_.strs[0].reserve(kTextRoom);
  buf_.scratch.reserve(kTextRoom);
  text_.reserve(kTextRoom);
  anchor_text_.reserve(kTextRoom);
  // Context: the prompt from its last anchor-able token on (a few tokens at most).
  // Searching past a long byte-fallback run is needed: the run decodes as a whole.
  const size_t n = prompt_ids.size();
  size_t keep = n;
  for (size_t back = 1; back <= n; ++back) {
    if (IsAnchor(prompt_ids[n - back])) {
      keep = back;
      break;
    }
  }
  window_.assign(prompt_ids.end() - static_cast<ptrdiff_t>(keep), prompt_ids.end());
  DecodeWindow();
  emitted_ = text_.size();
}

bool IncrementalDetokenizer::IsByteToken(int32_t id) const {
  const std::string* t = tok_.FindToken(id);
  return t != nullptr && t->size() == 6 && t->compare(0, 3, "<0x") == 0 && (*t)[5] == '>' &&
         isxdigit(static_cast<unsigned char>((*t)[3])) && isxdigit(static_cast<unsigned char>((*t)[4]));
}

bool IncrementalDetokenizer::IsAnchor(int32_t id) {
  if (skip_ && tok_.IsSpecial(id)) return false;
  if (IsByteToken(id)) return false;
  const int32_t one[1] = {id};
  tok_.DecodeTo(one, skip_, &buf_, &anchor_text_);
  return !anchor_text_.empty() && anchor_text_.find(kReplacementChar) == std::string::npos;
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

void IncrementalDetokenizer::Push(int32_t id, std::string* out) {
  window_.push_back(id);
  // ByteFallback decodes a whole run of <0xNN> tokens at once (all U+FFFD if the
  // run is invalid anywhere), so nothing of an open run is final yet.
  if (IsByteToken(id)) return;
  DecodeWindow();
  const size_t stable = text_.size() - std::min(text_.size(), Holdback(text_));
  if (stable > emitted_) {
    out->append(text_, emitted_, stable - emitted_);
    emitted_ = stable;
  }
  // Everything emitted and the window is long: re-anchor on the last token.
  if (emitted_ == text_.size() && window_.size() >= kReanchorAt && IsAnchor(id)) {
    window_.assign(1, id);
    DecodeWindow();
    emitted_ = text_.size();
  }
}

void IncrementalDetokenizer::Flush(std::string* out) {
  DecodeWindow();
  if (text_.size() > emitted_) out->append(text_, emitted_, std::string::npos);
  emitted_ = text_.size();
}

}  // namespace pagoda::tokenizer
