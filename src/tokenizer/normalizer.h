#pragma once
// Normalizers from tokenizer.json ("normalizer"): Sequence, NFC, NFD, NFKC, NFKD,
// Lowercase, Prepend, Replace, Strip, StripAccents, BertNormalizer.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace pagoda::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Normalize(std::string& s) const = 0;

  // null json -> nullptr (no normalizer).
  static Result<std::unique_ptr<Normalizer>> FromJson(const nlohmann::json& j);
};

}  // namespace pagoda::tokenizer
