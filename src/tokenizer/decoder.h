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

// The token strings a decoder chain rewrites in place: the first size() of
// strs. The strings past size() stay (with their capacity) for the next
// decode, and scratch is a step's working string, so decoding similar text
// again allocates nothing (the incremental detokenizer keeps one per stream).
struct DecodeBuffer {
  std::vector<std::string> strs;
  size_t n = 0;
  std::string scratch;

  size_t size() const { return n; }
  std::string& operator[](size_t i) { return strs[i]; }
  const std::string& operator[](size_t i) const { return strs[i]; }
  void Clear() { n = 0; }
  void Truncate(size_t k) { n = k; }
  // A new last token, empty.
  std::string& Append() {
    if (n == strs.size()) strs.emplace_back();
    std::string& s = strs[n++];
    s.clear();
    return s;
  }
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void DecodeChain(DecodeBuffer& tokens) const = 0;

  static Result<std::unique_ptr<Decoder>> FromJson(const nlohmann::json& j);
};

std::unique_ptr<Decoder> MakeByteLevelDecoder();
std::unique_ptr<Decoder> MakeSpmDecoder(bool strip_leading_space);  // Replace(▁), ByteFallback, Fuse[, Strip]

}  // namespace pagoda::tokenizer
