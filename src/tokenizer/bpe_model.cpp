#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <queue>

namespace pagoda::tokenizer {
namespace {

constexpr size_t kCacheCapacity = 1 << 16;
constexpr size_t kMaxCachedWordBytes = 64;

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  int32_t len;  // 0 once merged into its left neighbour
};

struct MergeCand {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  bool operator<(const MergeCand& o) const {  // priority_queue pops the "largest"
    if (rank != o.rank) return rank > o.rank;
    return pos > o.pos;
  }
};

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::Create(VocabMap vocab,
                                                   const std::vector<std::pair<std::string, std::string>>& merges,
                                                   BpeOptions options) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  int32_t max_id = -1;
  for (const auto& [tok, id] : vocab) {
    if (id < 0) return InvalidArgument("BPE vocab: negative id for '" + tok + "'");
    max_id = std::max(max_id, id);
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [tok, id] : vocab) m->id_to_token_[static_cast<size_t>(id)] = tok;
  m->vocab_ = std::move(vocab);
  m->options_ = std::move(options);
  const size_t prefix_len = m->options_.continuing_subword_prefix ? m->options_.continuing_subword_prefix->size() : 0;
  m->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = m->vocab_.find(a), ib = m->vocab_.find(b);
    if (ia == m->vocab_.end() || ib == m->vocab_.end()) {
      return InvalidArgument("BPE merge " + std::to_string(rank) + " ('" + a + "' '" + b + "') uses a token not in the vocab");
    }
    std::string merged = a + (b.size() >= prefix_len ? b.substr(prefix_len) : b);
    auto im = m->vocab_.find(merged);
    if (im == m->vocab_.end()) {
      return InvalidArgument("BPE merge " + std::to_string(rank) + ": result '" + merged + "' is not in the vocab");
    }
    // Like HF's HashMap collect: a repeated pair keeps the later rank.
    m->merges_[PairKey(ia->second, ib->second)] = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(im->second);
  }
  if (m->options_.unk_token) {
    auto it = m->vocab_.find(*m->options_.unk_token);
    if (it != m->vocab_.end()) m->unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = m->vocab_.find(std::string_view(name));
    m->byte_ids_[static_cast<size_t>(b)] = it == m->vocab_.end() ? -1 : it->second;
  }
  return m;
}

Result<std::unique_ptr<BpeModel>> BpeModel::FromJson(const nlohmann::json& j) {
  VocabMap vocab;
  const auto& jv = j.at("vocab");
  if (!jv.is_object()) return InvalidArgument("BPE model: vocab must be an object");
  vocab.reserve(jv.size());
  for (auto it = jv.begin(); it != jv.end(); ++it) vocab.emplace(it.key(), it.value().get<int32_t>());
  std::vector<std::pair<std::string, std::string>> merges;
  if (j.contains("merges") && !j.at("merges").is_null()) {
    const auto& jm = j.at("merges");
    merges.reserve(jm.size());
    for (const auto& m : jm) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        // HF splits "a b" on the first space after position 0.
        size_t sp = s.find(' ', 1);
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          return InvalidArgument("BPE merge '" + s + "' is not two space-separated tokens");
        }
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (m.is_array() && m.size() == 2) {
        merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        return InvalidArgument("BPE merge entry must be a string or a pair");
      }
    }
  }
  BpeOptions o;
  auto opt_str = [&](const char* key) -> std::optional<std::string> {
    if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
    return j.at(key).get<std::string>();
  };
  o.unk_token = opt_str("unk_token");
  o.continuing_subword_prefix = opt_str("continuing_subword_prefix");
  o.end_of_word_suffix = opt_str("end_of_word_suffix");
  auto opt_bool = [&](const char* key) { return j.contains(key) && j.at(key).is_boolean() && j.at(key).get<bool>(); };
  o.fuse_unk = opt_bool("fuse_unk");
  o.byte_fallback = opt_bool("byte_fallback");
  o.ignore_merges = opt_bool("ignore_merges");
  return Create(std::move(vocab), merges, std::move(o));
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  TokenizeUncached(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() < kCacheCapacity) {
      cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(before), out.end()));
    }
  }
}

