#pragma once
// A 64-byte aligned, owned byte buffer (weights, KV storage, activations).

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace pagoda::backend {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { Resize(bytes); }
  void Resize(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    ptr_.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded)));
    size_ = bytes;
  }
  void Zero() { if (ptr_) std::memset(ptr_.get(), 0, size_); }
  std::byte* data() { return ptr_.get(); }
  const std::byte* data() const { return ptr_.get(); }
  template <typename T> T* as() { return reinterpret_cast<T*>(ptr_.get()); }
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(ptr_.get()); }
  size_t size() const { return size_; }

 private:
  struct Free { void operator()(std::byte* p) const { std::free(p); } };
  std::unique_ptr<std::byte, Free> ptr_;
  size_t size_ = 0;
};

}  // namespace pagoda::backend
