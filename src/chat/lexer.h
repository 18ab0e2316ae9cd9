#pragma once
// Lexer: Jinja template source -> tokens, with the whitespace rules of the environment
// transformers uses (trim_blocks, lstrip_blocks, keep_trailing_newline=False, '\n'
// newlines), mirroring jinja2/lexer.py so that rendered text matches byte for byte.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagoda::chat {

enum class TokenType {
  kData,
  kVariableBegin,
  kVariableEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEof,
};

struct Token {
  TokenType type;
  std::string value;  // data text, name, unescaped string, operator
  int line = 1;
  int64_t int_value = 0;
  double float_value = 0;
};

// Throws TemplateError(kSyntax) on malformed input.
std::vector<Token> Tokenize(std::string_view source);

}  // namespace pagoda::chat
