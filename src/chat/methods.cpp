// Python methods of str / dict / list, the globals transformers gives a chat template
// (raise_exception, strftime_now, namespace, dict, range), and json.dumps.

#include <algorithm>
#include <cstring>

#include "chat/interpreter.h"
#include "chat/py_string.h"

namespace pagoda::chat {
namespace {

const Value* Arg(CallArgs& a, const char* name, size_t index) { return a.Get(name, index); }

std::string StrArg(Interpreter& in, CallArgs& a, const char* name, size_t index, const char* method) {
  const Value* v = Arg(a, name, index);
  if (v == nullptr) in.Fail(ErrorKind::kType, std::string(method) + "() missing required argument '" + name + "'");
  if (!v->is_string()) in.Fail(ErrorKind::kType, std::string(method) + "() argument must be str, not " + v->TypeName());
  return v->as_string();
}

int64_t CodepointIndex(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(py::Length(std::string_view(s).substr(0, byte_pos)));
}

bool AffixMatch(Interpreter& in, const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.is_string()) in.Fail(ErrorKind::kType, "startswith/endswith argument must be str or a tuple of str");
    const std::string& a = v.as_string();
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list() && affix.list().is_tuple) {
    for (const Value& v : affix.items())
      if (one(v)) return true;
    return false;
  }
  return one(affix);
}

std::vector<std::string> SplitLines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  std::u32string u = py::Decode(s);
  size_t start = 0;
  for (size_t i = 0; i < u.size(); ++i) {
    char32_t c = u[i];
    bool brk = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
               c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    size_t end = i;
    if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ++i;
    out.push_back(py::Encode(std::u32string_view(u).substr(start, (keepends ? i + 1 : end) - start)));
    start = i + 1;
  }
  if (start < u.size()) out.push_back(py::Encode(std::u32string_view(u).substr(start)));
  return out;
}

Value StringList(const std::vector<std::string>& parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.push_back(Value::String(p));
  return Value::List(std::move(items));
}

template <typename Pred>
Value AllChars(const std::string& s, Pred pred) {
  std::u32string u = py::Decode(s);
  if (u.empty()) return Value::Bool(false);
  for (char32_t c : u)
    if (!pred(c)) return Value::Bool(false);
  return Value::Bool(true);
}

