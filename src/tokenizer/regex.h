#pragma once
// A compiled PCRE2 pattern (UTF + UCP, JIT when available) used for the
// Split / ByteLevel pre-tokenizers. FindAll may be called from any thread.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace pagoda::tokenizer {

class Regex {
 public:
  // pattern uses Oniguruma/Rust syntax as found in tokenizer.json; the subset
  // used by real tokenizers (\p{..}, lookahead, (?i:..)) is valid PCRE2.
  static Result<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls fn(start, end) for each non-overlapping match, left to right. Empty
  // matches are skipped (they never split anything in HF either).
  void FindAll(std::string_view text, const std::function<void(size_t, size_t)>& fn) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

}  // namespace pagoda::tokenizer
