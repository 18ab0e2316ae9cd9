#include "loader/gguf_file.h"

#include <cstring>
#include <limits>

namespace pagoda::loader {

namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxStringLen = 1u << 24;
constexpr uint64_t kMaxArrayLen = 1u << 28;

// A bounds-checked little-endian reader over the mapped bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

  Status Need(size_t n, const char* what) {
    if (n > remaining())
      return DataLoss(path_ + ": truncated at byte " + std::to_string(pos_) + " while reading " + what + " (needs " +
                      std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left)");
    return Status::Ok();
  }
  template <typename T>
  Result<T> Read(const char* what) {
    PAGODA_RETURN_IF_ERROR(Need(sizeof(T), what));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string> ReadString(const char* what) {
    PAGODA_ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>(what));
    if (len > kMaxStringLen) return DataLoss(path_ + ": string length " + std::to_string(len) + " at byte " + std::to_string(pos_ - 8) + " is implausible (" + what + ")");
    PAGODA_RETURN_IF_ERROR(Need(len, what));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

bool IsIntegerType(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8: case GgufValueType::kInt8: case GgufValueType::kUint16:
    case GgufValueType::kInt16: case GgufValueType::kUint32: case GgufValueType::kInt32:
    case GgufValueType::kUint64: case GgufValueType::kInt64: case GgufValueType::kBool: return true;
    default: return false;
  }
}

Result<GgufValue> ReadScalar(Reader& r, GgufValueType t, const std::string& key, const std::string& path) {
  GgufValue v;
  v.type = t;
  const char* what = "a metadata value";
  switch (t) {
    case GgufValueType::kUint8: { PAGODA_ASSIGN_OR_RETURN(uint8_t x, r.Read<uint8_t>(what)); v.i = x; break; }
    case GgufValueType::kInt8: { PAGODA_ASSIGN_OR_RETURN(int8_t x, r.Read<int8_t>(what)); v.i = x; break; }
    case GgufValueType::kUint16: { PAGODA_ASSIGN_OR_RETURN(uint16_t x, r.Read<uint16_t>(what)); v.i = x; break; }
    case GgufValueType::kInt16: { PAGODA_ASSIGN_OR_RETURN(int16_t x, r.Read<int16_t>(what)); v.i = x; break; }
    case GgufValueType::kUint32: { PAGODA_ASSIGN_OR_RETURN(uint32_t x, r.Read<uint32_t>(what)); v.i = x; break; }
    case GgufValueType::kInt32: { PAGODA_ASSIGN_OR_RETURN(int32_t x, r.Read<int32_t>(what)); v.i = x; break; }
    case GgufValueType::kUint64: {
      PAGODA_ASSIGN_OR_RETURN(uint64_t x, r.Read<uint64_t>(what));
      if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return DataLoss(path + ": metadata '" + key + "' holds uint64 " + std::to_string(x) + ", too large");
      v.i = static_cast<int64_t>(x);
      break;
    }
    case GgufValueType::kInt64: { PAGODA_ASSIGN_OR_RETURN(int64_t x, r.Read<int64_t>(what)); v.i = x; break; }
    case GgufValueType::kFloat32: { PAGODA_ASSIGN_OR_RETURN(float x, r.Read<float>(what)); v.f = x; break; }
    case GgufValueType::kFloat64: { PAGODA_ASSIGN_OR_RETURN(double x, r.Read<double>(what)); v.f = x; break; }
    case GgufValueType::kBool: {
      PAGODA_ASSIGN_OR_RETURN(uint8_t x, r.Read<uint8_t>(what));
      if (x > 1) return DataLoss(path + ": metadata '" + key + "' is a bool with value " + std::to_string(x));
      v.i = x;
      break;
    }
    case GgufValueType::kString: { PAGODA_ASSIGN_OR_RETURN(v.s, r.ReadString(what)); break; }
    default:
      return DataLoss(path + ": metadata '" + key + "' has unknown value type " + std::to_string(static_cast<uint32_t>(t)));
  }
  return v;
}

Result<GgufValue> ReadValue(Reader& r, GgufValueType t, const std::string& key, const std::string& path) {
  if (t != GgufValueType::kArray) return ReadScalar(r, t, key, path);
  GgufValue v;
  v.type = t;
  PAGODA_ASSIGN_OR_RETURN(uint32_t et, r.Read<uint32_t>("an array element type"));
  PAGODA_ASSIGN_OR_RETURN(uint64_t n, r.Read<uint64_t>("an array length"));
  v.elem_type = static_cast<GgufValueType>(et);
  if (v.elem_type == GgufValueType::kArray) return Unimplemented(path + ": metadata '" + key + "' is a nested array");
  if (n > kMaxArrayLen || n > r.remaining())
    return DataLoss(path + ": metadata '" + key + "' claims " + std::to_string(n) + " array elements, more than the file holds");
  for (uint64_t k = 0; k < n; ++k) {
    PAGODA_ASSIGN_OR_RETURN(GgufValue e, ReadScalar(r, v.elem_type, key, path));
    if (v.elem_type == GgufValueType::kString) v.strings.push_back(std::move(e.s));
    else if (IsIntegerType(v.elem_type)) v.ints.push_back(e.i);
    else v.floats.push_back(e.f);
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  PAGODA_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(path));
  auto g = std::unique_ptr<GgufFile>(new GgufFile());
  g->path_ = path;
  Reader r(mapped->data(), mapped->size(), path);
  PAGODA_ASSIGN_OR_RETURN(uint32_t magic, r.Read<uint32_t>("the magic number"));
  if (magic != kGgufMagic) return DataLoss(path + ": not a GGUF file (bad magic)");
  PAGODA_ASSIGN_OR_RETURN(g->version_, r.Read<uint32_t>("the version"));
  if (g->version_ != 2 && g->version_ != 3)
    return Unimplemented(path + ": GGUF version " + std::to_string(g->version_) + " is not supported (2 and 3 are)");
  PAGODA_ASSIGN_OR_RETURN(uint64_t n_tensors, r.Read<uint64_t>("the tensor count"));
  PAGODA_ASSIGN_OR_RETURN(uint64_t n_kv, r.Read<uint64_t>("the metadata count"));
  if (n_kv > r.remaining() / 13) return DataLoss(path + ": metadata count " + std::to_string(n_kv) + " exceeds what the file can hold");
  if (n_tensors > r.remaining() / 24) return DataLoss(path + ": tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");

  for (uint64_t k = 0; k < n_kv; ++k) {
    PAGODA_ASSIGN_OR_RETURN(std::string key, r.ReadString("a metadata key"));
    PAGODA_ASSIGN_OR_RETURN(uint32_t type, r.Read<uint32_t>("a metadata type"));
    PAGODA_ASSIGN_OR_RETURN(GgufValue v, ReadValue(r, static_cast<GgufValueType>(type), key, path));
    g->metadata_[key] = std::move(v);
  }

  uint64_t alignment = 32;
  if (auto a = g->GetInt("general.alignment")) {
    if (*a <= 0 || (*a & (*a - 1)) != 0) return DataLoss(path + ": general.alignment " + std::to_string(*a) + " is not a power of two");
    alignment = static_cast<uint64_t>(*a);
  }

  struct RawInfo {
    std::string name;
    std::vector<int64_t> ne;
    DType dtype;
    uint64_t offset;
  };
  std::vector<RawInfo> infos;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    RawInfo info;
    PAGODA_ASSIGN_OR_RETURN(info.name, r.ReadString("a tensor name"));
    PAGODA_ASSIGN_OR_RETURN(uint32_t n_dims, r.Read<uint32_t>("a tensor's dimension count"));
    if (n_dims == 0 || n_dims > 4) return DataLoss(path + ": tensor '" + info.name + "' has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    for (uint32_t d = 0; d < n_dims; ++d) {
      PAGODA_ASSIGN_OR_RETURN(uint64_t ne, r.Read<uint64_t>("a tensor dimension"));
      if (ne == 0 || ne > (1ull << 40)) return DataLoss(path + ": tensor '" + info.name + "' has dimension " + std::to_string(ne));
      info.ne.push_back(static_cast<int64_t>(ne));
    }
    PAGODA_ASSIGN_OR_RETURN(uint32_t type, r.Read<uint32_t>("a tensor type"));
    auto dt = DTypeFromGgml(type);
    if (!dt.ok()) return dt.status().WithContext(path + ": tensor '" + info.name + "'");
    info.dtype = *dt;
    PAGODA_ASSIGN_OR_RETURN(info.offset, r.Read<uint64_t>("a tensor offset"));
    infos.push_back(std::move(info));
  }
  uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  if (data_start > mapped->size()) return DataLoss(path + ": tensor data section starts past the end of the file (truncated)");
  const uint64_t data_size = mapped->size() - data_start;

