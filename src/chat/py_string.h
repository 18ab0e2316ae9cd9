#pragma once
// Python str semantics on UTF-8 strings: what str.strip(), len(), slicing, repr() and
// float repr do, so that templates print the same bytes as under CPython.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/utf8.h"

namespace pagoda::chat::py {

// Decodes UTF-8 into code points (invalid bytes map to U+FFFD, one per byte).
std::u32string Decode(std::string_view s);
std::string Encode(std::u32string_view s);
size_t Length(std::string_view s);  // in code points

bool IsSpace(char32_t cp);  // str.isspace() for one code point
std::string Strip(std::string_view s, bool left, bool right);
std::string StripChars(std::string_view s, std::string_view chars, bool left, bool right);

// str.split(sep, maxsplit); an empty sep means "split on whitespace runs".
std::vector<std::string> Split(std::string_view s, std::string_view sep, bool whitespace, int64_t maxsplit);
std::vector<std::string> RSplit(std::string_view s, std::string_view sep, bool whitespace, int64_t maxsplit);
std::string Replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count);

std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
std::string Title(std::string_view s);
std::string Capitalize(std::string_view s);

std::string Repr(std::string_view s);      // repr() of a str
std::string FloatRepr(double d);           // repr() of a float: shortest round trip, '1.0', '1e+16'
std::string JsonString(std::string_view s, bool ensure_ascii);  // json.dumps of a str

}  // namespace pagoda::chat::py
