#pragma once
// Safetensors files (single and sharded), memory-mapped, every header field and
// byte range validated before any tensor is handed out.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "loader/mapped_file.h"
#include "loader/tensor_view.h"

namespace pagoda::loader {

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model directory: model.safetensors, or the shards listed in
// model.safetensors.index.json.
class SafetensorsModel {
 public:
  static Result<std::unique_ptr<SafetensorsModel>> OpenDirectory(const std::string& dir);

  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return index_; }
  // Metadata of the first file (e.g. HF's {"format": "pt"}).
  const std::map<std::string, std::string>& metadata() const { return files_.front()->metadata(); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

}  // namespace pagoda::loader
