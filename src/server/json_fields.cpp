#include "server/json_fields.h"

#include <cmath>

namespace pagoda::server {

const char* JsonTypeName(const nlohmann::ordered_json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

namespace {

std::string FormatNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

}  // namespace

bool JsonFields::Fail(std::string message, std::string param) {
  if (!error_) error_ = BadRequest(std::move(message), std::move(param));
  return false;
}

bool JsonFields::Has(const char* name) const { return Get(name) != nullptr; }

const nlohmann::ordered_json* JsonFields::Get(const char* name) const {
  auto it = obj_.find(name);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::Bool(const char* name, bool* out) {
  const auto* v = Get(name);
  if (!v) return ok();
  if (!v->is_boolean())
    return Fail(std::string("'") + name + "' must be a boolean, got " + JsonTypeName(*v), name);
  *out = v->get<bool>();
  return ok();
}

bool JsonFields::Int(const char* name, int64_t min, int64_t max, std::optional<int64_t>* out) {
  const auto* v = Get(name);
  if (!v) return ok();
  int64_t x = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return Fail(std::string("'") + name + "' is out of range", name);
    x = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
             std::fabs(v->get<double>()) < 9e15) {
    x = static_cast<int64_t>(v->get<double>());  // 2.0 is an integer in JSON Schema
  } else {
    return Fail(std::string("'") + name + "' must be an integer, got " + JsonTypeName(*v), name);
  }
  if (x < min || x > max)
    return Fail(std::string("'") + name + "' must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + std::to_string(x),
                name);
  *out = x;
  return ok();
}

bool JsonFields::Int(const char* name, int min, int max, int* out) {
  std::optional<int64_t> v;
  if (!Int(name, min, max, &v)) return false;
  if (v) *out = static_cast<int>(*v);
  return true;
}

bool JsonFields::Int(const char* name, int min, int max, std::optional<int>* out) {
  std::optional<int64_t> v;
  if (!Int(name, min, max, &v)) return false;
  if (v) *out = static_cast<int>(*v);
  return true;
}

bool JsonFields::Number(const char* name, double min, double max, double* out, bool open_min, bool open_max) {
  const auto* v = Get(name);
  if (!v) return ok();
  if (!v->is_number()) return Fail(std::string("'") + name + "' must be a number, got " + JsonTypeName(*v), name);
  const double x = v->get<double>();
  const bool below = open_min ? !(x > min) : !(x >= min);
  const bool above = open_max ? !(x < max) : !(x <= max);
  if (below || above) {
    std::string range = std::string(open_min ? "(" : "[") + FormatNumber(min) + ", " +
                        (std::isinf(max) ? "inf" : FormatNumber(max)) + (open_max || std::isinf(max) ? ")" : "]");
    return Fail(std::string("'") + name + "' must be in " + range + ", got " + FormatNumber(x), name);
  }
  *out = x;
  return ok();
}

bool JsonFields::String(const char* name, std::string* out) {
  const auto* v = Get(name);
  if (!v) return ok();
  if (!v->is_string()) return Fail(std::string("'") + name + "' must be a string, got " + JsonTypeName(*v), name);
  *out = v->get<std::string>();
  return ok();
}

bool JsonFields::IntList(const char* name, int64_t min, int64_t max, std::vector<int32_t>* out) {
  const auto* v = Get(name);
  if (!v) return ok();
  if (!v->is_array())
    return Fail(std::string("'") + name + "' must be a list of integers, got " + JsonTypeName(*v), name);
  std::vector<int32_t> ids;
  for (const auto& e : *v) {
    if (!e.is_number_integer())
      return Fail(std::string("'") + name + "' must be a list of integers, found " + JsonTypeName(e), name);
    const int64_t x = e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                                                                       : e.get<int64_t>();
    if (x < min || x > max)
      return Fail(std::string("'") + name + "' has " + std::to_string(x) + ", outside [" + std::to_string(min) + ", " +
                      std::to_string(max) + "]",
                  name);
    ids.push_back(static_cast<int32_t>(x));
  }
  *out = std::move(ids);
  return ok();
}

bool JsonFields::StringOrList(const char* name, std::vector<std::string>* out) {
  const auto* v = Get(name);
  if (!v) return ok();
  if (v->is_string()) {
    *out = {v->get<std::string>()};
    return ok();
  }
  if (!v->is_array())
    return Fail(std::string("'") + name + "' must be a string or a list of strings, got " + JsonTypeName(*v), name);
  std::vector<std::string> items;
  for (const auto& e : *v) {
    if (!e.is_string())
      return Fail(std::string("'") + name + "' must be a string or a list of strings, found " + JsonTypeName(e), name);
    items.push_back(e.get<std::string>());
  }
  *out = std::move(items);
  return ok();
}

bool JsonFields::Refuse(const char* name, const std::string& why) {
  if (!Has(name)) return ok();
  return Fail(std::string("'") + name + "' is not supported: " + why, name);
}

}  // namespace pagoda::server
