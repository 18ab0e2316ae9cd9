#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {
namespace {

char32_t LastCodePoint(std::string_view s) {
  if (s.empty()) return 0;
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return NextCodePoint(s, start);
}

bool IsWordCharacter(char32_t c) { return c == '_' || IsAlphanumeric(c); }

// Byte offset where the trailing whitespace run of s begins.
size_t LeftmostSpaceAtEnd(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!IsWhitespace(NextCodePoint(s, i))) break;
    end = start;
  }
  return end;
}

// Byte length of the leading whitespace run of s.
size_t RightmostSpaceAtStart(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (!IsWhitespace(NextCodePoint(s, j))) break;
    i = j;
  }
  return i;
}

}  // namespace

void AddedVocabulary::Add(AddedToken token) {
  if (token.content.empty() || by_content_.count(token.content)) return;
  by_content_[token.content] = tokens_.size();
  by_id_.emplace(token.id, tokens_.size());
  max_id_ = std::max(max_id_, token.id);
  tokens_.push_back(std::move(token));
}

void AddedVocabulary::Insert(Trie& trie, const std::string& s, int32_t token_index) {
  if (s.empty()) return;
  if (trie.nodes.empty()) trie.nodes.emplace_back();
  trie.first[static_cast<unsigned char>(s[0])] = true;
  int32_t node = 0;
  for (unsigned char c : s) {
    int32_t next = -1;
    for (const auto& [b, child] : trie.nodes[static_cast<size_t>(node)].children) {
      if (b == c) {
        next = child;
        break;
      }
    }
    if (next < 0) {
      next = static_cast<int32_t>(trie.nodes.size());
      trie.nodes[static_cast<size_t>(node)].children.push_back({c, next});
      trie.nodes.emplace_back();
    }
    node = next;
  }
  trie.nodes[static_cast<size_t>(node)].token = token_index;
}

void AddedVocabulary::Build(const Normalizer* normalizer) {
  raw_trie_ = Trie();
  normalized_trie_ = Trie();
  raw_trie_.nodes.emplace_back();
  normalized_trie_.nodes.emplace_back();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (!t.normalized) {
      Insert(raw_trie_, t.content, static_cast<int32_t>(i));
      continue;
    }
    std::string pattern = t.content;
    if (normalizer != nullptr) normalizer->Normalize(pattern);
    Insert(normalized_trie_, pattern, static_cast<int32_t>(i));
  }
}

int32_t AddedVocabulary::LongestAt(const Trie& trie, std::string_view s, size_t pos, size_t& end) const {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    int32_t next = -1;
    for (const auto& [b, child] : trie.nodes[static_cast<size_t>(node)].children) {
      if (b == c) {
        next = child;
        break;
      }
    }
    if (next < 0) break;
    node = next;
    if (trie.nodes[static_cast<size_t>(node)].token >= 0) {
      best = trie.nodes[static_cast<size_t>(node)].token;
      end = i + 1;
    }
  }
  return best;
}

void AddedVocabulary::SplitOne(const Trie& trie, Piece& piece, Pieces& out) const {
  const std::string_view s = piece.text;
  size_t start_offset = 0;  // end of the previous match (HF start_offset)
  size_t pos = 0;
  auto emit_text = [&](size_t b, size_t e) {
    if (e <= b) return;
    Piece p;
    p.text = std::string(s.substr(b, e - b));
    p.at_start = piece.at_start && b == 0;
    out.push_back(std::move(p));
  };
  while (pos < s.size()) {
    if (!trie.first[static_cast<unsigned char>(s[pos])]) {
      ++pos;
      continue;
    }
    size_t stop = 0;
    const int32_t t = LongestAt(trie, s, pos, stop);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[static_cast<size_t>(t)];
    size_t start = pos;
    pos = stop;  // the matcher moves past this match whether or not it is kept
    if (tok.single_word) {
      const bool start_ok = start == 0 || !IsWordCharacter(LastCodePoint(s.substr(0, start)));
      size_t k = stop;
      const bool stop_ok = stop == s.size() || !IsWordCharacter(NextCodePoint(s, k));
      if (!start_ok || !stop_ok) continue;
    }
    if (tok.lstrip) start = std::max(LeftmostSpaceAtEnd(s.substr(0, start)), start_offset);
    if (tok.rstrip) stop += RightmostSpaceAtStart(s.substr(stop));
    emit_text(start_offset, start);
    Piece p;
    p.text = tok.content;
    p.token_id = tok.id;
    out.push_back(std::move(p));
    start_offset = stop;
    pos = stop;
  }
  emit_text(start_offset, s.size());
}

void AddedVocabulary::Split(Pieces& pieces, bool want_normalized) const {
  const Trie& trie = want_normalized ? normalized_trie_ : raw_trie_;
  if (trie.empty()) return;
  Pieces out;
  out.reserve(pieces.size());
  for (auto& p : pieces) {
    if (p.token_id >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    SplitOne(trie, p, out);
  }
  pieces = std::move(out);
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::FindByContent(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace pagoda::tokenizer
