#pragma once
// Post-processors (tokenizer.json "post_processor"): TemplateProcessing,
// ByteLevel (offsets only: ids unchanged), RobertaProcessing, BertProcessing,
// Sequence. Only single sequences are supported (no pairs).

#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace pagoda::tokenizer {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Called only when add_special_tokens is true.
  virtual void Process(std::vector<int32_t>& ids) const = 0;

  static Result<std::unique_ptr<PostProcessor>> FromJson(const nlohmann::json& j);
};

// "prefix $A suffix" as a template: the special ids before and after the sequence.
std::unique_ptr<PostProcessor> MakeTemplate(std::vector<int32_t> prefix, std::vector<int32_t> suffix);

}  // namespace pagoda::tokenizer