void BpeModel::TokenizeUncached(std::string_view w, std::vector<int32_t>& out) const {
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  auto add = [&](int32_t id, int32_t len) {
    const int32_t idx = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, idx - 1, idx + 1, len});
  };
  bool has_unk = false;  // a pending unk (id, byte length)
  int32_t unk_id = 0, unk_len = 0;
  std::string buf;
  size_t i = 0;
  while (i < w.size()) {
    const size_t start = i;
    i += 1;
    while (i < w.size() && (static_cast<unsigned char>(w[i]) & 0xC0) == 0x80) ++i;
    const bool is_first = start == 0, is_last = i == w.size();
    std::string_view s = w.substr(start, i - start);
    const int32_t byte_len = static_cast<int32_t>(s.size());
    if ((!is_first && options_.continuing_subword_prefix && !options_.continuing_subword_prefix->empty()) ||
        (is_last && options_.end_of_word_suffix && !options_.end_of_word_suffix->empty())) {
      buf.clear();
      if (!is_first && options_.continuing_subword_prefix) buf += *options_.continuing_subword_prefix;
      buf += s;
      if (is_last && options_.end_of_word_suffix) buf += *options_.end_of_word_suffix;
      s = buf;
    }
    auto it = vocab_.find(s);
    if (it != vocab_.end()) {
      if (has_unk) {
        add(unk_id, unk_len);
        has_unk = false;
      }
      add(it->second, byte_len);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (unsigned char b : s) all = all && byte_ids_[b] >= 0;
      if (all) {
        // HF pushes the byte tokens without flushing a pending unk first.
        for (unsigned char b : s) add(byte_ids_[b], 1);
        continue;
      }
    }
    if (unk_id_) {
      if (has_unk && options_.fuse_unk) {
        unk_len += byte_len;
      } else {
        if (has_unk) add(unk_id, unk_len);
        has_unk = true;
        unk_id = *unk_id_;
        unk_len = byte_len;
      }
    }
  }
  if (has_unk) add(unk_id, unk_len);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  if (symbols.size() > 1 && !merges_.empty()) {
    thread_local std::vector<MergeCand> heap_storage;
    heap_storage.clear();
    std::priority_queue<MergeCand, std::vector<MergeCand>> queue(std::less<MergeCand>(), std::move(heap_storage));
    for (size_t k = 0; k + 1 < symbols.size(); ++k) {
      auto m = merges_.find(PairKey(symbols[k].id, symbols[k + 1].id));
      if (m != merges_.end()) {
        queue.push({static_cast<int32_t>(m->second >> 32), static_cast<int32_t>(k), static_cast<int32_t>(m->second & 0xFFFFFFFF)});
      }
    }
    while (!queue.empty()) {
      const MergeCand top = queue.top();
      queue.pop();
      Symbol& cur = symbols[static_cast<size_t>(top.pos)];
      if (cur.len == 0 || cur.next == -1) continue;
      const int32_t next_pos = cur.next;
      const Symbol right = symbols[static_cast<size_t>(next_pos)];
      auto m = merges_.find(PairKey(cur.id, right.id));
      if (m == merges_.end() || static_cast<int32_t>(m->second & 0xFFFFFFFF) != top.new_id) continue;
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      symbols[static_cast<size_t>(next_pos)].len = 0;
      if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
      if (cur.prev >= 0) {
        const Symbol& prev = symbols[static_cast<size_t>(cur.prev)];
        auto pm = merges_.find(PairKey(prev.id, cur.id));
        if (pm != merges_.end()) {
          queue.push({static_cast<int32_t>(pm->second >> 32), cur.prev, static_cast<int32_t>(pm->second & 0xFFFFFFFF)});
        }
      }
      if (cur.next >= 0) {
        const Symbol& nxt = symbols[static_cast<size_t>(cur.next)];
        auto nm = merges_.find(PairKey(cur.id, nxt.id));
        if (nm != merges_.end()) {
          queue.push({static_cast<int32_t>(nm->second >> 32), top.pos, static_cast<int32_t>(nm->second & 0xFFFFFFFF)});
        }
      }
    }
  }
  for (const auto& s : symbols) {
    if (s.len != 0) out.push_back(s.id);
  }
}

}  // namespace pagoda::tokenizer
