#include "sample/beam_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pagoda::sample {
namespace {

constexpr float kImpossible = -1.0e9f;  // HF's mark for a beam or slot that must not win

// HF: scores / (length ** length_penalty), the divisor a Python float.
float Penalized(float score, int length, double length_penalty) {
  return score / static_cast<float>(std::pow(static_cast<double>(length), length_penalty));
}

// Indices of the k largest values, best first; ties keep the lower index first.
std::vector<int> TopIndices(const std::vector<float>& v, int k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int>(k, static_cast<int>(v.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

}  // namespace

Status BeamSearchConfig::Validate() const {
  if (num_beams < 1) return InvalidArgument("num_beams must be at least 1, got " + std::to_string(num_beams));
  if (max_new_tokens < 1) return InvalidArgument("max_tokens must be at least 1 for beam search");
  return Status::Ok();
}

int BeamSearchConfig::candidates_per_beam() const {
  return std::max(2, 1 + static_cast<int>(eos_ids.size())) * num_beams;
}

BeamSearch::BeamSearch(const BeamSearchConfig& config)
    : config_(config),
      running_(config.num_beams),
      finished_(config.num_beams),
      finished_set_(config.num_beams, false) {
  // All beams start as the prompt; only the first may expand at step one.
  for (int b = 1; b < config_.num_beams; ++b) running_[b].score = kImpossible;
  for (Hypothesis& h : finished_) h.score = kImpossible;
}

std::vector<BeamChoice> BeamSearch::Step(std::span<const std::vector<TokenLogprob>> candidates) {
  if (done_) return {};
  const int k = config_.num_beams;
  const int keep = config_.candidates_per_beam();
  // 1. The best `keep` continuations over all beams by cumulative logprob.
  struct Cand {
    int parent;
    int32_t token;
    float score;
  };
  std::vector<Cand> all;
  for (size_t b = 0; b < candidates.size() && b < running_.size(); ++b)
    for (const TokenLogprob& t : candidates[b]) all.push_back({static_cast<int>(b), t.token, t.logprob + running_[b].score});
  std::sort(all.begin(), all.end(), [](const Cand& a, const Cand& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.parent != b.parent) return a.parent < b.parent;  // HF's flat index beam * vocab + token
    return a.token < b.token;
  });
  if (static_cast<int>(all.size()) > keep) all.resize(keep);
  const int n = static_cast<int>(all.size());

  // 2. Which continuations stop (eos or the length limit).
  std::vector<bool> hits(n);
  const bool at_limit = cur_len_ + 1 >= config_.max_new_tokens;
  for (int j = 0; j < n; ++j)
    hits[j] = at_limit || std::find(config_.eos_ids.begin(), config_.eos_ids.end(), all[j].token) != config_.eos_ids.end();

  // 3. The next running beams: the best continuations that did not stop.
  std::vector<float> running_scores(n);
  for (int j = 0; j < n; ++j) running_scores[j] = all[j].score + (hits[j] ? kImpossible : 0.0f);
  const std::vector<int> next = TopIndices(running_scores, k);

  // 4. Finished hypotheses: only the first num_beams continuations may finish.
  const bool all_full = std::all_of(finished_set_.begin(), finished_set_.end(), [](bool f) { return f; });
  std::vector<float> merged_scores;
  for (const Hypothesis& h : finished_) merged_scores.push_back(h.score);
  std::vector<bool> just_finished(n);
  for (int j = 0; j < n; ++j) {
    just_finished[j] = hits[j] && j < k;
    float s = Penalized(all[j].score, cur_len_ + 1, config_.length_penalty);
    if (all_full && config_.early_stopping == EarlyStopping::kTrue) s += kImpossible;
    if (!heuristic_unsatisfied_) s += kImpossible;
    if (!just_finished[j]) s += kImpossible;
    merged_scores.push_back(s);
  }
  const std::vector<int> best = TopIndices(merged_scores, k);
  std::vector<Hypothesis> finished(k);
  std::vector<bool> finished_set(k);
  for (int i = 0; i < k; ++i) {
    const int m = best[i];
    if (m < k) {
      finished[i] = finished_[m];
      finished_set[i] = finished_set_[m];
    } else {
      const Cand& c = all[m - k];
      finished[i].tokens = running_[c.parent].tokens;
      finished[i].tokens.push_back(c.token);
      finished[i].score = merged_scores[m];
      finished_set[i] = just_finished[m - k];
    }
  }
  finished_ = std::move(finished);
  finished_set_ = std::move(finished_set);

  std::vector<BeamChoice> choices(k);
  std::vector<Beam> running(k);
  for (int i = 0; i < k; ++i) {
    const Cand& c = all[next[i]];
    choices[i] = {c.parent, c.token};
    running[i].tokens = running_[c.parent].tokens;
    running[i].tokens.push_back(c.token);
    running[i].score = running_scores[next[i]];
  }
  running_ = std::move(running);
  ++cur_len_;

  // 5. Can a running beam still beat the worst finished one? (HF's heuristic.)
  const int hypothetical_len = config_.early_stopping == EarlyStopping::kNever && config_.length_penalty > 0
                                   ? config_.max_new_tokens
                                   : cur_len_;
  const float best_possible = Penalized(running_[0].score, hypothetical_len, config_.length_penalty);
  float worst = finished_[0].score;
  for (const Hypothesis& h : finished_) worst = std::min(worst, h.score);
  bool improvable = false;
  for (int i = 0; i < k; ++i) improvable = improvable || best_possible > (finished_set_[i] ? worst : kImpossible);
  heuristic_unsatisfied_ = heuristic_unsatisfied_ && improvable;

  // 6. Stop when nothing can improve, when every slot is finished under
  // early_stopping=true, or when every continuation stopped.
  const bool all_finished = std::all_of(finished_set_.begin(), finished_set_.end(), [](bool f) { return f; });
  const bool all_hit = std::all_of(hits.begin(), hits.end(), [](bool h) { return h; });
  done_ = !heuristic_unsatisfied_ || (all_finished && config_.early_stopping == EarlyStopping::kTrue) || all_hit;
  if (done_) return {};
  return choices;
}

std::vector<Hypothesis> BeamSearch::Finished() const {
  std::vector<Hypothesis> out;
  for (size_t i = 0; i < finished_.size(); ++i)
    if (finished_set_[i]) out.push_back(finished_[i]);
  return out;
}

}  // namespace pagoda::sample
