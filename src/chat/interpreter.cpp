#include "chat/interpreter.h"

#include <cmath>

#include "chat/py_string.h"

namespace pagoda::chat {
namespace {

std::string ObjectTypeRepr(const Value& v) {
  if (v.is_none()) return "None";
  std::string out = "'";
  out += v.TypeName();
  out += " object'";
  return out;
}

Value NoAttribute(const Value& obj, const std::string& name) {
  return Value::Undefined(ObjectTypeRepr(obj) + " has no attribute '" + name + "'");
}

// Python slice indices for a sequence of length n.
std::vector<int64_t> SliceIndices(int64_t n, const Value& start, const Value& stop, const Value& step) {
  int64_t st = step.is_none() || step.is_undefined() ? 1 : step.as_int();
  std::vector<int64_t> out;
  if (st == 0) return out;
  auto norm = [&](const Value& v, int64_t dflt, bool is_start) {
    if (v.is_none() || v.is_undefined()) return dflt;
    int64_t i = v.as_int();
    if (i < 0) i += n;
    if (st > 0) {
      i = std::max<int64_t>(0, std::min(i, n));
    } else {
      i = std::max<int64_t>(-1, std::min(i, n - 1));
    }
    (void)is_start;
    return i;
  };
  int64_t b = norm(start, st > 0 ? 0 : n - 1, true);
  int64_t e = norm(stop, st > 0 ? n : -1, false);
  if (st > 0) {
    for (int64_t i = b; i < e; i += st) out.push_back(i);
  } else {
    for (int64_t i = b; i > e; i += st) out.push_back(i);
  }
  return out;
}

double FloorMod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

Interpreter::Interpreter(const Body& root, const Value& context, Clock clock)
    : root_(root), clock_(std::move(clock)) {
  if (context.is_dict()) {
    for (const auto& [k, v] : context.dict().items) root_scope_.vars[k] = v;
  }
}

std::string Interpreter::Render() {
  std::string out;
  out.reserve(4096);
  ExecBody(root_, root_scope_, out);
  return out;
}

void Interpreter::Fail(ErrorKind kind, const std::string& message) const { throw TemplateError(kind, message, line_); }

void Interpreter::CheckDefined(const Value& v) const {
  if (v.is_undefined()) Fail(ErrorKind::kUndefined, v.undefined_hint().empty() ? "undefined value" : v.undefined_hint());
}

Value Interpreter::Lookup(const std::string& name, const Scope& scope) const {
  for (const Scope* s = &scope; s != nullptr; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  const auto& globals = Globals();
  auto it = globals.find(name);
  if (it != globals.end()) return it->second;
  return Value::Undefined("'" + name + "' is undefined");
}

Interpreter::Flow Interpreter::ExecBody(const Body& body, Scope& scope, std::string& out) {
  for (const auto& s : body) {
    Flow f = Exec(*s, scope, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::Exec(const Stmt& s, Scope& scope, std::string& out) {
  line_ = s.line;
  switch (s.kind) {
    case StmtKind::kText: out += s.text; return Flow::kNormal;
    case StmtKind::kOutput: {
      Value v = Eval(*s.expr, scope);
      if (v.is_string()) {
        out += v.as_string();
      } else {
        out += v.Str();
      }
      return Flow::kNormal;
    }
    case StmtKind::kIf: {
      for (const auto& [cond, body] : s.branches) {
        if (Eval(*cond, scope).Truthy()) return ExecBody(body, scope, out);
      }
      return ExecBody(s.else_body, scope, out);
    }
    case StmtKind::kFor: return ExecFor(s, scope, out);
    case StmtKind::kSet: {
      Value v = Eval(*s.expr, scope);
      Assign(*s.target, v, scope);
      return Flow::kNormal;
    }
    case StmtKind::kSetBlock: {
      std::string captured;
      ExecBody(s.body, scope, captured);
      Value v = Value::String(std::move(captured));
      for (const auto& f : s.filters) {
        CallArgs args;
        EvalArgs(*f, 1, scope, args);
        v = ApplyFilter(f->name, v, args);
      }
      Assign(*s.target, v, scope);
      return Flow::kNormal;
    }
    case StmtKind::kMacro: scope.vars[s.name] = MakeMacro(s); return Flow::kNormal;
    case StmtKind::kCallBlock: {
      const Expr& call = *s.expr;
      Value fn = Eval(*call.args[0], scope);
      CallArgs args;
      EvalArgs(call, 1, scope, args);
      const Stmt* block = &s;
      Scope* call_scope = &scope;
      // The caller reads the call site's scope, which lives only as long as this statement.
      auto alive = std::make_shared<bool>(true);
      Value caller = Value::Function("caller", [this, block, call_scope, alive](Interpreter&, CallArgs& cargs) {
        if (!*alive) Fail(ErrorKind::kUnsupported, "caller() used after its {% call %} block ended");
        Scope inner;
        inner.parent = call_scope;
        for (size_t i = 0; i < block->params.size(); ++i) {
          const Value* v = cargs.Get(block->params[i].first, i);
          inner.vars[block->params[i].first] =
              v ? *v : block->params[i].second ? Eval(*block->params[i].second, inner) : Value::Undefined();
        }
        std::string captured;
        ExecBody(block->body, inner, captured);
        return Value::String(std::move(captured));
      });
      args.kwargs.emplace_back("caller", caller);
      Value r = Call(fn, args);
      *alive = false;
      out += r.Str();
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      std::string captured;
      Scope inner;
      inner.parent = &scope;
      ExecBody(s.body, inner, captured);
      Value v = Value::String(std::move(captured));
      for (const auto& f : s.filters) {
        CallArgs args;
        EvalArgs(*f, 1, scope, args);
        v = ApplyFilter(f->name, v, args);
      }
      out += v.Str();
      return Flow::kNormal;
    }
    case StmtKind::kWith: {
      Scope inner;
      inner.parent = &scope;
      for (const auto& [name, expr] : s.params) inner.vars[name] = Eval(*expr, scope);
      return ExecBody(s.body, inner, out);
    }
    case StmtKind::kScope: return ExecBody(s.body, scope, out);
    case StmtKind::kBreak: return Flow::kBreak;
    case StmtKind::kContinue: return Flow::kContinue;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::ExecFor(const Stmt& s, Scope& scope, std::string& out) {
  Value iterable = Eval(*s.expr, scope);
  std::vector<Value> items = Iterate(iterable);
  auto bind = [&](Scope& target, const Value& item) {
    if (!s.unpack) {
      target.vars[s.targets[0]] = item;
      return;
    }
    std::vector<Value> parts = Iterate(item);
    if (parts.size() != s.targets.size()) {
      Fail(ErrorKind::kType, parts.size() > s.targets.size()
                                 ? "too many values to unpack (expected " + std::to_string(s.targets.size()) + ")"
                                 : "not enough values to unpack (expected " + std::to_string(s.targets.size()) +
                                       ", got " + std::to_string(parts.size()) + ")");
    }
    for (size_t i = 0; i < parts.size(); ++i) target.vars[s.targets[i]] = parts[i];
  };
  if (s.cond) {
    std::vector<Value> kept;
    for (const Value& item : items) {
      Scope probe;
      probe.parent = &scope;
      bind(probe, item);
      if (Eval(*s.cond, probe).Truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    Scope inner;
    inner.parent = &scope;
    ExecBody(s.else_body, inner, out);
    return Flow::kNormal;
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    Scope inner;
    inner.parent = &scope;
    bind(inner, items[i]);
    DictData loop;
    loop.items.reserve(12);
    loop.items.emplace_back("index", Value::Int(i + 1));
    loop.items.emplace_back("index0", Value::Int(i));
    loop.items.emplace_back("revindex", Value::Int(n - i));
    loop.items.emplace_back("revindex0", Value::Int(n - i - 1));
    loop.items.emplace_back("first", Value::Bool(i == 0));
    loop.items.emplace_back("last", Value::Bool(i == n - 1));
    loop.items.emplace_back("length", Value::Int(n));
    loop.items.emplace_back("depth", Value::Int(1));
    loop.items.emplace_back("depth0", Value::Int(0));
    loop.items.emplace_back("previtem", i > 0 ? items[i - 1] : Value::Undefined("there is no previous item"));
    loop.items.emplace_back("nextitem", i + 1 < n ? items[i + 1] : Value::Undefined("there is no next item"));
    loop.items.emplace_back("cycle", Value::Function("cycle", [i](Interpreter& in, CallArgs& a) {
                              if (a.positional.empty()) in.Fail(ErrorKind::kType, "no items for cycling given");
                              return a.positional[i % a.positional.size()];
                            }));
    inner.vars["loop"] = Value::Dict(std::move(loop));
    Flow f = ExecBody(s.body, inner, out);
    if (f == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::Assign(const Expr& target, const Value& value, Scope& scope) {
  if (target.kind == ExprKind::kName) {
    scope.vars[target.name] = value;
    return;
  }
  if (target.kind == ExprKind::kGetAttr) {
    Value ns = Eval(*target.args[0], scope);
    if (!ns.is_namespace()) Fail(ErrorKind::kType, "cannot assign attribute on non-namespace object");
    if (!target.name.empty() && target.name[0] == '_')
      Fail(ErrorKind::kSecurity, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
                                     target.name + "'. Please rename the attribute.");
    ns.mutable_namespace().Set(target.name, value);
    return;
  }
  std::vector<Value> parts = Iterate(value);
  if (parts.size() != target.args.size()) Fail(ErrorKind::kType, "wrong number of values to unpack");
  for (size_t i = 0; i < parts.size(); ++i) scope.vars[target.args[i]->name] = parts[i];
}

Value Interpreter::MakeMacro(const Stmt& s) {
  const Stmt* macro = &s;
  return Value::Function(s.name, [macro](Interpreter& in, CallArgs& args) {
    Value caller;
    for (auto it = args.kwargs.begin(); it != args.kwargs.end(); ++it) {
      if (it->first == "caller") {
        caller = it->second;
        args.kwargs.erase(it);
        break;
      }
    }
    return in.CallMacro(*macro, args, caller);
  });
}

Value Interpreter::CallMacro(const Stmt& macro, CallArgs& args, const Value& caller) {
  Scope inner;
  inner.parent = &root_scope_;
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < macro.params.size()) {
      inner.vars[macro.params[i].first] = args.positional[i];
    } else {
      varargs.push_back(args.positional[i]);
    }
  }
  DictData extra_kwargs;
  for (auto& [k, v] : args.kwargs) {
    bool is_param = false;
    for (const auto& p : macro.params) is_param |= p.first == k;
    if (is_param) {
      inner.vars[k] = v;
    } else {
      extra_kwargs.Set(k, v);
    }
  }
  for (const auto& [name, def] : macro.params) {
    if (inner.vars.count(name)) continue;
    inner.vars[name] = def ? Eval(*def, inner) : Value::Undefined("parameter '" + name + "' was not provided");
  }
  inner.vars["varargs"] = Value::List(std::move(varargs), true);
  inner.vars["kwargs"] = Value::Dict(std::move(extra_kwargs));
  if (!caller.is_undefined()) inner.vars["caller"] = caller;
  std::string out;
  int saved_line = line_;
  ExecBody(macro.body, inner, out);
  line_ = saved_line;
  return Value::String(std::move(out));
}

Value Interpreter::Call(const Value& fn, CallArgs& args) {
  if (fn.is_callable()) return fn.callable().fn(*this, args);
  CheckDefined(fn);
  Fail(ErrorKind::kType, "'" + fn.TypeName() + "' object is not callable");
}

Value Interpreter::GetAttr(const Value& obj, const std::string& name) {
  CheckDefined(obj);
  if (!name.empty() && name[0] == '_') return NoAttribute(obj, name);
  bool found = false;
  Value method = GetMethod(*this, obj, name, &found);
  if (found) return method;
  if (obj.is_dict() || obj.is_namespace()) {
    const Value* v = obj.dict().Find(name);
    if (v) return *v;
  }
  return NoAttribute(obj, name);
}

Value Interpreter::GetItem(const Value& obj, const Value& key) {
  CheckDefined(obj);
  if (obj.is_dict() || obj.is_namespace()) {
    if (key.is_string()) {
      const Value* v = obj.dict().Find(key.as_string());
      if (v) return *v;
    }
  } else if ((obj.is_list() && !obj.list().is_generator) || obj.is_string()) {
    if (key.is_int() || key.is_bool()) {
      int64_t i = key.as_int();
      if (obj.is_list()) {
        int64_t n = static_cast<int64_t>(obj.items().size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return obj.items()[i];
      } else {
        std::u32string u = py::Decode(obj.as_string());
        int64_t n = static_cast<int64_t>(u.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return Value::String(py::Encode(std::u32string_view(u).substr(i, 1)));
      }
      return Value::Undefined(ObjectTypeRepr(obj) + " has no attribute " + std::to_string(key.as_int()));
    }
  }
  if (key.is_string()) return GetAttr(obj, key.as_string());
  return Value::Undefined(ObjectTypeRepr(obj) + " has no attribute " + key.Repr());
}

std::vector<Value> Interpreter::Iterate(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return {};
    case ValueKind::kList: return v.items();
    case ValueKind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.dict().items.size());
      for (const auto& kv : v.dict().items) keys.push_back(Value::String(kv.first));
      return keys;
    }
    case ValueKind::kString: {
      std::vector<Value> chars;
      for (char32_t c : py::Decode(v.as_string())) chars.push_back(Value::String(py::Encode(std::u32string(1, c))));
      return chars;
    }
    default: Fail(ErrorKind::kType, "'" + v.TypeName() + "' object is not iterable");
  }
}

Value Interpreter::ApplyFilter(const std::string& name, const Value& subject, CallArgs& args) {
  bool found = false;
  Value r = CallFilter(*this, name, subject, args, &found);
  if (!found) Fail(ErrorKind::kUnsupported, "unsupported filter '" + name + "'");
  return r;
}

bool Interpreter::ApplyTest(const std::string& name, const Value& subject, CallArgs& args) {
  bool found = false;
  bool r = CallTest(*this, name, subject, args, &found);
  if (!found) Fail(ErrorKind::kUnsupported, "unsupported test '" + name + "'");
  return r;
}

void Interpreter::EvalArgs(const Expr& e, size_t first, Scope& scope, CallArgs& args) {
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(Eval(*e.args[i], scope));
  for (const auto& [k, v] : e.kwargs) args.kwargs.emplace_back(k, Eval(*v, scope));
  if (e.dyn_args) {
    for (Value& v : Iterate(Eval(*e.dyn_args, scope))) args.positional.push_back(std::move(v));
  }
  if (e.dyn_kwargs) {
    Value d = Eval(*e.dyn_kwargs, scope);
    if (!d.is_dict()) Fail(ErrorKind::kType, "argument after ** must be a mapping");
    for (const auto& [k, v] : d.dict().items) args.kwargs.emplace_back(k, v);
  }
}

Value Interpreter::Eval(const Expr& e, Scope& scope) {
  line_ = e.line;
  switch (e.kind) {
    case ExprKind::kLiteral: return e.literal;
    case ExprKind::kName: return Lookup(e.name, scope);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(Eval(*a, scope));
      return Value::List(std::move(items), e.kind == ExprKind::kTuple);
    }
    case ExprKind::kDict: {
      DictData d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = Eval(*e.args[i], scope);
        if (!k.is_string()) Fail(ErrorKind::kUnsupported, "dict literals with non-string keys are not supported");
        d.Set(k.as_string(), Eval(*e.args[i + 1], scope));
      }
      return Value::Dict(std::move(d));
    }
    case ExprKind::kGetAttr: {
      Value obj = Eval(*e.args[0], scope);
      line_ = e.line;
      return GetAttr(obj, e.name);
    }
    case ExprKind::kGetItem: {
      Value obj = Eval(*e.args[0], scope);
      Value key = Eval(*e.args[1], scope);
      line_ = e.line;
      return GetItem(obj, key);
    }
    case ExprKind::kSlice: {
      Value obj = Eval(*e.args[0], scope);
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        parts[i] = e.args[i + 1] ? Eval(*e.args[i + 1], scope) : Value::None();
        if (!parts[i].is_none() && !parts[i].is_int() && !parts[i].is_bool())
          Fail(ErrorKind::kType, "slice indices must be integers or None");
      }
      if (!parts[2].is_none() && parts[2].as_int() == 0) Fail(ErrorKind::kType, "slice step cannot be zero");
      CheckDefined(obj);
      if (obj.is_string()) {
        std::u32string u = py::Decode(obj.as_string()), r;
        for (int64_t i : SliceIndices(static_cast<int64_t>(u.size()), parts[0], parts[1], parts[2])) r.push_back(u[i]);
        return Value::String(py::Encode(r));
      }
      if (obj.is_list() && !obj.list().is_generator) {
        std::vector<Value> r;
        for (int64_t i : SliceIndices(static_cast<int64_t>(obj.items().size()), parts[0], parts[1], parts[2]))
          r.push_back(obj.items()[i]);
        return Value::List(std::move(r), obj.list().is_tuple);
      }
      Fail(ErrorKind::kType, "'" + obj.TypeName() + "' object is not subscriptable");
    }
    case ExprKind::kCall: {
      Value fn = Eval(*e.args[0], scope);
      CallArgs args;
      EvalArgs(e, 1, scope, args);
      line_ = e.line;
      return Call(fn, args);
    }
    case ExprKind::kFilter: {
      Value subject = Eval(*e.args[0], scope);
      CallArgs args;
      EvalArgs(e, 1, scope, args);
      line_ = e.line;
      return ApplyFilter(e.name, subject, args);
    }
    case ExprKind::kTest: {
      Value subject = Eval(*e.args[0], scope);
      CallArgs args;
      EvalArgs(e, 1, scope, args);
      line_ = e.line;
      bool r = ApplyTest(e.name, subject, args);
      return Value::Bool(e.negated ? !r : r);
    }
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      Value v = Eval(*e.args[0], scope);
      CheckDefined(v);
      if (v.is_float()) return Value::Float(e.kind == ExprKind::kNeg ? -v.as_float() : v.as_float());
      if (v.is_int() || v.is_bool()) return Value::Int(e.kind == ExprKind::kNeg ? -v.as_int() : v.as_int());
      Fail(ErrorKind::kType, std::string("bad operand type for unary ") + (e.kind == ExprKind::kNeg ? "-" : "+") +
                                 ": '" + v.TypeName() + "'");
    }
    case ExprKind::kNot: return Value::Bool(!Eval(*e.args[0], scope).Truthy());
    case ExprKind::kAnd: {
      Value a = Eval(*e.args[0], scope);
      if (!a.Truthy()) return a;
      return Eval(*e.args[1], scope);
    }
    case ExprKind::kOr: {
      Value a = Eval(*e.args[0], scope);
      if (a.Truthy()) return a;
      return Eval(*e.args[1], scope);
    }
    case ExprKind::kCondExpr: {
      if (Eval(*e.args[0], scope).Truthy()) return Eval(*e.args[1], scope);
      if (e.args[2]) return Eval(*e.args[2], scope);
      return Value::Undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    case ExprKind::kBinary: {
      Value a = Eval(*e.args[0], scope);
      Value b = Eval(*e.args[1], scope);
      line_ = e.line;
      return EvalBinary(e.name, a, b);
    }
    case ExprKind::kCompare: {
      Value left = Eval(*e.args[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = Eval(*e.args[i + 1], scope);
        line_ = e.line;
        if (!EvalCompare(e.ops[i], left, right)) return Value::Bool(false);
        left = std::move(right);
      }
      return Value::Bool(true);
    }
  }
  return Value::Undefined();
}

Value Interpreter::EvalBinary(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value::String(a.Str() + b.Str());
  CheckDefined(a);
  CheckDefined(b);
  auto operand_error = [&] {
    return "unsupported operand type(s) for " + op + ": '" + a.TypeName() + "' and '" + b.TypeName() + "'";
  };
  bool numeric = a.is_number() && b.is_number();
  bool use_float = numeric && (a.is_float() || b.is_float());
  if (op == "+") {
    if (numeric) return use_float ? Value::Float(a.as_float() + b.as_float()) : Value::Int(a.as_int() + b.as_int());
    if (a.is_string() && b.is_string()) {
      if (a.is_markup() || b.is_markup()) {
        return Value::Markup((a.is_markup() ? a.as_string() : HtmlEscape(a.as_string())) +
                             (b.is_markup() ? b.as_string() : HtmlEscape(b.as_string())));
      }
      return Value::String(a.as_string() + b.as_string());
    }
    if (a.is_string()) Fail(ErrorKind::kType, "can only concatenate str (not \"" + b.TypeName() + "\") to str");
    if (a.is_list() && b.is_list() && !a.list().is_generator && !b.list().is_generator &&
        a.list().is_tuple == b.list().is_tuple) {
      std::vector<Value> items = a.items();
      items.insert(items.end(), b.items().begin(), b.items().end());
      return Value::List(std::move(items), a.list().is_tuple);
    }
    if (a.is_list() && !a.list().is_generator)
      Fail(ErrorKind::kType, "can only concatenate " + a.TypeName() + " (not \"" + b.TypeName() + "\") to " +
                                 a.TypeName());
    Fail(ErrorKind::kType, operand_error());
  }
  if (op == "-") {
    if (numeric) return use_float ? Value::Float(a.as_float() - b.as_float()) : Value::Int(a.as_int() - b.as_int());
    Fail(ErrorKind::kType, operand_error());
  }
  if (op == "*") {
    if (numeric) return use_float ? Value::Float(a.as_float() * b.as_float()) : Value::Int(a.as_int() * b.as_int());
    const Value* seq = a.is_string() || a.is_list() ? &a : b.is_string() || b.is_list() ? &b : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq && (count->is_int() || count->is_bool()) && !(seq->is_list() && seq->list().is_generator)) {
      int64_t n = std::max<int64_t>(0, count->as_int());
      if (seq->is_string()) {
        std::string r;
        for (int64_t i = 0; i < n; ++i) r += seq->as_string();
        return Value::String(std::move(r));
      }
      std::vector<Value> r;
      for (int64_t i = 0; i < n; ++i) r.insert(r.end(), seq->items().begin(), seq->items().end());
      return Value::List(std::move(r), seq->list().is_tuple);
    }
    Fail(ErrorKind::kType, operand_error());
  }
  if (op == "/" || op == "//" || op == "%") {
    if (a.is_string() && op == "%") Fail(ErrorKind::kUnsupported, "printf-style string formatting ('%') is not supported");
    if (!numeric) Fail(ErrorKind::kType, operand_error());
    if (b.as_float() == 0) {
      Fail(ErrorKind::kType, op == "/" ? (use_float ? "float division by zero" : "division by zero")
                                       : (use_float ? "float modulo" : "integer division or modulo by zero"));
    }
    if (op == "/") return Value::Float(a.as_float() / b.as_float());
    if (use_float) {
      double q = std::floor(a.as_float() / b.as_float());
      return op == "//" ? Value::Float(q) : Value::Float(FloorMod(a.as_float(), b.as_float()));
    }
    int64_t x = a.as_int(), y = b.as_int();
    int64_t q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
    return op == "//" ? Value::Int(q) : Value::Int(x - q * y);
  }
  if (op == "**") {
    if (!numeric) Fail(ErrorKind::kType, operand_error());
    if (!use_float && b.as_int() >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < b.as_int(); ++i) r *= a.as_int();
      return Value::Int(r);
    }
    return Value::Float(std::pow(a.as_float(), b.as_float()));
  }
  Fail(ErrorKind::kUnsupported, "unsupported operator '" + op + "'");
}

bool ValueLess(Interpreter& in, const Value& a, const Value& b) {
  in.CheckDefined(a);
  in.CheckDefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.list().is_tuple == b.list().is_tuple) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (ValueEquals(x[i], y[i])) continue;
      return ValueLess(in, x[i], y[i]);
    }
    return x.size() < y.size();
  }
  in.Fail(ErrorKind::kType, "'<' not supported between instances of '" + a.TypeName() + "' and '" + b.TypeName() + "'");
}

bool Interpreter::EvalCompare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return ValueEquals(a, b);
  if (op == "!=") return !ValueEquals(a, b);
  if (op == "<") return ValueLess(*this, a, b);
  if (op == ">") return ValueLess(*this, b, a);
  if (op == "<=") return ValueLess(*this, a, b) || ValueEquals(a, b);
  if (op == ">=") return ValueLess(*this, b, a) || ValueEquals(a, b);
  // in / not in
  bool r = false;
  if (b.is_string()) {
    if (!a.is_string())
      Fail(ErrorKind::kType, "'in <string>' requires string as left operand, not " + a.TypeName());
    r = b.as_string().find(a.as_string()) != std::string::npos;
  } else if (b.is_dict() || b.is_namespace()) {
    r = a.is_string() && b.dict().Find(a.as_string()) != nullptr;
  } else if (b.is_list()) {
    for (const Value& item : b.items()) {
      if (ValueEquals(item, a)) {
        r = true;
        break;
      }
    }
  } else if (b.is_undefined()) {
    r = false;
  } else {
    Fail(ErrorKind::kType, "argument of type '" + b.TypeName() + "' is not iterable");
  }
  return op == "in" ? r : !r;
}

}  // namespace pagoda::chat
