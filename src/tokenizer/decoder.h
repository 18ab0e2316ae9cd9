#pragma once
// Decoders (tokenizer.json "decoder"): ByteLevel, Metaspace, Replace,
// ByteFallback, Fuse, Strip, Sequence, BPEDecoder, WordPiece. Each step maps the
// list of token strings as HF's decode_chain does; the result is concatenated.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace pagoda::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void DecodeChain(std::vector<std::string>& tokens) const = 0;

  static Result<std::unique_ptr<Decoder>> FromJson(const nlohmann::json& j);
};

std::unique_ptr<Decoder> MakeByteLevelDecoder();
std::unique_ptr<Decoder> MakeSpmDecoder(bool strip_leading_space);  // Replace(▁), ByteFallback, Fuse[, Strip]

}  // namespace pagoda::tokenizer
