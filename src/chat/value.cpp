#include "chat/value.h"

#include "chat/py_string.h"

namespace pagoda::chat {

const Value* DictData::Find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void DictData::Set(std::string key, Value value) {
  for (auto& [k, v] : items) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::Get(std::string_view name, size_t index) const {
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  if (index < positional.size()) return &positional[index];
  return nullptr;
}

Value Value::List(std::vector<Value> items, bool is_tuple, bool is_generator) {
  Value v(ValueKind::kList);
  v.list_ = std::make_shared<ListData>();
  v.list_->items = std::move(items);
  v.list_->is_tuple = is_tuple;
  v.list_->is_generator = is_generator;
  return v;
}

Value Value::Dict(DictData dict) {
  Value v(ValueKind::kDict);
  v.dict_ = std::make_shared<DictData>(std::move(dict));
  return v;
}

Value Value::Namespace(DictData attrs) {
  Value v(ValueKind::kNamespace);
  v.dict_ = std::make_shared<DictData>(std::move(attrs));
  return v;
}

Value Value::Function(std::string name, NativeFunction fn) {
  Value v(ValueKind::kCallable);
  v.fn_ = std::make_shared<CallableData>(CallableData{std::move(name), std::move(fn)});
  return v;
}

Value Value::FromJson(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return None();
    case nlohmann::ordered_json::value_t::boolean: return Bool(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: return Int(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float: return Float(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return String(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(FromJson(e));
      return List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      DictData d;
      d.items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(it.key(), FromJson(it.value()));
      return Dict(std::move(d));
    }
    default: return None();  // binary / discarded: not produced by JSON parsing
  }
}

bool Value::Truthy() const {
  switch (kind_) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return false;
    case ValueKind::kBool:
    case ValueKind::kInt: return int_ != 0;
    case ValueKind::kFloat: return float_ != 0.0;
    case ValueKind::kString: return !str_.empty();
    case ValueKind::kList: return list_->is_generator || !list_->items.empty();
    case ValueKind::kDict: return !dict_->items.empty();
    case ValueKind::kNamespace:
    case ValueKind::kCallable: return true;
  }
  return false;
}

std::string Value::TypeName() const {
  switch (kind_) {
    case ValueKind::kUndefined: return "Undefined";
    case ValueKind::kNone: return "NoneType";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kFloat: return "float";
    case ValueKind::kString: return "str";
    case ValueKind::kList: return list_->is_generator ? "generator" : list_->is_tuple ? "tuple" : "list";
    case ValueKind::kDict: return "dict";
    case ValueKind::kNamespace: return "Namespace";
    case ValueKind::kCallable: return "function";
  }
  return "object";
}

namespace {

std::string ContainerRepr(const Value& v) {
  if (v.is_list()) {
    const ListData& l = v.list();
    if (l.is_generator) return "<generator object at 0x0>";
    std::string out = l.is_tuple ? "(" : "[";
    for (size_t i = 0; i < l.items.size(); ++i) {
      if (i) out += ", ";
      out += l.items[i].Repr();
    }
    if (l.is_tuple && l.items.size() == 1) out += ",";
    out += l.is_tuple ? ")" : "]";
    return out;
  }
  std::string out = "{";
  bool first = true;
  for (const auto& [k, item] : v.dict().items) {
    if (!first) out += ", ";
    first = false;
    out += py::Repr(k) + ": " + item.Repr();
  }
  out += "}";
  return out;
}

}  // namespace

std::string Value::Str() const {
  switch (kind_) {
    case ValueKind::kUndefined: return "";
    case ValueKind::kNone: return "None";
    case ValueKind::kBool: return int_ ? "True" : "False";
    case ValueKind::kInt: return std::to_string(int_);
    case ValueKind::kFloat: return py::FloatRepr(float_);
    case ValueKind::kString: return str_;
    case ValueKind::kList:
    case ValueKind::kDict: return ContainerRepr(*this);
    case ValueKind::kNamespace: return "<Namespace " + ContainerRepr(Value::Dict(*dict_)) + ">";
    case ValueKind::kCallable: return "<function " + fn_->name + ">";
  }
  return "";
}

std::string Value::Repr() const {
  if (is_string()) return py::Repr(str_);
  if (is_undefined()) return "Undefined";
  return Str();
}

bool ValueEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return true;
    case ValueKind::kString: return a.as_string() == b.as_string();
    case ValueKind::kList: {
      if (a.list().is_tuple != b.list().is_tuple || a.items().size() != b.items().size()) return false;
      if (a.list().is_generator || b.list().is_generator) return &a.list() == &b.list();
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!ValueEquals(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case ValueKind::kDict: {
      if (a.dict().items.size() != b.dict().items.size()) return false;
      for (const auto& [k, v] : a.dict().items) {
        const Value* other = b.dict().Find(k);
        if (other == nullptr || !ValueEquals(v, *other)) return false;
      }
      return true;
    }
    case ValueKind::kNamespace: return &a.mutable_namespace() == &b.mutable_namespace();
    case ValueKind::kCallable: return &a.callable() == &b.callable();
    default: return false;
  }
}

}  // namespace pagoda::chat
