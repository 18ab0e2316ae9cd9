#pragma once
// A tokenization model (HF "model"): turns one pre-token into ids. Const
// methods may be called from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pagoda::tokenizer {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Model {
 public:
  virtual ~Model() = default;
  virtual void Tokenize(std::string_view word, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  // nullptr for ids outside the vocabulary.
  virtual const std::string* IdToToken(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
};

}  // namespace pagoda::tokenizer
