#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {

const ByteLevelMap& ByteLevelMap::Get() {
  static const ByteLevelMap map;
  return map;
}

ByteLevelMap::ByteLevelMap() {
  cp_to_byte_.fill(-1);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    AppendUtf8(byte_to_utf8_[b], cp);
    cp_to_byte_[cp] = static_cast<int16_t>(b);
  }
}

void ByteLevelMap::EncodeAppend(std::string_view s, std::string& out) const {
  for (unsigned char b : s) out += byte_to_utf8_[b];
}

}  // namespace pagoda::tokenizer
