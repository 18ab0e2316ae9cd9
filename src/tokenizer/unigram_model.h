#pragma once
// Unigram (sentencepiece) model as HF tokenizers does it: Viterbi over piece
// scores, unknown characters scored min_score - 10 and fused, optional byte
// fallback for pieces not in the vocabulary.

#include <memory>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/model.h"

namespace pagoda::tokenizer {

class UnigramModel : public Model {
 public:
  static Result<std::unique_ptr<UnigramModel>> FromJson(const nlohmann::json& model);

  void Tokenize(std::string_view word, std::vector<int32_t>& out) const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  const std::string* IdToToken(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }

 private:
  UnigramModel() = default;
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;
    int32_t id = -1;
  };
  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  VocabMap vocab_;
  std::vector<Node> trie_;
  int32_t unk_id_ = -1;
  double unk_score_ = 0;
  bool byte_fallback_ = false;
};

}  // namespace pagoda::tokenizer
