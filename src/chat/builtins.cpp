// Jinja's built-in filters and tests (jinja2/filters.py, jinja2/tests.py), with
// transformers' tojson override.

#include <algorithm>
#include <cmath>

#include "chat/builtins.h"
#include "chat/interpreter.h"
#include "chat/py_string.h"

namespace pagoda::chat {

Value DictItemsGenerator(const Value& d);  // methods.cpp

namespace {

const Value* Arg(CallArgs& a, const char* name, size_t index) { return a.Get(name, index); }
bool BoolArg(CallArgs& a, const char* name, size_t index, bool dflt) {
  const Value* v = Arg(a, name, index);
  return v ? v->Truthy() : dflt;
}

size_t Len(Interpreter& in, const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return 0;
    case ValueKind::kString: return py::Length(v.as_string());
    case ValueKind::kList:
      if (!v.list().is_generator) return v.items().size();
      break;
    case ValueKind::kDict: return v.dict().items.size();
    default: break;
  }
  in.Fail(ErrorKind::kType, "object of type '" + v.TypeName() + "' has no len()");
}

// jinja's make_attrgetter: "a.b.0" walks items / attributes.
Value GetPath(Interpreter& in, const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = in.GetItem(cur, digits ? Value::Int(std::stoll(part)) : Value::String(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string SortKeyString(const Value& v, bool case_sensitive) {
  return case_sensitive ? v.as_string() : py::Lower(v.as_string());
}

bool LessForSort(Interpreter& in, const Value& a, const Value& b, bool case_sensitive) {
  if (a.is_string() && b.is_string() && !case_sensitive)
    return SortKeyString(a, false) < SortKeyString(b, false);
  return ValueLess(in, a, b);
}

}  // namespace

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

// Jinja's title filter: capitalises after -, whitespace and opening brackets.
std::string JinjaTitle(const std::string& s) {
  std::u32string u = py::Decode(s), out;
  bool word_start = true;
  for (char32_t c : u) {
    bool sep = c == '-' || py::IsSpace(c) || c == '(' || c == '{' || c == '[' || c == '<';
    std::string one = py::Encode(std::u32string(1, c));
    std::u32string mapped = py::Decode(sep ? one : word_start ? py::Upper(one) : py::Lower(one));
    out += mapped;
    word_start = sep;
  }
  return py::Encode(out);
}

std::string Indent(const std::string& text, const Value* width, bool first, bool blank) {
  std::string ind = width == nullptr ? "    " : width->is_string() ? width->as_string()
                                                                   : std::string(std::max<int64_t>(0, width->as_int()), ' ');
  // s += "\n"; then s.splitlines() (jinja 3.1 do_indent).
  std::string s = text + "\n";
  std::vector<std::string> lines;
  {
    std::u32string u = py::Decode(s);
    size_t start = 0;
    for (size_t i = 0; i < u.size(); ++i) {
      char32_t c = u[i];
      bool brk = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                 c == 0x2028 || c == 0x2029;
      if (!brk) continue;
      size_t end = i;
      if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ++i;
      lines.push_back(py::Encode(std::u32string_view(u).substr(start, end - start)));
      start = i + 1;
    }
    if (start < u.size()) lines.push_back(py::Encode(std::u32string_view(u).substr(start)));
  }
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += ind;
      rv += lines[i];
    }
  }
  if (first) rv = ind + rv;
  return rv;
}

Value ToInt(const Value& v, const Value& dflt, int base) {
  if (v.is_int() || v.is_bool()) return Value::Int(v.as_int());
  if (v.is_float()) return std::isfinite(v.as_float()) ? Value::Int(static_cast<int64_t>(v.as_float())) : dflt;
  if (v.is_string()) {
    std::string s = py::Strip(v.as_string(), true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (!s.empty()) {
      char* end = nullptr;
      long long r = std::strtoll(s.c_str(), &end, base);
      if (end && *end == '\0') return Value::Int(r);
      double d = std::strtod(s.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(d)) return Value::Int(static_cast<int64_t>(d));
    }
  }
  return dflt;
}

// select / reject / selectattr / rejectattr.
Value SelectOrReject(Interpreter& in, const Value& seq, CallArgs& a, bool select, bool by_attr) {
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (a.positional.empty() || !a.positional[0].is_string()) in.Fail(ErrorKind::kType, "selectattr needs an attribute name");
    attr = a.positional[0].as_string();
    next = 1;
  }
  std::string test;
  if (next < a.positional.size()) test = a.positional[next++].Str();
  CallArgs test_args;
  for (size_t i = next; i < a.positional.size(); ++i) test_args.positional.push_back(a.positional[i]);
  test_args.kwargs = a.kwargs;
  std::vector<Value> out;
  if (seq.Truthy() || seq.is_list()) {
    for (const Value& item : in.Iterate(seq)) {
      Value probe = by_attr ? GetPath(in, item, attr) : item;
      bool ok;
      if (test.empty()) {
        ok = probe.Truthy();
      } else {
        CallArgs copy = test_args;
        ok = in.ApplyTest(test, probe, copy);
      }
      if (ok == select) out.push_back(item);
    }
  }
  return Value::List(std::move(out), false, true);
}

Value MapFilter(Interpreter& in, const Value& seq, CallArgs& a) {
  std::vector<Value> out;
  const Value* attribute = nullptr;
  const Value* dflt = nullptr;
  for (const auto& [k, v] : a.kwargs) {
    if (k == "attribute") attribute = &v;
    if (k == "default") dflt = &v;
  }
  if (a.positional.empty() && attribute != nullptr) {
    for (const Value& item : in.Iterate(seq)) {
      Value v = GetPath(in, item, attribute->Str());
      out.push_back(v.is_undefined() && dflt ? *dflt : v);
    }
  } else {
    if (a.positional.empty()) in.Fail(ErrorKind::kType, "map requires a filter argument");
    std::string filter = a.positional[0].Str();
    for (const Value& item : in.Iterate(seq)) {
      CallArgs fargs;
      fargs.positional.assign(a.positional.begin() + 1, a.positional.end());
      fargs.kwargs = a.kwargs;
      out.push_back(in.ApplyFilter(filter, item, fargs));
    }
  }
  return Value::List(std::move(out), false, true);
}

Value FilterImpl(Interpreter& in, const std::string& name, const Value& v, CallArgs& a, bool* found) {
  *found = true;
  if (name == "tojson") {
    // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    bool ensure_ascii = BoolArg(a, "ensure_ascii", 0, false);
    const Value* indent = Arg(a, "indent", 1);
    const Value* seps = Arg(a, "separators", 2);
    bool sort_keys = BoolArg(a, "sort_keys", 3, false);
    Value ind = indent ? *indent : Value::None();
    bool has_indent = !ind.is_none();
    std::string item_sep = has_indent ? "," : ", ", key_sep = ": ";
    if (seps && !seps->is_none()) {
      std::vector<Value> parts = in.Iterate(*seps);
      if (parts.size() != 2) in.Fail(ErrorKind::kType, "tojson separators must be a pair");
      item_sep = parts[0].Str();
      key_sep = parts[1].Str();
    }
    return Value::String(ToJson(in, v, ensure_ascii, ind, item_sep, key_sep, sort_keys));
  }
  if (name == "trim") {
    const Value* chars = Arg(a, "chars", 0);
    std::string r = chars && !chars->is_none() ? py::StripChars(v.Str(), chars->Str(), true, true)
                                               : py::Strip(v.Str(), true, true);
    return v.is_markup() ? Value::Markup(std::move(r)) : Value::String(std::move(r));
  }
  if (name == "upper") return Value::String(py::Upper(v.Str()));
  if (name == "lower") return Value::String(py::Lower(v.Str()));
  if (name == "capitalize") return Value::String(py::Capitalize(v.Str()));
  if (name == "title") return Value::String(JinjaTitle(v.Str()));
  if (name == "length" || name == "count") return Value::Int(static_cast<int64_t>(Len(in, v)));
  if (name == "string") return v.is_string() ? v : Value::String(v.Str());
  if (name == "safe") return Value::Markup(v.Str());
  if (name == "e" || name == "escape" || name == "forceescape") {
    if (v.is_markup() && name != "forceescape") return v;
    return Value::Markup(HtmlEscape(v.Str()));
  }
  if (name == "default" || name == "d") {
    const Value* dflt = Arg(a, "default_value", 0);
    bool boolean = BoolArg(a, "boolean", 1, false);
    if (v.is_undefined() || (boolean && !v.Truthy())) return dflt ? *dflt : Value::String("");
    return v;
  }
  if (name == "join") {
    const Value* sep = Arg(a, "d", 0);
    const Value* attribute = Arg(a, "attribute", 1);
    std::string s = sep ? sep->Str() : "", out;
    bool first = true;
    for (const Value& item : in.Iterate(v)) {
      if (!first) out += s;
      first = false;
      out += attribute ? GetPath(in, item, attribute->Str()).Str() : item.Str();
    }
    return Value::String(std::move(out));
  }
  if (name == "first" || name == "last") {
    if (name == "last" && v.is_list() && v.list().is_generator)
      in.Fail(ErrorKind::kType, "'generator' object is not reversible");
    std::vector<Value> items = in.Iterate(v);
    if (items.empty()) return Value::Undefined(std::string("No ") + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value::List(in.Iterate(v));
  if (name == "items") {
    if (v.is_undefined()) return Value::List({}, false, true);
    if (!v.is_dict()) in.Fail(ErrorKind::kType, "Can only get item pairs from a mapping.");
    return DictItemsGenerator(v);
  }
  if (name == "map") return MapFilter(in, v, a);
  if (name == "select" || name == "reject") return SelectOrReject(in, v, a, name == "select", false);
  if (name == "selectattr" || name == "rejectattr") return SelectOrReject(in, v, a, name == "selectattr", true);
  if (name == "replace") {
    const Value* old = Arg(a, "old", 0);
    const Value* rep = Arg(a, "new", 1);
    const Value* count = Arg(a, "count", 2);
    if (!old || !rep) in.Fail(ErrorKind::kType, "replace needs old and new");
    int64_t n = count && !count->is_none() ? count->as_int() : -1;
    return Value::String(py::Replace(v.Str(), old->Str(), rep->Str(), n));
  }
  if (name == "int") {
    const Value* dflt = Arg(a, "default", 0);
    const Value* base = Arg(a, "base", 1);
    return ToInt(v, dflt ? *dflt : Value::Int(0), base ? static_cast<int>(base->as_int()) : 10);
  }
  if (name == "float") {
    const Value* dflt = Arg(a, "default", 0);
    if (v.is_number()) return Value::Float(v.as_float());
    if (v.is_string()) {
      std::string s = py::Strip(v.as_string(), true, true);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end && *end == '\0') return Value::Float(d);
    }
    return dflt ? *dflt : Value::Float(0.0);
  }
  if (name == "abs") {
    if (v.is_float()) return Value::Float(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) return Value::Int(std::llabs(v.as_int()));
    in.Fail(ErrorKind::kType, "bad operand type for abs(): '" + v.TypeName() + "'");
  }
  if (name == "indent") {
    const Value* width = Arg(a, "width", 0);
    return Value::String(Indent(v.Str(), width, BoolArg(a, "first", 1, false), BoolArg(a, "blank", 2, false)));
  }
  if (name == "unique") {
    bool cs = BoolArg(a, "case_sensitive", 0, false);
    const Value* attribute = Arg(a, "attribute", 1);
    std::vector<Value> out, seen;
    for (const Value& item : in.Iterate(v)) {
      Value key = attribute ? GetPath(in, item, attribute->Str()) : item;
      if (key.is_string() && !cs) key = Value::String(py::Lower(key.as_string()));
      bool dup = false;
      for (const Value& s : seen) dup = dup || ValueEquals(s, key);
      if (dup) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return Value::List(std::move(out), false, true);
  }
  if (name == "sort") {
    bool reverse = BoolArg(a, "reverse", 0, false), cs = BoolArg(a, "case_sensitive", 1, false);
    const Value* attribute = Arg(a, "attribute", 2);
    std::vector<Value> items = in.Iterate(v);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      Value kx = attribute ? GetPath(in, x, attribute->Str()) : x;
      Value ky = attribute ? GetPath(in, y, attribute->Str()) : y;
      return reverse ? LessForSort(in, ky, kx, cs) : LessForSort(in, kx, ky, cs);
    });
    return Value::List(std::move(items));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) in.Fail(ErrorKind::kType, "You can only sort by either \"key\" or \"value\"");
    bool cs = BoolArg(a, "case_sensitive", 0, false);
    const Value* by = Arg(a, "by", 1);
    bool by_value = by && by->Str() == "value";
    bool reverse = BoolArg(a, "reverse", 2, false);
    std::vector<Value> pairs = DictItemsGenerator(v).items();
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
      const Value& kx = x.items()[by_value ? 1 : 0];
      const Value& ky = y.items()[by_value ? 1 : 0];
      return reverse ? LessForSort(in, ky, kx, cs) : LessForSort(in, kx, ky, cs);
    });
    return Value::List(std::move(pairs));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::u32string u = py::Decode(v.as_string());
      std::reverse(u.begin(), u.end());
      return Value::String(py::Encode(u));
    }
    if (v.is_list() && v.list().is_generator) in.Fail(ErrorKind::kType, "argument to reversed() must be a sequence");
    std::vector<Value> items = in.Iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::List(std::move(items), false, true);
  }
  if (name == "sum") {
    const Value* attribute = Arg(a, "attribute", 0);
    const Value* start = Arg(a, "start", 1);
    Value total = start ? *start : Value::Int(0);
    for (const Value& item : in.Iterate(v)) {
      Value x = attribute ? GetPath(in, item, attribute->Str()) : item;
      if (!x.is_number() || !total.is_number()) in.Fail(ErrorKind::kType, "sum() of non-numbers is not supported");
      total = (x.is_float() || total.is_float()) ? Value::Float(total.as_float() + x.as_float())
                                                 : Value::Int(total.as_int() + x.as_int());
    }
    return total;
  }
  if (name == "min" || name == "max") {
    bool cs = BoolArg(a, "case_sensitive", 0, false);
    const Value* attribute = Arg(a, "attribute", 1);
    std::vector<Value> items = in.Iterate(v);
    if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
    Value best = items[0];
    for (size_t i = 1; i < items.size(); ++i) {
      Value kb = attribute ? GetPath(in, best, attribute->Str()) : best;
      Value ki = attribute ? GetPath(in, items[i], attribute->Str()) : items[i];
      if (name == "min" ? LessForSort(in, ki, kb, cs) : LessForSort(in, kb, ki, cs)) best = items[i];
    }
    return best;
  }
  if (name == "attr") {
    const Value* n = Arg(a, "name", 0);
    if (!n) in.Fail(ErrorKind::kType, "attr needs a name");
    // Python attributes only (methods here), never dict items: jinja's do_attr.
    bool has = false;
    Value m = GetMethod(in, v, n->Str(), &has);
    if (has) return m;
    return Value::Undefined("'" + v.TypeName() + " object' has no attribute '" + n->Str() + "'");
  }
  if (name == "round") {
    const Value* precision = Arg(a, "precision", 0);
    const Value* method = Arg(a, "method", 1);
    std::string m = method ? method->Str() : "common";
    double p = std::pow(10.0, precision ? precision->as_float() : 0.0);
    double x = v.as_float() * p;
    double r = m == "ceil" ? std::ceil(x) : m == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value::Float(r / p);
  }
  if (name == "wordcount") {
    return Value::Int(static_cast<int64_t>(py::Split(v.Str(), "", true, -1).size()));
  }
  *found = false;
  return Value();
}

