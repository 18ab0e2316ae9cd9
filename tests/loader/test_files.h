#pragma once
// Helpers that write small safetensors / GGUF files for loader tests.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace pagoda::loader::testing {

inline std::string TempDir() {
  char tmpl[] = "/tmp/pagoda_test_XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "/tmp";
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file from a header JSON string and a data section.
inline std::string Safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

inline std::string Floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// Minimal GGUF writer.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) { U32(0x46554747); U32(version); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void F32(float v) { Raw(&v, 4); }
  void Str(const std::string& s) { U64(s.size()); body_ += s; }
  void Raw(const void* p, size_t n) { body_.append(static_cast<const char*>(p), n); }
  void Counts(uint64_t tensors, uint64_t kvs) { U64(tensors); U64(kvs); }
  void KvU32(const std::string& k, uint32_t v) { Str(k); U32(4); U32(v); }
  void KvF32(const std::string& k, float v) { Str(k); U32(6); F32(v); }
  void KvStr(const std::string& k, const std::string& v) { Str(k); U32(8); Str(v); }
  void TensorInfo(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    Str(name);
    U32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) U64(d);
    U32(type);
    U64(offset);
  }
  void AlignTo(size_t a) { while (body_.size() % a) body_ += '\0'; }
  std::string& bytes() { return body_; }

 private:
  std::string body_;
};

}  // namespace pagoda::loader::testing
