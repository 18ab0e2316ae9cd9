#include "chat/py_string.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pagoda::chat::py {

std::u32string Decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string Encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) AppendUtf8(out, cp);
  return out;
}

size_t Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool IsSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::string Strip(std::string_view s, bool left, bool right) {
  // Fast path: ASCII ends.
  std::u32string u = Decode(s);
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && IsSpace(u[b])) ++b;
  if (right)
    while (e > b && IsSpace(u[e - 1])) --e;
  if (b == 0 && e == u.size()) return std::string(s);
  return Encode(std::u32string_view(u).substr(b, e - b));
}

std::string StripChars(std::string_view s, std::string_view chars, bool left, bool right) {
  std::u32string u = Decode(s), set = Decode(chars);
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && set.find(u[b]) != std::u32string::npos) ++b;
  if (right)
    while (e > b && set.find(u[e - 1]) != std::u32string::npos) --e;
  return Encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> Split(std::string_view s, std::string_view sep, bool whitespace, int64_t maxsplit) {
  std::vector<std::string> out;
  if (!whitespace) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t hit = s.find(sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep.size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  std::u32string u = Decode(s);
  size_t i = 0;
  while (i < u.size()) {
    while (i < u.size() && IsSpace(u[i])) ++i;
    if (i >= u.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      size_t e = u.size();
      while (e > i && IsSpace(u[e - 1])) --e;
      out.push_back(Encode(std::u32string_view(u).substr(i, e - i)));
      return out;
    }
    size_t j = i;
    while (j < u.size() && !IsSpace(u[j])) ++j;
    out.push_back(Encode(std::u32string_view(u).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> RSplit(std::string_view s, std::string_view sep, bool whitespace, int64_t maxsplit) {
  if (maxsplit < 0) return Split(s, sep, whitespace, maxsplit);
  std::vector<std::string> rev;
  if (!whitespace) {
    size_t end = s.size();
    while (static_cast<int64_t>(rev.size()) < maxsplit) {
      if (end < sep.size()) break;
      size_t hit = s.rfind(sep, end - sep.size());
      if (hit == std::string_view::npos) break;
      rev.emplace_back(s.substr(hit + sep.size(), end - hit - sep.size()));
      end = hit;
    }
    rev.emplace_back(s.substr(0, end));
  } else {
    std::u32string u = Decode(s);
    size_t e = u.size();
    while (true) {
      while (e > 0 && IsSpace(u[e - 1])) --e;
      if (e == 0) break;
      if (static_cast<int64_t>(rev.size()) >= maxsplit) {
        size_t b = 0;
        while (b < e && IsSpace(u[b])) ++b;
        rev.push_back(Encode(std::u32string_view(u).substr(b, e - b)));
        break;
      }
      size_t b = e;
      while (b > 0 && !IsSpace(u[b - 1])) --b;
      rev.push_back(Encode(std::u32string_view(u).substr(b, e - b)));
      e = b;
    }
  }
  return std::vector<std::string>(rev.rbegin(), rev.rend());
}

std::string Replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement between every code point (and at both ends).
    std::u32string u = Decode(s);
    int64_t n = 0;
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || n < count) {
        out += replacement;
        ++n;
      }
      if (i < u.size()) AppendUtf8(out, u[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(replacement);
    pos = hit + old.size();
    ++n;
  }
  out.append(s.substr(pos));
  return out;
}

namespace {

char32_t ToUpper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 0x20;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  return c;
}

char32_t ToLower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

bool IsCased(char32_t c) { return ToUpper(c) != c || ToLower(c) != c; }

}  // namespace

std::string Upper(std::string_view s) {
  std::u32string u = Decode(s);
  for (auto& c : u) c = ToUpper(c);
  return Encode(u);
}

std::string Lower(std::string_view s) {
  std::u32string u = Decode(s);
  for (auto& c : u) c = ToLower(c);
  return Encode(u);
}

std::string Title(std::string_view s) {
  std::u32string u = Decode(s);
  bool prev_cased = false;
  for (auto& c : u) {
    bool cased = IsCased(c);
    c = prev_cased ? ToLower(c) : ToUpper(c);
    prev_cased = cased;
  }
  return Encode(u);
}

std::string Capitalize(std::string_view s) {
  std::u32string u = Decode(s);
  for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? ToUpper(u[i]) : ToLower(u[i]);
  return Encode(u);
}

namespace {

bool IsPrintable(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c >= 0x80 && c <= 0xA0) return false;
  if (c == 0xAD || c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F)) return false;
  if ((c >= 0x205F && c <= 0x206F) || c == 0x3000 || c == 0xFEFF || (c >= 0xD800 && c <= 0xF8FF)) return false;
  if (c >= 0xFFF9 && c <= 0xFFFB) return false;
  return true;
}

void AppendHex(std::string& out, const char* prefix, char32_t c, int width) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%s%0*x", prefix, width, static_cast<unsigned>(c));
  out += buf;
}

}  // namespace

std::string Repr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : Decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (!IsPrintable(c)) {
      if (c < 0x100) {
        AppendHex(out, "\\x", c, 2);
      } else if (c < 0x10000) {
        AppendHex(out, "\\u", c, 4);
      } else {
        AppendHex(out, "\\U", c, 8);
      }
    } else {
      AppendUtf8(out, c);
    }
  }
  out.push_back(quote);
  return out;
}

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci = [-]D[.DDDD]e[+-]XX
  std::string sign;
  size_t i = 0;
  if (sci[0] == '-') {
    sign = "-";
    i = 1;
  }
  size_t epos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < epos; ++k)
    if (sci[k] != '.') digits.push_back(sci[k]);
  int exp = std::stoi(sci.substr(epos + 1));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int decpt = exp + 1;
  std::string out = sign;
  if (decpt > 16 || decpt < -3) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  } else if (decpt <= 0) {
    out += "0." + std::string(-decpt, '0') + digits;
  } else if (decpt >= static_cast<int>(digits.size())) {
    out += digits + std::string(decpt - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

std::string JsonString(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  for (char32_t c : Decode(s)) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
          if (c >= 0x10000) {
            char32_t v = c - 0x10000;
            AppendHex(out, "\\u", 0xD800 | (v >> 10), 4);
            AppendHex(out, "\\u", 0xDC00 | (v & 0x3FF), 4);
          } else {
            AppendHex(out, "\\u", c, 4);
          }
        } else {
          AppendUtf8(out, c);
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace pagoda::chat::py