  for (RawInfo& info : infos) {
    TensorView t;
    t.name = info.name;
    t.dtype = info.dtype;
    t.file = path;
    uint64_t numel = 1;
    for (int64_t ne : info.ne) {
      if (numel > (1ull << 48) / static_cast<uint64_t>(ne)) return DataLoss(path + ": tensor '" + info.name + "' is too large");
      numel *= static_cast<uint64_t>(ne);
    }
    const int64_t be = BlockElems(t.dtype);
    if (info.ne[0] % be != 0)
      return DataLoss(path + ": tensor '" + info.name + "' has row length " + std::to_string(info.ne[0]) + ", not a multiple of the " +
                      DTypeName(t.dtype) + " block size " + std::to_string(be));
    t.nbytes = numel / be * BlockBytes(t.dtype);
    if (info.offset % alignment != 0)
      return DataLoss(path + ": tensor '" + info.name + "' offset " + std::to_string(info.offset) + " is not aligned to " + std::to_string(alignment));
    if (info.offset > data_size || t.nbytes > data_size - info.offset)
      return DataLoss(path + ": tensor '" + info.name + "' bytes [" + std::to_string(info.offset) + ", " +
                      std::to_string(info.offset + t.nbytes) + ") lie outside the data section of " + std::to_string(data_size) +
                      " bytes (file truncated?)");
    t.data = mapped->data() + data_start + info.offset;
    t.shape.assign(info.ne.rbegin(), info.ne.rend());
    if (!g->tensor_index_.emplace(t.name, g->tensors_.size()).second)
      return DataLoss(path + ": tensor '" + info.name + "' appears twice");
    g->tensors_.push_back(std::move(t));
  }
  g->file_ = std::move(mapped);
  return g;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

std::optional<std::string> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v || v->type != GgufValueType::kString) return std::nullopt;
  return v->s;
}

