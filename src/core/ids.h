#pragma once
// Strong integer ids of the core: a RequestId cannot be passed where a BlockId is
// expected. Plain values, hashable, ordered. Any thread may use them.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>

namespace pagoda::core {

// A token id from the tokenizer's vocabulary.
using TokenId = int32_t;

struct RequestId {
  uint64_t value = 0;

  constexpr RequestId() = default;
  constexpr explicit RequestId(uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(RequestId, RequestId) = default;
};

// Index of a KV-cache block in the pool; block 0 is the null block (never handed out).
struct BlockId {
  int32_t value = 0;

  constexpr BlockId() = default;
  constexpr explicit BlockId(int32_t v) : value(v) {}
  friend constexpr auto operator<=>(BlockId, BlockId) = default;
};

inline constexpr BlockId kNullBlockId{0};

inline std::ostream& operator<<(std::ostream& os, RequestId id) { return os << "req#" << id.value; }
inline std::ostream& operator<<(std::ostream& os, BlockId id) { return os << "blk#" << id.value; }

}  // namespace pagoda::core

template <>
struct std::hash<pagoda::core::RequestId> {
  size_t operator()(pagoda::core::RequestId id) const noexcept { return std::hash<uint64_t>()(id.value); }
};

template <>
struct std::hash<pagoda::core::BlockId> {
  size_t operator()(pagoda::core::BlockId id) const noexcept { return std::hash<int32_t>()(id.value); }
};
