#include "tokenizer/unigram_model.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "tokenizer/utf8.h"

namespace pagoda::tokenizer {

Result<std::unique_ptr<UnigramModel>> UnigramModel::FromJson(const nlohmann::json& j) {
  std::unique_ptr<UnigramModel> m(new UnigramModel());
  const auto& vocab = j.at("vocab");
  m->trie_.emplace_back();
  double min_score = std::numeric_limits<double>::max();
  for (const auto& entry : vocab) {
    const int32_t id = static_cast<int32_t>(m->pieces_.size());
    std::string piece = entry.at(0).get<std::string>();
    const double score = entry.at(1).get<double>();
    min_score = std::min(min_score, score);
    m->vocab_.emplace(piece, id);
    int32_t node = 0;
    for (unsigned char c : piece) {
      int32_t next = -1;
      for (const auto& [b, child] : m->trie_[static_cast<size_t>(node)].children) {
        if (b == c) next = child;
      }
      if (next < 0) {
        next = static_cast<int32_t>(m->trie_.size());
        m->trie_[static_cast<size_t>(node)].children.push_back({c, next});
        m->trie_.emplace_back();
      }
      node = next;
    }
    m->trie_[static_cast<size_t>(node)].id = id;
    m->pieces_.push_back(std::move(piece));
    m->scores_.push_back(score);
  }
  if (j.contains("unk_id") && !j.at("unk_id").is_null()) m->unk_id_ = j.at("unk_id").get<int32_t>();
  m->unk_score_ = min_score - 10.0;
  m->byte_fallback_ = j.value("byte_fallback", false);
  return m;
}

std::optional<int32_t> UnigramModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* UnigramModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return nullptr;
  return &pieces_[static_cast<size_t>(id)];
}

void UnigramModel::Tokenize(std::string_view s, std::vector<int32_t>& out) const {
  if (s.empty()) return;
  struct Best {
    double score = 0;
    int64_t start = -1;
    int32_t id = -1;
  };
  std::vector<Best> best(s.size() + 1);
  best[0].start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t mblen = Utf8SeqLen(static_cast<unsigned char>(s[pos]));
    const double here = best[pos].score;
    bool has_single = false;
    int32_t node = 0;
    for (size_t i = pos; i < s.size(); ++i) {
      int32_t next = -1;
      for (const auto& [b, child] : trie_[static_cast<size_t>(node)].children) {
        if (b == static_cast<unsigned char>(s[i])) next = child;
      }
      if (next < 0) break;
      node = next;
      const int32_t id = trie_[static_cast<size_t>(node)].id;
      if (id < 0) continue;
      const size_t end = i + 1;
      const double cand = here + scores_[static_cast<size_t>(id)];
      if (best[end].start < 0 || cand > best[end].score) best[end] = {cand, static_cast<int64_t>(pos), id};
      if (end - pos == mblen) has_single = true;
    }
    if (!has_single) {
      const size_t end = std::min(s.size(), pos + mblen);
      const double cand = here + unk_score_;
      if (best[end].start < 0 || cand > best[end].score) best[end] = {cand, static_cast<int64_t>(pos), unk_id_};
    }
    pos += mblen;
  }
  // Backtrack into (piece, is_unk) segments, fusing consecutive unknowns.
  std::vector<std::pair<std::string_view, int32_t>> segs;
  size_t end = s.size();
  while (end > 0) {
    const Best& b = best[end];
    const size_t start = static_cast<size_t>(b.start);
    segs.emplace_back(s.substr(start, end - start), b.id);
    end = start;
  }
  std::reverse(segs.begin(), segs.end());
  std::vector<std::pair<std::string, int32_t>> fused;
  for (const auto& [piece, id] : segs) {
    const bool unk = id == unk_id_;
    if (unk && !fused.empty() && fused.back().second == unk_id_) {
      fused.back().first += piece;
    } else {
      fused.emplace_back(std::string(piece), id);
    }
  }
  for (const auto& [piece, id] : fused) {
    if (auto it = vocab_.find(piece); it != vocab_.end()) {
      out.push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (unsigned char c : piece) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", c);
        auto it = vocab_.find(std::string_view(name));
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == piece.size()) {
        out.insert(out.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (unk_id_ >= 0) out.push_back(unk_id_);
  }
}

}  // namespace pagoda::tokenizer
