#pragma once
// GPT-2's reversible byte <-> printable code point mapping (bytes_to_unicode).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pagoda::tokenizer {

class ByteLevelMap {
 public:
  static const ByteLevelMap& Get();

  // The UTF-8 text of the code point byte b maps to.
  const std::string& Encode(uint8_t b) const { return byte_to_utf8_[b]; }
  // Appends the mapped form of every byte of s.
  void EncodeAppend(std::string_view s, std::string& out) const;
  // Byte for a mapped code point, or -1 when c is not a mapped code point.
  int Decode(char32_t c) const { return c < cp_to_byte_.size() ? cp_to_byte_[c] : -1; }

 private:
  ByteLevelMap();
  std::array<std::string, 256> byte_to_utf8_;
  std::array<int16_t, 0x144> cp_to_byte_;
};

// The regex ByteLevel(use_regex=true) splits with (GPT-2).
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace pagoda::tokenizer
