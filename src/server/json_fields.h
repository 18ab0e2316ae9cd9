#pragma once
// JsonFields: typed, range-checked reads of a request body's fields, each
// failure an ApiError naming the field. A JSON null counts as absent (the
// OpenAI clients send null for "not given" in places). Any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace pagoda::server {

class JsonFields {
 public:
  explicit JsonFields(const nlohmann::ordered_json& object) : obj_(object) {}

  // Present and not null.
  bool Has(const char* name) const;
  const nlohmann::ordered_json* Get(const char* name) const;

  // Each returns false after recording the first error (see error()); leaves
  // *out alone when the field is absent.
  bool Bool(const char* name, bool* out);
  bool Int(const char* name, int64_t min, int64_t max, std::optional<int64_t>* out);
  bool Int(const char* name, int min, int max, int* out);
  bool Int(const char* name, int min, int max, std::optional<int>* out);
  // Bounds inclusive unless open_min/open_max.
  bool Number(const char* name, double min, double max, double* out, bool open_min = false, bool open_max = false);
  bool String(const char* name, std::string* out);
  bool IntList(const char* name, int64_t min, int64_t max, std::vector<int32_t>* out);
  // A string or a list of strings.
  bool StringOrList(const char* name, std::vector<std::string>* out);
  // Refuses the field when present (it would change the output and is not supported).
  bool Refuse(const char* name, const std::string& why);

  bool ok() const { return !error_.has_value(); }
  const std::optional<ApiError>& error() const { return error_; }
  bool Fail(std::string message, std::string param);

 private:
  const nlohmann::ordered_json& obj_;
  std::optional<ApiError> error_;
};

// "string", "integer", "number", "boolean", "array", "object", "null".
const char* JsonTypeName(const nlohmann::ordered_json& v);

}  // namespace pagoda::server
