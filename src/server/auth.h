#pragma once
// ApiKeyAuth: checks "Authorization: Bearer <key>" against the configured keys
// in constant time (per key length class: every key is compared, byte by byte,
// with no early exit). No keys: everything is allowed. Any thread.

#include <string>
#include <string_view>
#include <vector>

namespace pagoda::server {

class ApiKeyAuth {
 public:
  explicit ApiKeyAuth(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  bool enabled() const { return !keys_.empty(); }
  // header: the Authorization header's value, or null when absent.
  bool Check(const std::string* header) const;

 private:
  std::vector<std::string> keys_;
};

// Compares a and b in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace pagoda::server
