#pragma once
// Interpreter: renders a parsed template against a context, with the semantics of
// jinja2's ImmutableSandboxedEnvironment as transformers configures it. One Interpreter
// per render (it owns the scopes and the output buffer); the parsed Body is shared and
// read-only, so renders of one template may run on many threads at once.

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/ast.h"
#include "chat/template_error.h"
#include "chat/value.h"

namespace pagoda::chat {

using Clock = std::function<std::tm()>;

class Interpreter {
 public:
  // `context` is a dict: the variables the template sees (messages, tools, ...).
  Interpreter(const Body& root, const Value& context, Clock clock);

  // Throws TemplateError.
  std::string Render();

  // Used by the builtins (filters, tests, methods, globals).
  [[noreturn]] void Fail(ErrorKind kind, const std::string& message) const;
  Value Call(const Value& fn, CallArgs& args);
  Value GetAttr(const Value& obj, const std::string& name);
  Value GetItem(const Value& obj, const Value& key);
  std::vector<Value> Iterate(const Value& v);
  Value ApplyFilter(const std::string& name, const Value& subject, CallArgs& args);
  bool ApplyTest(const std::string& name, const Value& subject, CallArgs& args);
  bool HasTest(const std::string& name) const;
  std::tm Now() const { return clock_(); }
  // Raises UndefinedError when v is undefined (for operations Undefined refuses).
  void CheckDefined(const Value& v) const;

 private:
  struct Scope {
    std::unordered_map<std::string, Value> vars;
    Scope* parent = nullptr;
  };
  enum class Flow { kNormal, kBreak, kContinue };

  Flow ExecBody(const Body& body, Scope& scope, std::string& out);
  Flow Exec(const Stmt& s, Scope& scope, std::string& out);
  Flow ExecFor(const Stmt& s, Scope& scope, std::string& out);
  void Assign(const Expr& target, const Value& value, Scope& scope);
  Value MakeMacro(const Stmt& s);
  Value CallMacro(const Stmt& macro, CallArgs& args, const Value& caller);

  Value Eval(const Expr& e, Scope& scope);
  Value EvalBinary(const std::string& op, const Value& a, const Value& b);
  bool EvalCompare(const std::string& op, const Value& a, const Value& b);
  void EvalArgs(const Expr& e, size_t first, Scope& scope, CallArgs& args);
  Value Lookup(const std::string& name, const Scope& scope) const;

  const Body& root_;
  Clock clock_;
  Scope root_scope_;
  mutable int line_ = 0;
};

// Python's `a < b` for the values templates compare (numbers, strings, sequences).
bool ValueLess(Interpreter& in, const Value& a, const Value& b);

// The Python built-ins (defined in builtins.cpp).
Value CallFilter(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args, bool* found);
bool CallTest(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args, bool* found);
Value GetMethod(Interpreter& in, const Value& obj, const std::string& name, bool* found);
const std::unordered_map<std::string, Value>& Globals();
std::string HtmlEscape(const std::string& s);  // markupsafe.escape
std::string ToJson(Interpreter& in, const Value& v, bool ensure_ascii, const Value& indent, const std::string& item_sep,
                   const std::string& key_sep, bool sort_keys);

}  // namespace pagoda::chat
