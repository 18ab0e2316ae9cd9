#include "chat/lexer.h"

#include <algorithm>
#include <cstdlib>

#include "chat/py_string.h"
#include "chat/template_error.h"

namespace pagoda::chat {
namespace {

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

bool AllPySpace(std::string_view s) {
  if (s.empty()) return false;
  for (char32_t c : py::Decode(s))
    if (!py::IsSpace(c)) return false;
  return true;
}

int CountNewlines(std::string_view s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

class Lexer {
 public:
  explicit Lexer(std::string_view source) {
    // Newlines become '\n', and one trailing newline is dropped (keep_trailing_newline=False).
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        src_.push_back('\n');
      } else {
        src_.push_back(source[i]);
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> Run() {
    while (pos_ < src_.size()) {
      size_t tag = FindTag(pos_);
      if (tag == std::string::npos) {
        Emit(TokenType::kData, src_.substr(pos_));
        line_ += CountNewlines(std::string_view(src_).substr(pos_));
        break;
      }
      char kind = src_[tag + 1];
      char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      std::string text = src_.substr(pos_, tag - pos_);
      int text_lines = CountNewlines(text);
      size_t raw_body = kind == '%' ? MatchRawBegin(tag) : std::string::npos;
      ApplyLeftStrip(text, sign, kind != '{');
      if (!text.empty()) Emit(TokenType::kData, text);
      line_ += text_lines;
      size_t body = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        LexComment(body);
      } else if (raw_body != std::string::npos) {
        LexRaw(tag, raw_body);
      } else {
        LexTag(body, kind == '%');
      }
    }
    Token eof{TokenType::kEof, "", line_};
    tokens_.push_back(eof);
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void Fail(const std::string& msg) { throw TemplateError(ErrorKind::kSyntax, msg, line_); }

  void Emit(TokenType type, std::string value) { tokens_.push_back(Token{type, std::move(value), line_}); }

  size_t FindTag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // lstrip_blocks and '-' handling of the text before a tag (jinja's OptionalLStrip).
  void ApplyLeftStrip(std::string& text, char sign, bool is_block_or_comment) const {
    if (sign == '-') {
      text = py::Strip(text, false, true);
    } else if (sign != '+' && is_block_or_comment) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && AllPySpace(std::string_view(text).substr(l_pos))) text.resize(l_pos);
    }
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` at `tag`: returns where the raw body starts, or npos.
  size_t MatchRawBegin(size_t tag) const {
    size_t p = tag + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0) return std::string::npos;
    p += 3;
    while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
    if (src_.compare(p, 3, "-%}") == 0) {
      p += 3;
      while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
      return p;
    }
    if (src_.compare(p, 2, "%}") == 0) return p + 2;
    return std::string::npos;
  }

  void LexRaw(size_t tag, size_t body) {
    line_ += CountNewlines(std::string_view(src_).substr(tag, body - tag));
    line_starting_ = body > 0 && src_[body - 1] == '\n';
    for (size_t i = src_.find("{%", body); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
      size_t end;
      if (src_.compare(p, 3, "+%}") == 0) {
        end = p + 3;
      } else if (src_.compare(p, 3, "-%}") == 0) {
        end = p + 3;
        while (end < src_.size() && IsAsciiSpace(src_[end])) ++end;
      } else if (src_.compare(p, 2, "%}") == 0) {
        end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string text = src_.substr(body, i - body);
      int text_lines = CountNewlines(text);
      ApplyLeftStrip(text, sign, true);
      if (!text.empty()) Emit(TokenType::kData, text);
      line_ += text_lines + CountNewlines(std::string_view(src_).substr(i, end - i));
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    Fail("Missing end of raw directive");
  }

  void LexComment(size_t body) {
    size_t j = src_.find("#}", body);
    if (j == std::string::npos) Fail("Missing end of comment tag");
    size_t end = j + 2;
    if (j > body && src_[j - 1] == '-') {
      while (end < src_.size() && IsAsciiSpace(src_[end])) ++end;
    } else if (j > body && src_[j - 1] == '+') {
      // keep what follows
    } else if (end < src_.size() && src_[end] == '\n') {
      ++end;  // trim_blocks
    }
    line_ += CountNewlines(std::string_view(src_).substr(body, end - body));
    line_starting_ = src_[end - 1] == '\n';
    pos_ = end;
  }

  // Tries the end delimiter of a block / variable tag at p; returns the end position or npos.
  size_t MatchTagEnd(size_t p, bool block) const {
    if (block) {
      if (src_.compare(p, 3, "+%}") == 0) return p + 3;
      if (src_.compare(p, 3, "-%}") == 0) {
        p += 3;
        while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
        return p;
      }
      if (src_.compare(p, 2, "%}") == 0) {
        p += 2;
        if (p < src_.size() && src_[p] == '\n') ++p;  // trim_blocks
        return p;
      }
      return std::string::npos;
    }
    if (src_.compare(p, 3, "-}}") == 0) {
      p += 3;
      while (p < src_.size() && IsAsciiSpace(src_[p])) ++p;
      return p;
    }
    if (src_.compare(p, 2, "}}") == 0) return p + 2;
    return std::string::npos;
  }

  void LexTag(size_t p, bool block) {
    Emit(block ? TokenType::kBlockBegin : TokenType::kVariableBegin, "");
    std::string balance;
    while (true) {
      if (p >= src_.size()) Fail(block ? "unexpected end of template, expected 'end of statement block'"
                                       : "unexpected end of template, expected 'end of print statement'");
      if (balance.empty()) {
        size_t end = MatchTagEnd(p, block);
        if (end != std::string::npos) {
          Emit(block ? TokenType::kBlockEnd : TokenType::kVariableEnd, "");
          line_ += CountNewlines(std::string_view(src_).substr(p, end - p));
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      char c = src_[p];
      if (IsAsciiSpace(c)) {
        if (c == '\n') ++line_;
        ++p;
        continue;
      }
      if (IsDigit(c)) {
        p = LexNumber(p);
        continue;
      }
      if (IsNameStart(c)) {
        size_t q = p;
        while (q < src_.size() && IsNameChar(src_[q])) ++q;
        Emit(TokenType::kName, src_.substr(p, q - p));
        p = q;
        continue;
      }
      if (c == '\'' || c == '"') {
        p = LexString(p);
        continue;
      }
      static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
      bool two = false;
      for (const char* op : kTwo) {
        if (src_.compare(p, 2, op) == 0) {
          Emit(TokenType::kOperator, op);
          p += 2;
          two = true;
          break;
        }
      }
      if (two) continue;
      if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
        Fail(std::string("unexpected char '") + c + "'");
      }
      if (c == '(' || c == '[' || c == '{') {
        balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (c == ')' || c == ']' || c == '}') {
        if (balance.empty()) Fail(std::string("unexpected '") + c + "'");
        if (balance.back() != c) Fail(std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
        balance.pop_back();
      }
      Emit(TokenType::kOperator, std::string(1, c));
      ++p;
    }
  }

  size_t Digits(size_t p) const {
    // (\d+_)*\d+
    size_t q = p;
    while (q < src_.size() && IsDigit(src_[q])) {
      ++q;
      if (q + 1 < src_.size() && src_[q] == '_' && IsDigit(src_[q + 1])) ++q;
    }
    return q;
  }

  size_t LexNumber(size_t p) {
    size_t q = Digits(p);
    size_t frac_end = std::string::npos, exp_end = std::string::npos;
    bool after_dot = p > 0 && src_[p - 1] == '.';
    if (!after_dot) {
      size_t r = q;
      if (r + 1 < src_.size() && src_[r] == '.' && IsDigit(src_[r + 1])) {
        frac_end = Digits(r + 1);
        r = frac_end;
      }
      if (r < src_.size() && (src_[r] == 'e' || src_[r] == 'E')) {
        size_t s = r + 1;
        if (s < src_.size() && (src_[s] == '+' || src_[s] == '-')) ++s;
        if (s < src_.size() && IsDigit(src_[s])) exp_end = Digits(s);
      }
    }
    size_t end = exp_end != std::string::npos ? exp_end : frac_end;
    std::string text;
    if (end != std::string::npos) {
      for (size_t i = p; i < end; ++i)
        if (src_[i] != '_') text.push_back(src_[i]);
      Token t{TokenType::kFloat, text, line_};
      t.float_value = std::strtod(text.c_str(), nullptr);
      tokens_.push_back(t);
      return end;
    }
    for (size_t i = p; i < q; ++i)
      if (src_[i] != '_') text.push_back(src_[i]);
    if (text.size() > 1 && text[0] == '0' && text.find_first_not_of('0') != std::string::npos)
      Fail("invalid integer literal '" + text + "'");
    Token t{TokenType::kInteger, text, line_};
    t.int_value = std::strtoll(text.c_str(), nullptr, 10);
    tokens_.push_back(t);
    return q;
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  size_t LexString(size_t p) {
    char quote = src_[p];
    std::string out;
    size_t q = p + 1;
    int start_line = line_;
    while (true) {
      if (q >= src_.size()) Fail("unexpected end of string");
      char c = src_[q];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        out.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) Fail("unexpected end of string");
      char e = src_[q + 1];
      q += 2;
      switch (e) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          int width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (int k = 0; k < width; ++k) {
            int h = q < src_.size() ? HexValue(src_[q]) : -1;
            if (h < 0) Fail("truncated \\" + std::string(1, e) + " escape");
            cp = cp * 16 + h;
            ++q;
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = e - '0';
            for (int k = 0; k < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++k) cp = cp * 8 + (src_[q++] - '0');
            AppendUtf8(out, cp);
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    Token t{TokenType::kString, out, start_line};
    tokens_.push_back(t);
    return q + 1;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> Tokenize(std::string_view source) { return Lexer(source).Run(); }

}  // namespace pagoda::chat