std::optional<int64_t> GgufFile::GetInt(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v || !IsIntegerType(v->type)) return std::nullopt;
  return v->i;
}

std::optional<double> GgufFile::GetFloat(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return std::nullopt;
  if (v->type == GgufValueType::kFloat32 || v->type == GgufValueType::kFloat64) return v->f;
  if (IsIntegerType(v->type)) return static_cast<double>(v->i);
  return std::nullopt;
}

std::optional<bool> GgufFile::GetBool(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v || v->type != GgufValueType::kBool) return std::nullopt;
  return v->i != 0;
}

const std::vector<std::string>* GgufFile::GetStringArray(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v || !v->is_array() || v->elem_type != GgufValueType::kString) return nullptr;
  return &v->strings;
}

const std::vector<int64_t>* GgufFile::GetIntArray(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v || !v->is_array() || !IsIntegerType(v->elem_type)) return nullptr;
  return &v->ints;
}

const std::vector<double>* GgufFile::GetFloatArray(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v || !v->is_array() || (v->elem_type != GgufValueType::kFloat32 && v->elem_type != GgufValueType::kFloat64)) return nullptr;
  return &v->floats;
}

const TensorView* GgufFile::FindTensor(const std::string& gguf_name) const {
  auto it = tensor_index_.find(gguf_name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace pagoda::loader
