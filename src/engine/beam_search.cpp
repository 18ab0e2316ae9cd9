#include "engine/beam_search.h"

#include <algorithm>
#include <cmath>

namespace pagoda::engine {

BeamSearch::BeamSearch(int num_beams, int max_new_tokens, double length_penalty, bool early_stopping, std::vector<int32_t> eos_ids)
    : k_(num_beams), max_new_tokens_(max_new_tokens), length_penalty_(length_penalty), early_stopping_(early_stopping),
      eos_(std::move(eos_ids)) {
  beams_to_keep_ = std::max(2, 1 + static_cast<int>(eos_.size())) * k_;
  running_.push_back(Beam{});
}

BeamSearch::Step BeamSearch::Advance(const std::vector<std::vector<BeamCandidate>>& top) {
  struct Cand {
    float score;  // accumulated, in float32 as HF's tensors are
    int beam;
    int32_t token;
    int order;    // beam-major candidate order, for deterministic ties
  };
  std::vector<Cand> cands;
  for (size_t b = 0; b < running_.size() && b < top.size(); ++b) {
    for (const BeamCandidate& c : top[b]) {
      cands.push_back({static_cast<float>(running_[b].score) + c.logprob, static_cast<int>(b), c.token, static_cast<int>(cands.size())});
    }
  }
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.score > b.score; });
  if (static_cast<int>(cands.size()) > beams_to_keep_) cands.resize(beams_to_keep_);

  const int gen_len = static_cast<int>(running_.front().tokens.size()) + 1;  // after this token
  const bool at_max = gen_len >= max_new_tokens_;
  auto is_eos = [&](int32_t t) { return std::find(eos_.begin(), eos_.end(), t) != eos_.end(); };

  // Finished: the ending candidates among the top k, if they can still improve the set.
  const bool full = static_cast<int>(finished_.size()) >= k_ && early_stopping_;
  if (improvement_possible_ && !full) {
    for (int r = 0; r < static_cast<int>(cands.size()) && r < k_; ++r) {
      const Cand& c = cands[r];
      if (!(is_eos(c.token) || at_max)) continue;
      Hypothesis h;
      h.tokens = running_[c.beam].tokens;
      h.tokens.push_back(c.token);
      h.score = static_cast<float>(c.score / std::pow(static_cast<float>(gen_len), static_cast<float>(length_penalty_)));
      h.ended_by_eos = is_eos(c.token);
      finished_.push_back(std::move(h));
    }
    std::stable_sort(finished_.begin(), finished_.end(), [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
    if (static_cast<int>(finished_.size()) > k_) finished_.resize(k_);
  }

  // Running: the best k candidates that do not end.
  Step step;
  std::vector<Beam> next;
  bool any_continues = false;
  for (const Cand& c : cands) {
    if (is_eos(c.token) || at_max) continue;
    any_continues = true;
    if (static_cast<int>(next.size()) == k_) break;
    Beam nb;
    nb.tokens = running_[c.beam].tokens;
    nb.tokens.push_back(c.token);
    nb.score = c.score;
    next.push_back(std::move(nb));
    step.parent.push_back(c.beam);
    step.token.push_back(c.token);
  }
  running_ = std::move(next);

  // Stopping: HF's early-stop heuristic (early_stopping=False: the best running
  // beam's score at the current length cannot beat the worst finished one).
  if (!running_.empty() && static_cast<int>(finished_.size()) >= k_) {
    const float best_possible = static_cast<float>(running_.front().score / std::pow(static_cast<float>(gen_len), static_cast<float>(length_penalty_)));
    const double worst = finished_.back().score;
    if (!(best_possible > worst)) improvement_possible_ = false;
  }
  const bool open = !(static_cast<int>(finished_.size()) >= k_ && early_stopping_);
  step.done = !improvement_possible_ || !open || !any_continues || running_.empty();
  return step;
}

}  // namespace pagoda::engine
