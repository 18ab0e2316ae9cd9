#pragma once
// Byte-pair encoding as HF tokenizers does it: merges applied by rank (lowest
// first, leftmost on ties), byte_fallback to <0xXX> pieces, unk fusing,
// ignore_merges, continuing_subword_prefix and end_of_word_suffix. A bounded
// per-model word cache (mutex-guarded) speeds up repeated words.

#include <array>
#include <memory>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tokenizer/model.h"

namespace pagoda::tokenizer {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::optional<std::string> continuing_subword_prefix;
  std::optional<std::string> end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel : public Model {
 public:
  // vocab: token -> id; merges: pairs in rank order.
  static Result<std::unique_ptr<BpeModel>> Create(VocabMap vocab,
                                                  const std::vector<std::pair<std::string, std::string>>& merges,
                                                  BpeOptions options);
  static Result<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& model);

  void Tokenize(std::string_view word, std::vector<int32_t>& out) const override;
  std::optional<int32_t> TokenToId(std::string_view token) const override;
  const std::string* IdToToken(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  BpeModel() = default;
  void TokenizeUncached(std::string_view word, std::vector<int32_t>& out) const;

  VocabMap vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, uint64_t> merges_;  // (left << 32 | right) -> (rank << 32 | new_id)
  BpeOptions options_;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_{};  // <0xXX> ids, -1 when absent

  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace pagoda::tokenizer