bool TestImpl(Interpreter& in, const std::string& name, const Value& v, CallArgs& a, bool* found) {
  *found = true;
  auto other = [&]() -> const Value& {
    const Value* o = a.Get("other", 0);
    if (o == nullptr) o = a.Get("value", 0);
    if (o == nullptr) in.Fail(ErrorKind::kType, "test '" + name + "' needs an argument");
    return *o;
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return (v.is_list() && !v.list().is_generator) || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower") return v.is_string() && py::Lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && py::Upper(v.as_string()) == v.as_string();
  if (name == "odd" || name == "even") {
    if (!v.is_int() && !v.is_bool()) in.Fail(ErrorKind::kType, "odd/even needs an integer");
    bool odd = (v.as_int() % 2) != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "divisibleby") {
    const Value* n = a.Get("num", 0);
    if (!n || n->as_int() == 0) in.Fail(ErrorKind::kType, "divisibleby needs a non-zero number");
    return v.as_int() % n->as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return ValueEquals(v, other());
  if (name == "ne" || name == "!=") return !ValueEquals(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return ValueLess(in, v, other());
  if (name == "gt" || name == "greaterthan" || name == ">") return ValueLess(in, other(), v);
  if (name == "le" || name == "<=") return ValueLess(in, v, other()) || ValueEquals(v, other());
  if (name == "ge" || name == ">=") return ValueLess(in, other(), v) || ValueEquals(v, other());
  if (name == "sameas") {
    const Value& o = other();
    if (v.kind() != o.kind()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    return ValueEquals(v, o) && (v.is_bool() || v.is_int());
  }
  if (name == "in") {
    const Value* seq = a.Get("seq", 0);
    if (!seq) in.Fail(ErrorKind::kType, "test 'in' needs a sequence");
    if (seq->is_string()) return v.is_string() && seq->as_string().find(v.as_string()) != std::string::npos;
    if (seq->is_dict()) return v.is_string() && seq->dict().Find(v.as_string()) != nullptr;
    for (const Value& x : in.Iterate(*seq))
      if (ValueEquals(x, v)) return true;
    return false;
  }
  if (name == "filter" || name == "test") {
    const Value* n = a.Get("value", 0);
    return n && (name == "filter" ? IsKnownFilter(n->Str()) : IsKnownTest(n->Str()));
  }
  *found = false;
  return false;
}

}  // namespace

Value CallFilter(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args, bool* found) {
  return FilterImpl(in, name, subject, args, found);
}

bool CallTest(Interpreter& in, const std::string& name, const Value& subject, CallArgs& args, bool* found) {
  return TestImpl(in, name, subject, args, found);
}

namespace {
const char* const kFilters[] = {"tojson", "trim", "upper", "lower", "capitalize", "title", "length", "count",
                                "string", "safe", "e", "escape", "forceescape", "default", "d", "join", "first",
                                "last", "list", "items", "map", "select", "reject", "selectattr", "rejectattr",
                                "replace", "int", "float", "abs", "indent", "unique", "sort", "dictsort", "reverse",
                                "sum", "min", "max", "attr", "round", "wordcount"};
const char* const kTests[] = {"defined", "undefined", "none", "string", "mapping", "number", "integer", "float",
                                 "boolean", "true", "false", "iterable", "sequence", "callable", "escaped", "lower",
                                 "upper", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt",
                                 "lessthan", "<", "gt", "greaterthan", ">", "le", "<=", "ge", ">=", "sameas", "in", "filter", "test"};
}  // namespace

bool IsKnownFilter(std::string_view name) {
  for (const char* f : kFilters)
    if (name == f) return true;
  return false;
}

bool IsKnownTest(std::string_view name) {
  for (const char* t : kTests)
    if (name == t) return true;
  return false;
}

bool Interpreter::HasTest(const std::string& name) const { return IsKnownTest(name); }

}  // namespace pagoda::chat
