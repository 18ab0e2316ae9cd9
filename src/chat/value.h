#pragma once
// Value: the data a chat template computes with. It models the Python objects Jinja
// sees when transformers renders a template (str, int, float, bool, None, list, tuple,
// dict with insertion order, jinja's Undefined and namespace, callables), so that
// printing, comparing and serialising give the same bytes as Python would.
//
// Lists and dicts are shared and never mutated after construction (the sandbox HF uses
// is immutable); a namespace is shared and mutable by design (`{% set ns.x = ... %}`).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace pagoda::chat {

class Value;
class Interpreter;

enum class ValueKind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable };

struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;
  // Jinja's map/select/... filters return generators: iterable once, but not
  // JSON-serialisable and without a length. Kept so that templates fail as in Python.
  bool is_generator = false;
};

struct DictData {
  std::vector<std::pair<std::string, Value>> items;  // insertion order, unique keys

  const Value* Find(std::string_view key) const;
  void Set(std::string key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> kwargs;

  // The keyword argument `name`, or else positional `index`, or nullptr.
  const Value* Get(std::string_view name, size_t index) const;
};

using NativeFunction = std::function<Value(Interpreter&, CallArgs&)>;

struct CallableData {
  std::string name;
  NativeFunction fn;
};

class Value {
 public:
  Value() = default;  // undefined
  static Value Undefined(std::string hint = "") {
    Value v;
    v.str_ = std::move(hint);
    return v;
  }
  static Value None() { return Value(ValueKind::kNone); }
  static Value Bool(bool b) {
    Value v(ValueKind::kBool);
    v.int_ = b ? 1 : 0;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(ValueKind::kInt);
    v.int_ = i;
    return v;
  }
  static Value Float(double f) {
    Value v(ValueKind::kFloat);
    v.float_ = f;
    return v;
  }
  static Value String(std::string s) {
    Value v(ValueKind::kString);
    v.str_ = std::move(s);
    return v;
  }
  // markupsafe.Markup: a str that `+` joins by HTML-escaping the plain operand.
  static Value Markup(std::string s) {
    Value v = String(std::move(s));
    v.int_ = 1;
    return v;
  }
  static Value List(std::vector<Value> items, bool is_tuple = false, bool is_generator = false);
  static Value Dict(DictData dict);
  static Value EmptyDict() { return Dict(DictData{}); }
  static Value Namespace(DictData attrs);
  static Value Function(std::string name, NativeFunction fn);
  static Value FromJson(const nlohmann::ordered_json& j);

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_bool() const { return kind_ == ValueKind::kBool; }
  bool is_int() const { return kind_ == ValueKind::kInt; }
  bool is_float() const { return kind_ == ValueKind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_markup() const { return kind_ == ValueKind::kString && int_ != 0; }
  bool is_list() const { return kind_ == ValueKind::kList; }
  bool is_dict() const { return kind_ == ValueKind::kDict; }
  bool is_namespace() const { return kind_ == ValueKind::kNamespace; }
  bool is_callable() const { return kind_ == ValueKind::kCallable; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // also for bool
  double as_float() const { return is_float() ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return str_; }
  const std::string& undefined_hint() const { return str_; }
  const ListData& list() const { return *list_; }
  const std::vector<Value>& items() const { return list_->items; }
  const DictData& dict() const { return *dict_; }
  DictData& mutable_namespace() const { return *dict_; }
  const CallableData& callable() const { return *fn_; }

  // Python semantics.
  bool Truthy() const;
  std::string Str() const;   // str(x), what {{ x }} prints
  std::string Repr() const;  // repr(x), used inside containers
  std::string TypeName() const;  // Python's type name: 'str', 'dict', 'NoneType' ...

 private:
  explicit Value(ValueKind kind) : kind_(kind) {}

  ValueKind kind_ = ValueKind::kUndefined;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  std::shared_ptr<ListData> list_;
  std::shared_ptr<DictData> dict_;  // dict or namespace
  std::shared_ptr<CallableData> fn_;
};

// Python ==, for every pair of values.
bool ValueEquals(const Value& a, const Value& b);

}  // namespace pagoda::chat
