#pragma once
// TemplateError: thrown inside chat/ only (lexer, parser, interpreter) and turned into a
// Status at the ChatTemplate boundary, so that no exception leaves the library.

#include <exception>
#include <string>
#include <utility>

namespace pagoda::chat {

enum class ErrorKind {
  kSyntax,          // the template does not parse
  kUnsupported,     // valid Jinja that this interpreter does not implement
  kRaised,          // the template called raise_exception(message)
  kUndefined,       // jinja2.UndefinedError
  kType,            // Python TypeError / ValueError and friends
  kSecurity,        // what the sandbox refuses (list.append, ...)
};

class TemplateError : public std::exception {
 public:
  TemplateError(ErrorKind kind, std::string message, int line = 0)
      : kind_(kind), message_(std::move(message)), line_(line) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ErrorKind kind_;
  std::string message_;
  int line_;
};

}  // namespace pagoda::chat
