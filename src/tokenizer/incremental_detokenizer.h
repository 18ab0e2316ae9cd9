#pragma once
// Streaming detokenization, one instance per request stream (not thread-safe;
// used by one thread at a time). Push() returns only text that no later token
// can change: never half a UTF-8 character, nothing inside an unfinished
// byte-fallback run, nothing that clean_up_tokenization_spaces could still
// rewrite. The concatenation of everything returned by Push() and Flush()
// equals tokenizer.Decode(pushed ids) exactly (with prompt_ids: the part of
// Decode(prompt + pushed) after Decode(prompt)).
//
// It re-decodes a short window (a context token plus the pending tokens) per
// step and emits the difference, so each Push costs O(window), not O(stream).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace pagoda::tokenizer {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                         std::span<const int32_t> prompt_ids = {});

  // Appends the newly final text (maybe none) to *out. Allocates nothing once
  // the stream's buffers have grown to its window's text.
  void Push(int32_t id, std::string* out);
  void Flush(std::string* out);  // whatever is left at the end
  std::string Push(int32_t id) {
    std::string s;
    Push(id, &s);
    return s;
  }
  std::string Flush() {
    std::string s;
    Flush(&s);
    return s;
  }

 private:
  // Bytes at the end of text that may still change.
  size_t Holdback(const std::string& text) const;
  // A token that can anchor a new window: decodes alone to stable, non-empty text.
  bool IsAnchor(int32_t id);
  bool IsByteToken(int32_t id) const;  // a "<0xNN>" byte-fallback piece
  void DecodeWindow() { tok_.DecodeTo(window_, skip_, &buf_, &text_); }

  const Tokenizer& tok_;
  bool skip_;
  std::vector<int32_t> window_;  // context tokens + tokens whose text is not all emitted
  size_t emitted_ = 0;           // bytes of Decode(window_) already emitted (or context)
  // Reused from token to token.
  DecodeBuffer buf_;
  std::string text_;         // Decode(window_)
  std::string anchor_text_;  // IsAnchor's decode of one token
};

}  // namespace pagoda::tokenizer
