#pragma once
// ModelFiles: everything loaded from a model path, a Hugging Face directory
// (config.json + safetensors) or a GGUF file, presented the same way: a
// ModelConfig and tensors under Hugging Face names.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "loader/gguf_file.h"
#include "loader/model_config.h"
#include "loader/safetensors.h"

namespace pagoda::loader {

class ModelFiles {
 public:
  // path: a directory with config.json, a .gguf file, or a directory holding exactly one .gguf.
  static Result<std::unique_ptr<ModelFiles>> Open(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const std::optional<GenerationConfig>& generation_config() const { return generation_config_; }
  const std::string& path() const { return path_; }
  bool is_gguf() const { return gguf_ != nullptr; }
  const GgufFile* gguf() const { return gguf_.get(); }  // null for HF directories
  std::string format() const;                           // "safetensors" or "gguf"

  const TensorView* Find(const std::string& hf_name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return tensors_; }

 private:
  ModelFiles() = default;
  Status IndexGguf();

  std::string path_;
  ModelConfig config_;
  std::optional<GenerationConfig> generation_config_;
  std::unique_ptr<SafetensorsModel> safetensors_;
  std::unique_ptr<GgufFile> gguf_;
  std::vector<TensorView> gguf_views_;  // GGUF tensors renamed to HF names
  std::map<std::string, const TensorView*> tensors_;
};

// GGUF tensor name -> Hugging Face name for an architecture ("" when unknown).
std::string GgufToHfName(Architecture arch, const std::string& gguf_name);

}  // namespace pagoda::loader
