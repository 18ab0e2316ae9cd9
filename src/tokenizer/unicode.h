#pragma once
// Unicode properties and normalization, backed by ICU (libicu-dev). The
// predicates follow Rust's char methods, which HF tokenizers uses.

#include <string>
#include <string_view>

namespace pagoda::tokenizer {

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

std::string NormalizeUnicode(std::string_view s, NormalForm form);
std::string ToLowerUnicode(std::string_view s);  // full case mapping, as Rust's to_lowercase

bool IsWhitespace(char32_t c);    // White_Space property (Rust char::is_whitespace)
bool IsNumeric(char32_t c);       // Nd | Nl | No (Rust char::is_numeric)
bool IsAlphanumeric(char32_t c);  // Alphabetic | Numeric (Rust char::is_alphanumeric)
bool IsPunctuation(char32_t c);   // ASCII punctuation or any P* category (HF is_punc)
bool IsMark(char32_t c);          // Mn (HF StripAccents)

}  // namespace pagoda::tokenizer
