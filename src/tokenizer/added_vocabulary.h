#pragma once
// Added tokens (tokenizer.json "added_tokens" plus tokenizer_config extras),
// matched in the text before the model runs, leftmost-longest, as HF's
// AddedVocabulary: tokens with normalized=false on the raw text, the others on
// the normalized text. Honors lstrip / rstrip / single_word.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/model.h"
#include "tokenizer/piece.h"

namespace pagoda::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

class AddedVocabulary {
 public:
  // Adds or, when content is already present, keeps the existing entry.
  void Add(AddedToken token);
  // Must be called after the last Add and before splitting. Tokens with
  // normalized=true are matched by their normalized form (as HF does).
  void Build(const class Normalizer* normalizer);

  // Splits untokenized pieces on the tokens with normalized == want_normalized.
  void Split(Pieces& pieces, bool want_normalized) const;

  const AddedToken* FindById(int32_t id) const;
  const AddedToken* FindByContent(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  int32_t max_id() const { return max_id_; }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;
    int32_t token = -1;  // index into tokens_
  };
  struct Trie {
    std::vector<Node> nodes;
    std::array<bool, 256> first{};
    bool empty() const { return nodes.size() <= 1; }
  };
  void Insert(Trie& trie, const std::string& pattern, int32_t token_index);
  // Longest match starting at pos: token index and end, or -1.
  int32_t LongestAt(const Trie& trie, std::string_view s, size_t pos, size_t& end) const;
  void SplitOne(const Trie& trie, Piece& piece, Pieces& out) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
  Trie raw_trie_, normalized_trie_;
  int32_t max_id_ = -1;
};

}  // namespace pagoda::tokenizer