Value StringMethod(Interpreter& in, const std::string& s, const std::string& name, CallArgs& a) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip", right = name != "lstrip";
    const Value* chars = Arg(a, "chars", 0);
    if (chars == nullptr || chars->is_none()) return Value::String(py::Strip(s, left, right));
    return Value::String(py::StripChars(s, chars->as_string(), left, right));
  }
  if (name == "split" || name == "rsplit") {
    const Value* sep = Arg(a, "sep", 0);
    const Value* maxsplit = Arg(a, "maxsplit", 1);
    int64_t m = maxsplit ? maxsplit->as_int() : -1;
    bool ws = sep == nullptr || sep->is_none();
    if (!ws && !sep->is_string()) in.Fail(ErrorKind::kType, "must be str or None, not " + sep->TypeName());
    if (!ws && sep->as_string().empty()) in.Fail(ErrorKind::kType, "empty separator");
    std::string sp = ws ? "" : sep->as_string();
    return StringList(name == "split" ? py::Split(s, sp, ws, m) : py::RSplit(s, sp, ws, m));
  }
  if (name == "startswith" || name == "endswith") {
    const Value* affix = Arg(a, "prefix", 0);
    if (affix == nullptr) in.Fail(ErrorKind::kType, name + "() takes at least 1 argument (0 given)");
    if (a.positional.size() > 1) in.Fail(ErrorKind::kUnsupported, name + "() with start/end is not supported");
    return Value::Bool(AffixMatch(in, s, *affix, name == "startswith"));
  }
  if (name == "upper") return Value::String(py::Upper(s));
  if (name == "lower") return Value::String(py::Lower(s));
  if (name == "title") return Value::String(py::Title(s));
  if (name == "capitalize") return Value::String(py::Capitalize(s));
  if (name == "replace") {
    std::string old = StrArg(in, a, "old", 0, "replace"), rep = StrArg(in, a, "new", 1, "replace");
    const Value* count = Arg(a, "count", 2);
    return Value::String(py::Replace(s, old, rep, count ? count->as_int() : -1));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    std::string sub = StrArg(in, a, "sub", 0, name.c_str());
    if (a.positional.size() > 1) in.Fail(ErrorKind::kUnsupported, name + "() with start/end is not supported");
    if (name == "count") {
      if (sub.empty()) return Value::Int(static_cast<int64_t>(py::Length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::Int(n);
    }
    size_t p = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (p == std::string::npos) {
      if (name == "index" || name == "rindex") in.Fail(ErrorKind::kType, "substring not found");
      return Value::Int(-1);
    }
    return Value::Int(CodepointIndex(s, p));
  }
  if (name == "join") {
    const Value* it = Arg(a, "iterable", 0);
    if (it == nullptr) in.Fail(ErrorKind::kType, "join() takes exactly one argument (0 given)");
    std::string out;
    size_t i = 0;
    for (const Value& v : in.Iterate(*it)) {
      if (!v.is_string())
        in.Fail(ErrorKind::kType, "sequence item " + std::to_string(i) + ": expected str instance, " + v.TypeName() +
                                      " found");
      if (i++) out += s;
      out += v.as_string();
    }
    return Value::String(std::move(out));
  }
  if (name == "splitlines") {
    const Value* keep = Arg(a, "keepends", 0);
    return StringList(SplitLines(s, keep && keep->Truthy()));
  }
  if (name == "isdigit") return AllChars(s, [](char32_t c) { return c >= '0' && c <= '9'; });
  if (name == "isalpha")
    return AllChars(s, [](char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0xC0; });
  if (name == "isalnum")
    return AllChars(s, [](char32_t c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0xC0;
    });
  if (name == "isspace") return AllChars(s, [](char32_t c) { return py::IsSpace(c); });
  if (name == "islower" || name == "isupper") {
    bool want_lower = name == "islower", any_cased = false;
    for (char32_t c : py::Decode(s)) {
      std::string one = py::Encode(std::u32string(1, c));
      bool lower = py::Upper(one) != one, upper = py::Lower(one) != one;
      if (lower || upper) any_cased = true;
      if (want_lower ? upper : lower) return Value::Bool(false);
    }
    return Value::Bool(any_cased);
  }
  in.Fail(ErrorKind::kUnsupported, "unsupported str method '" + name + "'");
}

bool IsStringMethod(const std::string& n) {
  static const char* kNames[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "upper",
                                 "lower", "title", "capitalize", "replace", "find", "rfind", "index", "rindex",
                                 "count", "join", "splitlines", "isdigit", "isalpha", "isalnum", "isspace",
                                 "islower", "isupper", "format", "zfill", "center", "ljust", "rjust", "encode",
                                 "casefold", "swapcase", "partition", "rpartition", "expandtabs", "isnumeric",
                                 "isdecimal", "istitle", "removeprefix", "removesuffix", "translate", "format_map"};
  for (const char* k : kNames)
    if (n == k) return true;
  return false;
}

bool IsUnsafeMethod(const Value& obj, const std::string& n) {
  static const char* kList[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
  static const char* kDict[] = {"pop", "popitem", "setdefault", "update", "clear"};
  if (obj.is_list() && !obj.list().is_tuple) {
    for (const char* k : kList)
      if (n == k) return true;
  }
  if (obj.is_dict()) {
    for (const char* k : kDict)
      if (n == k) return true;
  }
  return false;
}

Value ItemPairs(const Value& d, bool generator) {
  std::vector<Value> pairs;
  pairs.reserve(d.dict().items.size());
  for (const auto& [k, v] : d.dict().items) pairs.push_back(Value::List({Value::String(k), v}, true));
  return Value::List(std::move(pairs), false, generator);
}

}  // namespace

Value GetMethod(Interpreter& in, const Value& obj, const std::string& name, bool* found) {
  *found = false;
  if (IsUnsafeMethod(obj, name)) {
    *found = true;
    std::string msg = "access to attribute '" + name + "' of '" + obj.TypeName() + "' object is unsafe.";
    return Value::Function(name, [msg](Interpreter& i, CallArgs&) -> Value { i.Fail(ErrorKind::kSecurity, msg); });
  }
  if (obj.is_string() && IsStringMethod(name)) {
    *found = true;
    std::string s = obj.as_string();
    return Value::Function(name, [s, name](Interpreter& i, CallArgs& a) { return StringMethod(i, s, name, a); });
  }
  if (obj.is_dict() && (name == "get" || name == "items" || name == "keys" || name == "values" || name == "copy")) {
    *found = true;
    Value d = obj;
    return Value::Function(name, [d, name](Interpreter& i, CallArgs& a) -> Value {
      if (name == "get") {
        const Value* key = a.Get("key", 0);
        if (key == nullptr) i.Fail(ErrorKind::kType, "get expected at least 1 argument, got 0");
        const Value* v = key->is_string() ? d.dict().Find(key->as_string()) : nullptr;
        if (v) return *v;
        const Value* dflt = a.Get("default", 1);
        return dflt ? *dflt : Value::None();
      }
      if (name == "items") return ItemPairs(d, false);
      if (name == "copy") return d;
      std::vector<Value> out;
      for (const auto& [k, v] : d.dict().items) out.push_back(name == "keys" ? Value::String(k) : v);
      return Value::List(std::move(out));
    });
  }
  if (obj.is_list() && !obj.list().is_generator && (name == "index" || name == "count")) {
    *found = true;
    Value l = obj;
    return Value::Function(name, [l, name](Interpreter& i, CallArgs& a) -> Value {
      const Value* x = a.Get("value", 0);
      if (x == nullptr) i.Fail(ErrorKind::kType, name + "() takes exactly one argument (0 given)");
      int64_t n = 0;
      for (size_t k = 0; k < l.items().size(); ++k) {
        if (!ValueEquals(l.items()[k], *x)) continue;
        if (name == "index") return Value::Int(static_cast<int64_t>(k));
        ++n;
      }
      if (name == "index") i.Fail(ErrorKind::kType, x->Repr() + " is not in list");
      return Value::Int(n);
    });
  }
  return Value();
}

Value DictItemsGenerator(const Value& d) { return ItemPairs(d, true); }

namespace {

void CheckNamespaceKey(Interpreter& in, const std::string& k) {
  if (!k.empty() && k[0] == '_')
    in.Fail(ErrorKind::kSecurity, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" +
                                      k + "'. Please rename the attribute.");
}

DictData DictFromArgs(Interpreter& in, CallArgs& a) {
  DictData d;
  if (!a.positional.empty()) {
    const Value& src = a.positional[0];
    if (src.is_dict() || src.is_namespace()) {
      d = src.dict();
    } else {
      for (const Value& pair : in.Iterate(src)) {
        std::vector<Value> kv = in.Iterate(pair);
        if (kv.size() != 2 || !kv[0].is_string()) in.Fail(ErrorKind::kType, "dict() needs (str, value) pairs");
        d.Set(kv[0].as_string(), kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kwargs) d.Set(k, v);
  return d;
}

std::unordered_map<std::string, Value> MakeGlobals() {
  std::unordered_map<std::string, Value> g;
  g["raise_exception"] = Value::Function("raise_exception", [](Interpreter& in, CallArgs& a) -> Value {
    const Value* msg = a.Get("message", 0);
    in.Fail(ErrorKind::kRaised, msg ? msg->Str() : "");
  });
  g["strftime_now"] = Value::Function("strftime_now", [](Interpreter& in, CallArgs& a) -> Value {
    const Value* fmt = a.Get("format", 0);
    if (fmt == nullptr || !fmt->is_string()) in.Fail(ErrorKind::kType, "strftime_now() needs a format string");
    std::tm tm = in.Now();
    std::string buf(256 + fmt->as_string().size() * 8, '\0');
    size_t n = fmt->as_string().empty() ? 0 : std::strftime(buf.data(), buf.size(), fmt->as_string().c_str(), &tm);
    buf.resize(n);
    return Value::String(buf);
  });
  g["namespace"] = Value::Function("namespace", [](Interpreter& in, CallArgs& a) {
    DictData d = DictFromArgs(in, a);
    for (const auto& kv : d.items) CheckNamespaceKey(in, kv.first);
    return Value::Namespace(std::move(d));
  });
  g["dict"] = Value::Function("dict", [](Interpreter& in, CallArgs& a) { return Value::Dict(DictFromArgs(in, a)); });
  g["range"] = Value::Function("range", [](Interpreter& in, CallArgs& a) {
    int64_t start = 0, stop = 0, step = 1;
    for (const Value& v : a.positional)
      if (!v.is_int() && !v.is_bool()) in.Fail(ErrorKind::kType, "'" + v.TypeName() + "' object cannot be interpreted as an integer");
    if (a.positional.size() == 1) {
      stop = a.positional[0].as_int();
    } else if (a.positional.size() >= 2) {
      start = a.positional[0].as_int();
      stop = a.positional[1].as_int();
      if (a.positional.size() >= 3) step = a.positional[2].as_int();
    } else {
      in.Fail(ErrorKind::kType, "range expected at least 1 argument, got 0");
    }
    if (step == 0) in.Fail(ErrorKind::kType, "range() arg 3 must not be zero");
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= 100000) in.Fail(ErrorKind::kSecurity, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
      out.push_back(Value::Int(i));
    }
    return Value::List(std::move(out));
  });
  return g;
}

void JsonDump(Interpreter& in, const Value& v, bool ensure_ascii, const std::string* indent, const std::string& item_sep,
              const std::string& key_sep, bool sort_keys, int depth, std::string& out) {
  auto newline = [&](int d) {
    out.push_back('\n');
    for (int i = 0; i < d; ++i) out += *indent;
  };
  switch (v.kind()) {
    case ValueKind::kNone: out += "null"; return;
    case ValueKind::kBool: out += v.as_bool() ? "true" : "false"; return;
    case ValueKind::kInt: out += std::to_string(v.as_int()); return;
    case ValueKind::kFloat: {
      std::string r = py::FloatRepr(v.as_float());
      out += r == "nan" ? "NaN" : r == "inf" ? "Infinity" : r == "-inf" ? "-Infinity" : r;
      return;
    }
    case ValueKind::kString: out += py::JsonString(v.as_string(), ensure_ascii); return;
    case ValueKind::kList: {
      if (v.list().is_generator) break;
      if (v.items().empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) out += item_sep;
        if (indent) newline(depth + 1);
        JsonDump(in, v.items()[i], ensure_ascii, indent, item_sep, key_sep, sort_keys, depth + 1, out);
      }
      if (indent) newline(depth);
      out.push_back(']');
      return;
    }
    case ValueKind::kDict: {
      if (v.dict().items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& kv : v.dict().items) entries.push_back(&kv);
      if (sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](auto* x, auto* y) { return x->first < y->first; });
      out.push_back('{');
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += item_sep;
        if (indent) newline(depth + 1);
        out += py::JsonString(entries[i]->first, ensure_ascii);
        out += key_sep;
        JsonDump(in, entries[i]->second, ensure_ascii, indent, item_sep, key_sep, sort_keys, depth + 1, out);
      }
      if (indent) newline(depth);
      out.push_back('}');
      return;
    }
    default: break;
  }
  in.Fail(ErrorKind::kType, "Object of type " + v.TypeName() + " is not JSON serializable");
}

}  // namespace

const std::unordered_map<std::string, Value>& Globals() {
  static const std::unordered_map<std::string, Value> kGlobals = MakeGlobals();
  return kGlobals;
}

std::string ToJson(Interpreter& in, const Value& v, bool ensure_ascii, const Value& indent, const std::string& item_sep,
                   const std::string& key_sep, bool sort_keys) {
  std::string out;
  std::string indent_str;
  const std::string* ind = nullptr;
  if (indent.is_int()) {
    indent_str = std::string(std::max<int64_t>(0, indent.as_int()), ' ');
    ind = &indent_str;
  } else if (indent.is_string()) {
    indent_str = indent.as_string();
    ind = &indent_str;
  } else if (!indent.is_none() && !indent.is_undefined()) {
    in.Fail(ErrorKind::kType, "tojson indent must be an int or a str");
  }
  JsonDump(in, v, ensure_ascii, ind, item_sep, key_sep, sort_keys, 0, out);
  return out;
}

}  // namespace pagoda::chat
