#include "server/auth.h"

#include <algorithm>
#include <cctype>

namespace pagoda::server {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer length so a short guess costs as long as a long one.
  const size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool ApiKeyAuth::Check(const std::string* header) const {
  if (keys_.empty()) return true;
  if (!header) return false;
  std::string_view h = *header;
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() < kBearer.size()) return false;
  // The scheme is case-insensitive (RFC 9110).
  for (size_t i = 0; i < kBearer.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != std::tolower(static_cast<unsigned char>(kBearer[i])))
      return false;
  const std::string_view key = h.substr(kBearer.size());
  bool ok = false;
  for (const auto& k : keys_) ok = ConstantTimeEquals(key, k) || ok;  // every key, no short circuit before it
  return ok;
}

}  // namespace pagoda::server
