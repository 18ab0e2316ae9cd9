#pragma once
// BeamSearch: the scoring and bookkeeping of HF generate(num_beams=k) for one
// request (transformers 5.x `_beam_search`), without the model: each step the
// caller gives, for every running beam, its best candidate continuations
// (token, log-probability after the logits processors); BeamSearch returns the
// beams to run next (parent beam + token) and keeps the finished hypotheses,
// ranked by cumulative logprob / generated_length ** length_penalty.
// Scores are float, as HF keeps them, with HF's -1e9 "impossible" marks.
// HF's candidate logprobs are its logits processors applied to
// log_softmax(logits) (not log_softmax of processed logits); an engine that
// wants HF's beams with e.g. repetition_penalty must do the same.
// The engine owns the KV forks (one per returned beam). Engine thread only.

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "sample/sample_result.h"

namespace pagoda::sample {

// HF's early_stopping: false (heuristic), true (stop once num_beams hypotheses
// are finished), "never" (canonical beam search: stop only when no running
// beam can beat the finished ones, assuming the longest length if
// length_penalty > 0).
enum class EarlyStopping { kHeuristic, kTrue, kNever };

struct BeamSearchConfig {
  int num_beams = 1;
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  int max_new_tokens = 16;          // HF max_length - prompt length
  std::vector<int32_t> eos_ids;     // a candidate ending in one of these finishes
  Status Validate() const;
  // Candidates each running beam must supply per step: max(2, 1 + #eos) * num_beams.
  int candidates_per_beam() const;
};

struct Beam {
  std::vector<int32_t> tokens;  // generated so far
  float score = 0;              // cumulative logprob (-1e9 marks an unusable beam)
};

struct Hypothesis {
  std::vector<int32_t> tokens;  // generated tokens, eos included when it ended with one
  float score = 0;              // cumulative logprob / len ** length_penalty
};

// One beam of the next step: continue beam `parent` of the previous step with `token`.
struct BeamChoice {
  int parent = 0;
  int32_t token = 0;
};

class BeamSearch {
 public:
  explicit BeamSearch(const BeamSearchConfig& config);

  // candidates[b]: the best continuations of running beam b (at least
  // candidates_per_beam(), or the whole vocabulary if smaller; any order).
  // Returns the num_beams running beams for the next step; empty when done().
  std::vector<BeamChoice> Step(std::span<const std::vector<TokenLogprob>> candidates);

  bool done() const { return done_; }
  const std::vector<Beam>& running() const { return running_; }
  // The finished hypotheses, best first (num_beams slots; a slot that never
  // received a hypothesis is left out).
  std::vector<Hypothesis> Finished() const;

 private:
  BeamSearchConfig config_;
  int cur_len_ = 0;  // generated tokens so far
  bool done_ = false;
  bool heuristic_unsatisfied_ = true;
  std::vector<Beam> running_;
  std::vector<Hypothesis> finished_;       // num_beams slots, best first
  std::vector<bool> finished_set_;         // slot holds a real hypothesis
};

}  // namespace pagoda::sample
