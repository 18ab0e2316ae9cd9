#include "loader/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

namespace pagoda::loader {

using nlohmann::json;

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string TensorView::ShapeString() const { return ShapeToString(shape); }

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  PAGODA_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(path));
  const size_t size = mapped->size();
  if (size < 8) return DataLoss(path + ": file is " + std::to_string(size) + " bytes, too short for a safetensors header");
  uint64_t header_len;
  std::memcpy(&header_len, mapped->data(), 8);
  if (header_len > size - 8) {
    return DataLoss(path + ": header length " + std::to_string(header_len) + " exceeds the file size " +
                    std::to_string(size) + " (truncated or not a safetensors file)");
  }
  if (header_len > 100'000'000) return DataLoss(path + ": header length " + std::to_string(header_len) + " is implausibly large");
  const char* hp = reinterpret_cast<const char*>(mapped->data() + 8);
  json header;
  try {
    header = json::parse(hp, hp + header_len);
  } catch (const json::exception& e) {
    return DataLoss(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) return DataLoss(path + ": header is not a JSON object");

  auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return DataLoss(path + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (m.value().is_string()) f->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return DataLoss(path + ": tensor '" + name + "': " + why); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      return bad("entry must have dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) return bad("dtype is not a string");
    const std::string dtype_str = v["dtype"].get<std::string>();
    const json& shape = v["shape"];
    const json& offs = v["data_offsets"];
    if (!shape.is_array()) return bad("shape is not an array");
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      return bad("data_offsets must be two non-negative integers");
    TensorView t;
    t.name = name;
    t.file = path;
    uint64_t numel = 1;
    for (const json& d : shape) {
      if (!d.is_number_unsigned()) return bad("shape has a non-integer or negative dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim / 8) return bad("shape overflows");
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    if (begin > end) return bad("data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
    if (end > data_size)
      return bad("byte range [" + std::to_string(begin) + ", " + std::to_string(end) + ") is outside the data section of " +
                 std::to_string(data_size) + " bytes (file truncated?)");
    auto dtype = DTypeFromSafetensors(dtype_str);
    uint64_t elem_bytes = 0;
    if (dtype.ok()) {
      t.dtype = *dtype;
      elem_bytes = static_cast<uint64_t>(BlockBytes(t.dtype));
    } else {
      // Non-weight dtypes (I64 buffers etc.) are legal in the file; refuse only if used.
      static const std::map<std::string, uint64_t> kOther = {{"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
                                                             {"I16", 2}, {"U16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1},
                                                             {"F8_E4M3", 1}, {"F8_E5M2", 1}};
      auto o = kOther.find(dtype_str);
      if (o == kOther.end()) return bad("unknown dtype '" + dtype_str + "'");
      continue;  // skipped: not a weight we can use
    }
    if (end - begin != numel * elem_bytes)
      return bad("byte range holds " + std::to_string(end - begin) + " bytes but dtype " + dtype_str + " x shape " +
                 t.ShapeString() + " needs " + std::to_string(numel * elem_bytes));
    t.data = mapped->data() + data_start + begin;
    t.nbytes = end - begin;
    ranges.emplace_back(begin, end);
    f->tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second)
      return DataLoss(path + ": tensor byte ranges overlap at offset " + std::to_string(ranges[i].first));
  }
  f->file_ = std::move(mapped);
  return f;
}

Result<std::unique_ptr<SafetensorsModel>> SafetensorsModel::OpenDirectory(const std::string& dir) {
  auto m = std::unique_ptr<SafetensorsModel>(new SafetensorsModel());
  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> shards;
  if (FileExists(index_path)) {
    PAGODA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(index_path));
    json idx;
    try {
      idx = json::parse(text);
    } catch (const json::exception& e) {
      return DataLoss(index_path + ": not valid JSON: " + e.what());
    }
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      return DataLoss(index_path + ": missing object 'weight_map'");
    std::set<std::string> seen;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) return DataLoss(index_path + ": weight_map['" + it.key() + "'] is not a file name");
      std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos) return DataLoss(index_path + ": shard name '" + shard + "' must be a plain file name");
      if (seen.insert(shard).second) shards.push_back(shard);
    }
    for (const std::string& s : shards) {
      PAGODA_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(dir + "/" + s));
      m->files_.push_back(std::move(f));
    }
    // Every tensor the index names must be in the shard it names.
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      bool found = false;
      for (size_t i = 0; i < shards.size(); ++i) {
        if (shards[i] == it.value().get<std::string>() && m->files_[i]->tensors().count(it.key())) found = true;
      }
      if (!found) return DataLoss(index_path + ": tensor '" + it.key() + "' is not in shard " + it.value().get<std::string>());
    }
  } else if (FileExists(single)) {
    PAGODA_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(single));
    m->files_.push_back(std::move(f));
  } else if (FileExists(dir + "/pytorch_model.bin") || FileExists(dir + "/pytorch_model.bin.index.json")) {
    return Unimplemented(dir + ": only pytorch_model.bin weights found. pagoda does not load PyTorch pickle files "
                         "(unpickling can run arbitrary code). Convert them once with transformers: "
                         "AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)");
  } else {
    return NotFound(dir + ": no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& f : m->files_) {
    for (const auto& [name, t] : f->tensors()) {
      if (!m->index_.emplace(name, &t).second) return DataLoss(dir + ": tensor '" + name + "' appears in more than one shard");
    }
  }
  return m;
}

const TensorView* SafetensorsModel::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

}  // namespace pagoda::loader
