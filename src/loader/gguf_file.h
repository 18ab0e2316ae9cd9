#pragma once
// GGUF v2/v3 files: metadata key/values and tensor infos, memory-mapped. Every
// length, count and byte range is checked against the file before use, so a
// corrupt or truncated file gives an error naming what is wrong, never a crash.
// Tensor names stay GGUF's own here (blk.0.attn_q.weight); gguf_weights.h maps
// them onto Hugging Face names.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "loader/mapped_file.h"
#include "loader/tensor_view.h"

namespace pagoda::loader {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// One metadata value. Scalars live in the first matching field; arrays keep
// their element type and fill exactly one of the vectors (integers and bools
// in ints, floats in floats, strings in strings).
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  GgufValueType elem_type = GgufValueType::kUint8;  // arrays only
  int64_t i = 0;       // all integer types and bool (uint64 above INT64_MAX is refused)
  double f = 0;        // float32/float64
  std::string s;       // string
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  bool is_array() const { return type == GgufValueType::kArray; }
};

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* Find(const std::string& key) const;

  // Typed getters: nullopt / nullptr when absent or of another type.
  std::optional<std::string> GetString(const std::string& key) const;
  std::optional<int64_t> GetInt(const std::string& key) const;  // any integer type or bool
  std::optional<double> GetFloat(const std::string& key) const;  // float or integer
  std::optional<bool> GetBool(const std::string& key) const;
  const std::vector<std::string>* GetStringArray(const std::string& key) const;
  const std::vector<int64_t>* GetIntArray(const std::string& key) const;
  const std::vector<double>* GetFloatArray(const std::string& key) const;

  // Tensors in file order, with GGUF names and HF-order shapes (ggml's ne reversed).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* FindTensor(const std::string& gguf_name) const;

 private:
  GgufFile() = default;
  std::unique_ptr<MappedFile> file_;
  std::string path_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace pagoda::loader
