#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

// Length of the valid prefix of a UTF-8 sequence starting at s[i], following the
// Unicode "maximal subpart" rules (as Rust's from_utf8_lossy). Returns the number
// of bytes consumed and sets complete when a full character was read.
size_t ValidPrefix(std::string_view s, size_t i, bool& complete, char32_t& cp) {
  complete = false;
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    complete = true;
    cp = b0;
    return 1;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 1;  // invalid lead byte
  }
  size_t j = i + 1;
  for (size_t k = 0; k < need; ++k, ++j) {
    if (j >= s.size()) return j - i;
    const auto b = static_cast<unsigned char>(s[j]);
    const unsigned char l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xBF;
    if (b < l || b > h) return j - i;
    cp = (cp << 6) | (b & 0x3F);
  }
  complete = true;
  return j - i;
}

}  // namespace

char32_t NextCodePoint(std::string_view s, size_t& i) {
  bool complete;
  char32_t cp = 0;
  size_t n = ValidPrefix(s, i, complete, cp);
  if (!complete) {
    i += 1;
    return 0xFFFD;
  }
  i += n;
  return cp;
}

void Utf8LossyAppend(std::string_view bytes, std::string* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    bool complete;
    char32_t cp = 0;
    size_t n = ValidPrefix(bytes, i, complete, cp);
    if (complete) {
      out->append(bytes.substr(i, n));
    } else {
      out->append("\xEF\xBF\xBD");
    }
    i += n;
  }
}

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  Utf8LossyAppend(bytes, &out);
  return out;
}

bool IsValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    bool complete;
    char32_t cp = 0;
    size_t n = ValidPrefix(bytes, i, complete, cp);
    if (!complete) return false;
    i += n;
  }
  return true;
}

size_t IncompleteUtf8Suffix(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    const auto b = static_cast<unsigned char>(s[s.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte, keep looking
    const size_t len = Utf8SeqLen(b);
    if (len > back) {
      bool complete;
      char32_t cp = 0;
      size_t n = ValidPrefix(s, s.size() - back, complete, cp);
      return n == back ? back : 0;  // only a valid-so-far prefix is "incomplete"
    }
    return 0;
  }
  return 0;
}

}  // namespace pagoda::tokenizer
