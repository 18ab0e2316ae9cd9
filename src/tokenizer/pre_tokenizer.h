#pragma once
// Pre-tokenizers from tokenizer.json ("pre_tokenizer"): ByteLevel, Split,
// Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer,
// Sequence. Each one splits every untokenized piece further, as HF does.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/piece.h"

namespace pagoda::tokenizer {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Result<SplitBehavior> ParseSplitBehavior(const std::string& name);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void PreTokenize(Pieces& pieces) const = 0;

  // null json -> nullptr (no pre-tokenizer).
  static Result<std::unique_ptr<PreTokenizer>> FromJson(const nlohmann::json& j);
};

// Building blocks reused by the GGUF loader.
std::unique_ptr<PreTokenizer> MakeRegexSplit(std::unique_ptr<class Regex> re, SplitBehavior behavior, bool invert);
std::unique_ptr<PreTokenizer> MakeByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);
std::unique_ptr<PreTokenizer> MakeSequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps);

}  // namespace pagoda::tokenizer
