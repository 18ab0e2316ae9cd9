#pragma once
// UTF-8 helpers shared by the tokenizer stages. All functions are pure.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace pagoda::tokenizer {

// Decodes the code point at s[i] and advances i. Invalid or truncated bytes
// decode as one byte each, returned as 0xFFFD (callers that must keep raw
// bytes use the advance only).
char32_t NextCodePoint(std::string_view s, size_t& i);

// Byte length of the UTF-8 sequence introduced by lead byte b (1 for invalid leads).
inline size_t Utf8SeqLen(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}


// Rust's String::from_utf8_lossy: every maximal invalid subpart becomes U+FFFD.
std::string Utf8Lossy(std::string_view bytes);
// The same, appended to *out (no allocation when out has the room).
void Utf8LossyAppend(std::string_view bytes, std::string* out);

bool IsValidUtf8(std::string_view bytes);

// Number of trailing bytes of s that form an incomplete (but so far valid) UTF-8
// sequence: 0 when s ends on a character boundary.
size_t IncompleteUtf8Suffix(std::string_view s);

}  // namespace pagoda::tokenizer
