#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace pagoda::tokenizer {
namespace {

// One match-data block per thread and pattern size class: allocation-free hot path.
struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
  ~MatchData() { pcre2_match_data_free(md); }
};

}  // namespace

Result<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  std::unique_ptr<Regex> re(new Regex());
  re->pattern_ = std::string(pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    return InvalidArgument("bad regex '" + std::string(pattern) + "' at offset " + std::to_string(err_off) + ": " +
                           reinterpret_cast<const char*>(buf));
  }
  re->code_ = code;
  re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return re;
}

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::FindAll(std::string_view text, const std::function<void(size_t, size_t)>& fn) const {
  thread_local MatchData data;
  auto* code = static_cast<pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    // Our inputs are valid UTF-8 (byte-level text is mapped to code points first),
    // but invalid input must not crash: keep the UTF check on.
    int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), pos, 0, data.md, nullptr)
                  : pcre2_match(code, subject, text.size(), pos, 0, data.md, nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    size_t start = ov[0], end = ov[1];
    if (end == start) {
      // Empty match: step one character forward.
      pos = end + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    fn(start, end);
    pos = end;
  }
}

}  // namespace pagoda::tokenizer
